"""Routes for the transparency report (JSON, and HTML with inline SVG charts for the desk)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse, Response

from staydown.api.deps import NowDep, Principal, Reader, SettingsDep, require
from staydown.api.errors import ApiError
from staydown.reports import dsa_2835, service
from staydown.reports.queries import Period
from staydown.reports.render import to_html
from staydown.reports.schemas import TransparencyReport
from staydown.types import Role

router = APIRouter(prefix="/v1/reports", tags=["reports"])

Staff = Annotated[Principal, Depends(require(Role.agent, Role.legal))]
From = Annotated[str, Query(alias="from", description="YYYY-MM-DD or an ISO 8601 instant")]
To = Annotated[str, Query(alias="to", description="YYYY-MM-DD (that day included) or an instant (excluded)")]


def _period(start: str, end: str) -> Period:
    try:
        return service.parse_period(start, end)
    except service.ReportError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc


@router.get("/transparency", response_model=TransparencyReport)
def transparency(
    _who: Staff, session: Reader, now: NowDep, settings: SettingsDep, start: From, end: To
) -> TransparencyReport:
    """The transparency report of a period as JSON."""
    return service.transparency(session, _period(start, end), now=now, provider=settings.provider_name)


@router.get("/transparency.html", response_class=HTMLResponse)
def transparency_html(
    _who: Staff, session: Reader, now: NowDep, settings: SettingsDep, start: From, end: To
) -> HTMLResponse:
    """The same report as a self-contained HTML page with server-drawn SVG charts."""
    report = service.transparency(session, _period(start, end), now=now, provider=settings.provider_name)
    return HTMLResponse(to_html(report))


Part = Annotated[str, Path(pattern="^part-[0-9]+$", description=", ".join(dsa_2835.PARTS))]
Previous = Annotated[
    str | None, Query(description="publication date of the latest previous report (YYYY-MM-DD)")
]


@router.get(
    "/dsa-2835/{part}.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def dsa_2835_part(
    _who: Staff,
    session: Reader,
    now: NowDep,
    settings: SettingsDep,
    part: Part,
    start: From,
    end: To,
    previous: Previous = None,
) -> Response:
    """One CSV part of the DSA Art. 15 report in the templates of Implementing Regulation (EU)
    2024/2835 (Annex I): Part 1 (identification), 3 (orders of Member States' authorities), 4
    (notices), 5 (own-initiative stay-down), 6 (repeat-infringer policy), 7 (complaints), 8
    (automated means), 9 (human resources) or 11 (qualitative)."""
    if part not in dsa_2835.PARTS:
        raise ApiError(404, "not_found", f"this service fills {', '.join(dsa_2835.PARTS)}, not {part}")
    period = _period(start, end)
    try:
        day = service.parse_day(previous, name="previous") if previous else None
    except service.ReportError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    parts = service.dsa_2835_parts(session, period, now=now, settings=settings, previous=day)
    name = dsa_2835.PARTS[part]
    return Response(
        parts[name],
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
