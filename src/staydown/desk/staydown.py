"""Stay-down for agents: the matches edges reported, pending review first, each shown beside the
original it was matched to, with the PDQ distance and the confirm and dismiss decisions.

Decisions call ``fingerprints.service.decide_match``, the function behind
``POST /v1/staydown/matches/{id}/decision``: the same workflow (block a copy that was only in
review, strike as the policy says, or lift and exempt it), the same letters and audit entries.
Images are fetched by ``desk.images``: only from the zone's registered origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.desk import images, labels, queries
from staydown.desk.service import DeskError
from staydown.desk.web import (
    PREFIX,
    DeskRoute,
    Pager,
    Staff,
    StaffOrLegal,
    csrf_protect,
    database_of,
    guard_of,
    now_of,
    redirect,
    render,
    settings_of,
)
from staydown.fingerprints import service as fingerprints
from staydown.fingerprints.flows import TRANSITIONS, MatchEvent
from staydown.fingerprints.models import MatchStatus, StaydownMatch
from staydown.i18n import _
from staydown.urls import URLError, canonicalize_url
from staydown.works import service as works

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])

PER_PAGE = 25
# The list's order when no status is chosen: what waits for an agent comes first.
STATUS_ORDER = (MatchStatus.pending_review, MatchStatus.blocked, MatchStatus.confirmed, MatchStatus.dismissed)
_PLACEHOLDER = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="180" viewBox="0 0 240 180">'
    '<rect width="240" height="180" fill="#eee"/><text x="120" y="95" font-family="sans-serif" '
    'font-size="14" text-anchor="middle" fill="#444">no preview</text></svg>'
)


@dataclass(frozen=True, slots=True)
class Original:
    """What a copy was matched against: a noticed item (whose content the origin still serves to
    us), or a registered work (whose reference images are not stored, only fingerprinted)."""

    item_id: int | None
    notice_id: int | None
    url: str | None
    work_id: int | None
    work_description: str | None


def decisions_for(status: MatchStatus) -> list[MatchEvent]:
    """The decisions the workflow allows on a match in ``status`` (the service checks again)."""
    return [event for (state, event) in TRANSITIONS if state is status]


def _originals(session: Session, rows: list[StaydownMatch]) -> dict[int, Original]:
    """Map each match id to its original, looking each entry and work up once and items in one query."""
    entries = {e: fingerprints.get_entry(session, e) for e in {m.entry_id for m in rows}}
    items = queries.items_by_id(
        session, [e.item_id for e in entries.values() if e is not None and e.item_id is not None]
    )
    descriptions: dict[int, str | None] = {}
    found: dict[int, Original] = {}
    for match in rows:
        entry = entries.get(match.entry_id)
        item_id = entry.item_id if entry is not None else None
        work_id = entry.work_id if entry is not None else match.work_id
        if work_id is not None and work_id not in descriptions:
            work = works.get(session, work_id)
            descriptions[work_id] = work.description if work is not None else None
        item = items.get(item_id) if item_id is not None else None
        found[match.id] = Original(
            item_id=item_id if item is not None else None,
            notice_id=match.notice_id,
            url=item.url if item is not None else None,
            work_id=work_id,
            work_description=descriptions.get(work_id) if work_id is not None else None,
        )
    return found


def copy_hostname(url: str, hostnames: list[str], default: str) -> str:
    """The host a copy was served under, if the zone serves it; otherwise the zone's own hostname."""
    try:
        host = canonicalize_url(url).host
    except URLError:
        return default
    return host if host in hostnames else default


def _zones(session: Session, rows: list[StaydownMatch]) -> dict[int, dict[str, Any]]:
    zones: dict[int, dict[str, Any]] = {}
    for zone_id in {m.zone_id for m in rows}:
        zone = accounts.get_zone(session, zone_id)
        customer = accounts.get_customer(session, zone.customer_id) if zone is not None else None
        zones[zone_id] = {
            "hostname": zone.hostname if zone is not None else f"zone {zone_id}",
            "customer_id": customer.id if customer is not None else None,
            "customer_name": customer.name if customer is not None else None,
        }
    return zones


def _ordered_page(
    session: Session, *, offset: int, limit: int, customer_id: int | None
) -> tuple[list[StaydownMatch], int]:
    """One page of every match, pending review first, then blocked, confirmed, dismissed."""
    rows: list[StaydownMatch] = []
    total = 0
    for status in STATUS_ORDER:
        want = limit - len(rows)
        skip = max(0, offset - total)
        found, count = fingerprints.list_matches(
            session, status=status, customer_id=customer_id, limit=max(want, 0), offset=skip
        )
        rows.extend(found if want > 0 else [])
        total += count
    return rows, total


@router.get("/matches", include_in_schema=False)
def matches(
    request: Request,
    who: Staff,
    status: MatchStatus | None = None,
    customer_id: int | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """Stay-down matches with the original beside each copy; pending review first."""
    offset = (page - 1) * PER_PAGE
    with database_of(request).reader() as session:
        if status is None:
            rows, total = _ordered_page(session, offset=offset, limit=PER_PAGE, customer_id=customer_id)
        else:
            found, total = fingerprints.list_matches(
                session, status=status, customer_id=customer_id, limit=PER_PAGE, offset=offset
            )
            rows = list(found)
        waiting = fingerprints.list_matches(
            session, status=MatchStatus.pending_review, customer_id=customer_id, limit=0
        )[1]
        customer = accounts.get_customer(session, customer_id) if customer_id is not None else None
        originals = _originals(session, rows)
        zones = _zones(session, rows)
    return render(
        request,
        "matches.html",
        {
            "matches": rows,
            "originals": originals,
            "zones": zones,
            "decisions": {m.id: decisions_for(m.status) for m in rows},
            "status": status,
            "customer": customer,
            "statuses": list(STATUS_ORDER),
            "waiting": waiting,
            "pager": Pager(page=page, per_page=PER_PAGE, total=total),
            "back": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
            "title": _("Stay-down matches"),
        },
    )


@router.get("/matches/{match_id}", include_in_schema=False)
def match_detail(request: Request, match_id: int, who: Staff) -> Response:
    with database_of(request).reader() as session:
        match = fingerprints.get_match(session, match_id)
        if match is None:
            raise DeskError(404, _("match %(match_id)s does not exist", match_id=match_id))
        originals = _originals(session, [match])
        zones = _zones(session, [match])
    return render(
        request,
        "matches.html",
        {
            "matches": [match],
            "originals": originals,
            "zones": zones,
            "decisions": {match.id: decisions_for(match.status)},
            "single": True,
            "back": f"{PREFIX}/matches/{match.id}",
            "title": _("Stay-down match %(id)s", id=match.id),
        },
    )


@router.post("/matches/{match_id}/decision", include_in_schema=False)
def decide(
    request: Request,
    match_id: int,
    who: Staff,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Confirm or dismiss a match with a reason, as ``POST /v1/staydown/matches/{id}/decision``."""
    try:
        event = MatchEvent(decision)
    except ValueError:
        raise DeskError(422, _("choose to confirm or to dismiss the match")) from None
    reason = reason.strip()
    if len(reason) < 3:
        raise DeskError(
            422, _("give the reason for the decision (at least 3 characters); the customer is told")
        )
    with database_of(request).writer() as session:
        match = fingerprints.decide_match(
            session,
            match_id,
            decision=event.value,
            reason=reason[:5000],
            now=now_of(request),
            actor=who.actor,
            settings=settings_of(request),
        )
        session.commit()
        status = match.status
    back = next if next.startswith(PREFIX + "/") and not next.startswith("//") else f"{PREFIX}/matches"
    return redirect(
        request,
        back,
        _("Match %(match_id)s %(status)s.", match_id=match_id, status=labels.LABELS[status.value]),
    )


def _image(body: bytes | None) -> Response:
    if body is None:
        return Response(
            _PLACEHOLDER, media_type="image/svg+xml", headers={"cache-control": "private, max-age=60"}
        )
    return Response(
        body,
        media_type="image/png",
        headers={"cache-control": "private, max-age=300", "x-content-type-options": "nosniff"},
    )


@router.get("/matches/{match_id}/copy", include_in_schema=False)
def copy_image(request: Request, match_id: int, who: StaffOrLegal) -> Response:
    """The copy an edge found, read from its zone's origin as the zone's hostname."""
    with database_of(request).reader() as session:
        match = fingerprints.get_match(session, match_id)
        zone = accounts.get_zone(session, match.zone_id) if match is not None else None
        if match is None or zone is None:
            raise DeskError(404, _("match %(match_id)s does not exist", match_id=match_id))
        hostname = copy_hostname(match.url, zone.all_hostnames, zone.hostname)
        origin, target = zone.origin, match.target
    limits = images.limits_of(settings_of(request))
    return _image(
        images.preview(origin, hostname=hostname, target=target, limits=limits, guard=guard_of(request))
    )
