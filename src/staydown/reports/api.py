"""Routes for the transparency report (JSON, and HTML with inline SVG charts for the desk)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from staydown.api.deps import NowDep, Principal, Reader, SettingsDep, require
from staydown.api.errors import ApiError
from staydown.reports import service
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
