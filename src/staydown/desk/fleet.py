"""The desk's view of the edge fleet: every edge's applied sequence, lag and state, alerts first.

An edge that is behind, silent or refused enforces a stale state; this page is where an agent sees
it (the same registry as ``GET /v1/edges`` and the ``staydown_edge_*`` metrics)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from staydown.desk.web import DeskRoute, Staff, csrf_protect, database_of, now_of, render, settings_of
from staydown.enforcement import service as enforcement
from staydown.i18n import _

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])


@router.get("/edges", include_in_schema=False)
def edges(request: Request, _who: Staff) -> Response:
    """Every edge worker the control plane has heard from, the troubled ones first."""
    settings = settings_of(request)
    with database_of(request).reader() as session:
        rows = enforcement.edge_health(
            session, now=now_of(request), alert_seconds=settings.edge_lag_alert_seconds
        )
    return render(
        request,
        "edges.html",
        {
            "edges": rows,
            "alerting": [edge for edge in rows if edge.alerting],
            "alert_seconds": settings.edge_lag_alert_seconds,
            "title": _("Edges"),
        },
    )
