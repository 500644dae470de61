"""The hash bank's hygiene for agents: entries paused for matching too many URLs (release or
remove them), works of different rightsholders holding the same image, and the allowlist.

Decisions call ``fingerprints.hygiene.decide_quarantine``, the function behind
``POST /v1/staydown/quarantines/{id}/decision``: the same feed records, dismissals and audit entries.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from staydown.desk import labels
from staydown.desk.service import DeskError
from staydown.desk.web import (
    PREFIX,
    DeskRoute,
    Staff,
    csrf_protect,
    database_of,
    now_of,
    redirect,
    render,
    settings_of,
)
from staydown.fingerprints import hygiene
from staydown.fingerprints.models import QuarantineStatus
from staydown.i18n import _
from staydown.works import service as works

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])


@router.get("/bank", include_in_schema=False)
def bank(request: Request, who: Staff) -> Response:
    settings = settings_of(request)
    with database_of(request).reader() as session:
        quarantines, waiting = hygiene.list_quarantines(session, status=QuarantineStatus.open, limit=200)
        conflicts = works.conflicts(session, radius=settings.staydown_auto_block_distance)
        allowed, allowed_total = hygiene.allowlist(session, limit=200)
    return render(
        request,
        "bank.html",
        {
            "quarantines": quarantines,
            "waiting": waiting,
            "conflicts": conflicts,
            "allowed": allowed,
            "allowed_total": allowed_total,
            "title": _("Hash bank"),
        },
    )


@router.post("/bank/quarantines/{quarantine_id}/decision", include_in_schema=False)
def decide(
    request: Request,
    quarantine_id: int,
    who: Staff,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Release or remove a quarantined entry, as the API does."""
    if decision not in ("release", "remove"):
        raise DeskError(422, _("choose to release the entry or to remove it"))
    reason = reason.strip()
    if len(reason) < 3:
        raise DeskError(422, _("give the reason for the decision (at least 3 characters)"))
    with database_of(request).writer() as session:
        view = hygiene.decide_quarantine(
            session,
            quarantine_id,
            decision="release" if decision == "release" else "remove",
            reason=reason[:5000],
            now=now_of(request),
            actor=who.actor,
            settings=settings_of(request),
        )
        session.commit()
        status = view.quarantine.status
    return redirect(
        request,
        f"{PREFIX}/bank",
        _("Bank entry %(id)s %(status)s.", id=view.entry.id, status=labels.LABELS[status.value]),
    )
