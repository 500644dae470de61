"""The transparency report in the desk: a page with the desk's navigation and a period to choose,
showing the report (drawn by ``reports``, charts included) and offering it as HTML, JSON and CSV.

The report's HTML is a self-contained document with its own styles and inline SVG, so the desk
shows it as it is drawn, in a frame of the same origin, rather than re-drawing it.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from staydown.desk import labels
from staydown.desk.service import DeskError
from staydown.desk.web import (
    DeskRoute,
    StaffOrLegal,
    csrf_protect,
    database_of,
    locale_of,
    now_of,
    render,
    settings_of,
)
from staydown.i18n import _
from staydown.reports import service as reports
from staydown.reports.queries import Period
from staydown.reports.render import render as render_report

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])

MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
}


def _period(request: Request, start: str, end: str) -> tuple[str, str, Period]:
    """The period asked for, this year so far unless given; 422 naming what is wrong."""
    now = now_of(request)
    start, end = start or f"{now.year}-01-01", end or now.date().isoformat()
    try:
        return start, end, reports.parse_period(start, end)
    except reports.ReportError as exc:
        raise DeskError(422, exc.message) from None


@router.get("/transparency", include_in_schema=False)
def transparency(
    request: Request,
    who: StaffOrLegal,
    start: Annotated[str, Query(alias="from")] = "",
    end: Annotated[str, Query(alias="to")] = "",
) -> Response:
    """The report of a period (this year so far unless one is chosen) with its charts."""
    start, end, _period_checked = _period(request, start, end)
    query = urlencode({"from": start, "to": end})
    return render(
        request,
        "transparency.html",
        {"start": start, "end": end, "query": query, "title": _("Transparency report")},
    )


@router.get("/transparency/report.{fmt}", include_in_schema=False)
def transparency_report(
    request: Request,
    fmt: str,
    who: StaffOrLegal,
    start: Annotated[str, Query(alias="from")] = "",
    end: Annotated[str, Query(alias="to")] = "",
) -> Response:
    """The report itself as HTML (shown in the page's frame), JSON or CSV."""
    if fmt not in MEDIA_TYPES:
        raise DeskError(
            404, _("the report comes as %(join)s, not %(fmt)r", join=", ".join(MEDIA_TYPES), fmt=fmt)
        )
    start, end, period = _period(request, start, end)
    settings = settings_of(request)
    with database_of(request).reader() as session:
        report = reports.transparency(session, period, now=now_of(request), provider=settings.provider_name)
    headers = {
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        # Its own styles and inline SVG, nothing else (no script, no request); framed only by the desk.
        "content-security-policy": (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
        ),
        "x-frame-options": "SAMEORIGIN",
    }
    if fmt != "html":
        headers["content-disposition"] = f'attachment; filename="transparency-{start}-{end}.{fmt}"'
    locale = locale_of(request)
    page = render_report(report, fmt, locale, lambda code: labels.label(code, locale))
    return Response(page, media_type=MEDIA_TYPES[fmt], headers=headers)
