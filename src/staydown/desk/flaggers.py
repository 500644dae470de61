"""The desk's list of trusted flaggers: each award a Digital Services Coordinator made (DSA Art. 22),
its areas, its standing now (awarded, suspended, revoked) and whether its notices get priority.
Admins record the awards and the coordinators' later decisions over the API."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from staydown.desk.web import DeskRoute, Staff, csrf_protect, database_of, now_of, render
from staydown.due_process import service as due_process
from staydown.i18n import _

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])


@router.get("/trusted-flaggers", include_in_schema=False)
def trusted_flaggers(request: Request, _who: Staff) -> Response:
    """Every award recorded, newest first."""
    now = now_of(request)
    with database_of(request).reader() as session:
        awards = [due_process.read_award(a, now=now) for a in due_process.list_awards(session)]
    return render(request, "trusted_flaggers.html", {"awards": awards, "title": _("Trusted flaggers")})
