"""Agent pages: the review queue with its SLA clocks, notice detail and decisions, the repeat-
infringer board, and customer pages with the verification and standing decisions.

Every decision calls the same domain service the API calls, in one transaction, so the desk and
the API leave the same workflow steps, enforcement records and audit entries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.accounts.flows import IllegalZoneTransition, ZoneEvent
from staydown.accounts.schemas import CustomerCreate
from staydown.audit import service as audit
from staydown.desk import decisions, images, labels, present, queries
from staydown.desk.service import DeskError, DeskPrincipal
from staydown.desk.web import (
    PREFIX,
    AnyDesk,
    DeskRoute,
    Pager,
    Staff,
    StaffOrLegal,
    csrf_protect,
    database_of,
    form_ids,
    guard_of,
    locale_of,
    now_of,
    redirect,
    render,
    settings_of,
)
from staydown.due_process import service as due_process
from staydown.enforcement import service as enforcement
from staydown.fingerprints import service as fingerprints
from staydown.fingerprints.schemas import MatchRead
from staydown.i18n import Message, _
from staydown.notices import service as notices
from staydown.notices.flows import ItemStatus, NoticeStatus
from staydown.notices.models import Notice
from staydown.policy import service as policy
from staydown.types import Role, VerificationLevel
from staydown.urls import URLError, canonicalize_url

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])

PER_PAGE = 50
ITEMS_PER_PAGE = 100


@router.get("/", include_in_schema=False)
def home(request: Request, who: AnyDesk) -> Response:
    landing = {
        Role.agent: "/queue",
        Role.admin: "/queue",
        Role.legal: "/legal",
        Role.submitter: "/my/notices",
        Role.customer: "/account",
    }
    return redirect(request, PREFIX + landing.get(who.role, "/signin"))


def _summaries(
    session: Session, rows: Any, *, now: datetime, customer_id: int | None = None
) -> list[dict[str, Any]]:
    counts = queries.item_status_counts(session, [n.id for n in rows], customer_id=customer_id)
    hosts = queries.notice_hosts(session, [n.id for n in rows])
    return [
        {
            "notice": n,
            "hosts": hosts.get(n.id, []),
            "sla": present.sla(status=n.status, deadline_at=n.deadline_at, decided_at=n.decided_at, now=now),
            "counts": counts.get(n.id, {}),
        }
        for n in rows
    ]


@router.get("/queue", include_in_schema=False)
def queue(request: Request, who: Staff, page: Annotated[int, Query(ge=1)] = 1) -> Response:
    """The review queue: accepted notices, earliest deadline first."""
    now = now_of(request)
    with database_of(request).reader() as session:
        rows, total = notices.list_page(session, status=NoticeStatus.accepted, page=page, per_page=PER_PAGE)
        entries = _summaries(session, rows, now=now)
    return render(
        request,
        "queue.html",
        {
            "entries": entries,
            "pager": Pager(page=page, per_page=PER_PAGE, total=total),
            "now": now,
            "title": _("Review queue"),
        },
    )


@router.get("/notices", include_in_schema=False)
def all_notices(
    request: Request,
    who: StaffOrLegal,
    page: Annotated[int, Query(ge=1)] = 1,
    status: NoticeStatus | None = None,
    url: Annotated[str, Query(max_length=8192)] = "",
    submitter: Annotated[str, Query(max_length=300)] = "",
    zone: Annotated[str, Query(max_length=253)] = "",
    customer: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    external_id: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Every notice, newest first, narrowed by status, a URL (any spelling of it), the submitter,
    a zone, a customer or the sender's own id."""
    now = now_of(request)
    problems: list[Message] = []
    with database_of(request).reader() as session:
        search, problems = _search(session, url=url, submitter=submitter, zone=zone, external_id=external_id)
        rows, total, _more = queries.notice_page(
            session,
            status=status,
            customer_id=customer,
            search=search,
            offset=(page - 1) * PER_PAGE,
            limit=PER_PAGE,
        )
        entries = _summaries(session, rows, now=now)
    query = {"status": status.value if status else "", "url": url, "submitter": submitter, "zone": zone}
    query |= {"customer": str(customer or ""), "external_id": external_id}
    return render(
        request,
        "notices.html",
        {
            "entries": entries,
            "pager": Pager(page=page, per_page=PER_PAGE, total=total),
            "now": now,
            "status": status,
            "statuses": list(NoticeStatus),
            "search": query,
            "problems": problems,
            "query_string": "&" + urlencode({k: v for k, v in query.items() if v}),
            "title": _("Notices"),
        },
    )


URL_SEARCH_LIMIT = 1000


def _search(
    session: Session, *, url: str, submitter: str, zone: str, external_id: str
) -> tuple[queries.NoticeSearch, list[Message]]:
    """The notices list's search from its form; what cannot be searched for is named."""
    problems: list[Message] = []
    notice_ids: tuple[int, ...] | None = None
    if url.strip():
        try:
            canonical = canonicalize_url(url.strip())
        except URLError as exc:
            problems.append(_("the URL cannot be read: %(error)s", error=exc))
            notice_ids = ()
        else:
            rows, _total = notices.find_items(session, canonical, per_page=URL_SEARCH_LIMIT)
            notice_ids = tuple(sorted({row.notice_id for row in rows}))
    zone_id: int | None = None
    if zone.strip():
        host = zone.strip().lower().rstrip(".")
        found = accounts.zones_by_hostname(session, [host]).get(host)
        if found is None:
            problems.append(_("no zone is named %(host)s", host=host))
            notice_ids = ()
        else:
            zone_id = found.id
    search = queries.NoticeSearch(
        notice_ids=notice_ids,
        submitter=submitter.strip() or None,
        zone_id=zone_id,
        external_id=external_id.strip() or None,
    )
    return search, problems


def visible_notice(session: Session, notice_id: int, who: DeskPrincipal) -> Notice:
    """The notice if ``who`` may see it; otherwise 404, never a hint that it exists."""
    notice = notices.get(session, notice_id)
    hidden = DeskError(404, _("notice %(notice_id)s does not exist", notice_id=notice_id))
    if notice is None:
        raise hidden
    if who.role is Role.submitter and notice.submitter_key_id != who.key_id:
        raise hidden
    if who.role is Role.customer and (
        who.customer_id is None or not notices.visible_to_customer(session, notice_id, who.customer_id)
    ):
        raise hidden
    return notice


def _submitter(notice: Notice) -> dict[str, str | None]:
    return {
        "name": notice.submitter_name,
        "email": notice.submitter_email,
        "address": notice.submitter_address,
        "phone": notice.submitter_phone,
        "organization": notice.submitter_organization,
        "on_behalf_of": notice.on_behalf_of,
    }


@router.get("/notices/{notice_id}", include_in_schema=False)
def notice_detail(
    request: Request,
    notice_id: int,
    who: AnyDesk,
    page: Annotated[int, Query(ge=1)] = 1,
    status: ItemStatus | None = None,
) -> Response:
    """One notice: its elements, a page of its items, stay-down matches and its audit trail."""
    now = now_of(request)
    staff = who.role in (Role.agent, Role.admin, Role.legal)
    customer_id = who.customer_id if who.role is Role.customer else None
    with database_of(request).reader() as session:
        notice = visible_notice(session, notice_id, who)
        counts = queries.item_status_counts(session, [notice.id], customer_id=customer_id)[notice.id]
        shown = counts.get(status.value, 0) if status else sum(counts.values())
        pager = Pager(page=page, per_page=ITEMS_PER_PAGE, total=shown)
        items = queries.item_page(
            session,
            notice.id,
            customer_id=customer_id,
            status=status,
            offset=pager.offset,
            limit=ITEMS_PER_PAGE,
        )
        trail = audit.list_for_entity(session, "notice", notice.id)[-200:] if staff else []
        staydown = (
            fingerprints.notice_staydown(session, notice.id, customer_id=customer_id)
            if who.role in (Role.agent, Role.admin, Role.legal, Role.customer)
            else None
        )
        # The service gives JSON-ready dicts (as the API returns them); the page wants typed values.
        copies = [MatchRead.model_validate(m) for m in staydown["matches"]] if staydown else []
        unread = (
            [
                c
                for c in fingerprints.captures_of_notice(session, notice.id)
                if c.status in fingerprints.RETRYABLE_CAPTURES
            ]
            if staff
            else []
        )
        edges = enforcement.edges_applying(session, notice_id=notice.id) if staff else None
        submitter = _submitter(notice)
        award = None
        if staff and notice.submitter_key_id is not None:
            found = due_process.current_award(session, notice.submitter_key_id)
            award = due_process.read_award(found, now=now) if found is not None else None
        if who.role is Role.customer:
            submitter = dict(present.complainant_for_customer(notice.regime, submitter))
    return render(
        request,
        "notice.html",
        {
            "notice": notice,
            "sla": present.sla(
                status=notice.status, deadline_at=notice.deadline_at, decided_at=notice.decided_at, now=now
            ),
            "explanations": notices.explanations(notice, locale_of(request)),
            "counter_notice": notices.regime_rules(notice.regime).counter_notice,
            "edges": edges,
            "counts": counts,
            "items": items,
            "pager": pager,
            "item_status": status,
            "item_statuses": list(ItemStatus),
            "trail": trail,
            "staydown": staydown,
            "unread_captures": unread,
            "staydown_matches": copies,
            "submitter": submitter,
            "award": award,
            "can_decide": who.role in (Role.agent, Role.admin),
            "now": now,
            "title": _("Notice %(id)s", id=notice.id),
        },
    )


@router.post("/notices/{notice_id}/decision", include_in_schema=False)
def decide(
    request: Request,
    notice_id: int,
    who: Staff,
    verdict: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    item: Annotated[list[str] | None, Form()] = None,
    scope: Annotated[str, Form()] = "selected",
) -> Response:
    """Action or reject the chosen items (or every pending one), with a reason."""
    if verdict not in ("action", "reject"):
        raise DeskError(422, _("choose to action or to reject the items"))
    reason = reason.strip()
    if not reason:
        raise DeskError(422, _("give the reason for the decision; it is recorded and sent to the parties"))
    settings = settings_of(request)
    now = now_of(request)
    database = database_of(request)
    with database.writer() as session:
        notice = notices.get(session, notice_id)
        if notice is None:
            raise DeskError(404, _("notice %(notice_id)s does not exist", notice_id=notice_id))
        if scope == "all_pending":
            ids = queries.item_ids_in(session, notice_id, ItemStatus.pending_review)
        else:
            ids = form_ids(item or [])
        if not ids:
            raise DeskError(422, _("select at least one item (or choose every pending item)"))
        if decisions.needs_job(len(ids)):
            if queries.items_of_notice(session, notice_id, ids) != len(set(ids)):
                raise DeskError(
                    422,
                    _("some of the items chosen are not part of notice %(notice_id)s", notice_id=notice_id),
                )
            session.rollback()
            job_id = decisions.create(
                database, notice_id, ids, verdict=verdict, reason=reason, actor=who.actor, now=now
            )
            decisions.start(database, job_id, clock=request.app.state.clock, settings=settings)
            return redirect(request, f"{PREFIX}/decisions/{job_id}")
        notices.decide(
            session,
            notice,
            dict.fromkeys(ids, verdict),
            reason=reason,
            actor=who.actor,
            now=now,
            settings=settings,
        )
        session.commit()
    return redirect(
        request,
        f"{PREFIX}/notices/{notice_id}",
        (
            _("%(count)s item(s) actioned.", count=len(ids))
            if verdict == "action"
            else _("%(count)s item(s) rejected.", count=len(ids))
        ),
    )


_PLACEHOLDER = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="90" viewBox="0 0 120 90">'
    '<rect width="120" height="90" fill="#eee"/><text x="60" y="50" font-family="sans-serif" '
    'font-size="11" text-anchor="middle" fill="#444">no preview</text></svg>'
)


@router.get("/items/{item_id}/thumbnail", include_in_schema=False)
def thumbnail(request: Request, item_id: int, who: StaffOrLegal) -> Response:
    """The item's content as the zone's origin serves it (see ``desk.images`` for the limits)."""
    with database_of(request).reader() as session:
        found = _item_location(session, item_id)
    image = None
    if found is not None:
        origin, hostname, target = found
        limits = images.limits_of(settings_of(request))
        image = images.preview(
            origin, hostname=hostname, target=target, limits=limits, guard=guard_of(request)
        )
    if image is None:
        return Response(
            _PLACEHOLDER, media_type="image/svg+xml", headers={"cache-control": "private, max-age=60"}
        )
    return Response(
        image,
        media_type="image/png",
        headers={"cache-control": "private, max-age=300", "x-content-type-options": "nosniff"},
    )


def _item_location(session: Session, item_id: int) -> tuple[str, str, str] | None:
    rows = queries.item_origin(session, item_id)
    if rows is None:
        return None
    zone_id, hostname, target = rows
    zone = accounts.get_zone(session, zone_id)
    return (zone.origin, hostname, target) if zone else None


@router.get("/board", include_in_schema=False)
def board(request: Request, who: Staff, page: Annotated[int, Query(ge=1)] = 1) -> Response:
    """Customers by active strikes, with the policy's thresholds drawn on each bar."""
    settings = settings_of(request)
    with database_of(request).reader() as session:
        rows, total = queries.strike_board(session, offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
    steps = present.thresholds(settings.policy)
    scale = max([steps[-1].strikes + 1, *(row.strikes for row in rows)])
    return render(
        request,
        "board.html",
        {
            "rows": rows,
            "steps": steps,
            "scale": scale,
            "pager": Pager(page=page, per_page=PER_PAGE, total=total),
            "title": _("Repeat infringers"),
        },
    )


@router.get("/customers", include_in_schema=False)
def customers(
    request: Request, who: StaffOrLegal, page: Annotated[int, Query(ge=1)] = 1, q: str = ""
) -> Response:
    with database_of(request).reader() as session:
        pager = Pager(page=page, per_page=PER_PAGE, total=0)
        rows, total = queries.customer_page(
            session, search=q.strip() or None, offset=pager.offset, limit=PER_PAGE
        )
        strikes = queries.active_strike_counts(session, [c.id for c in rows])
    return render(
        request,
        "customers.html",
        {
            "customers": rows,
            "strikes": strikes,
            "q": q,
            "pager": Pager(page=page, per_page=PER_PAGE, total=total),
            "title": _("Customers"),
        },
    )


@router.post("/customers", include_in_schema=False)
def create_customer(
    request: Request,
    who: Staff,
    name: Annotated[str, Form()],
    email: Annotated[str, Form()],
    address: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    organization: Annotated[str, Form()] = "",
) -> Response:
    settings = settings_of(request)
    try:
        data = CustomerCreate(
            name=name,
            email=email,
            address=address or None,
            phone=phone or None,
            organization=organization or None,
        )
    except ValueError as exc:
        raise DeskError(422, _("the customer is not valid: %(exc)s", exc=exc)) from None
    with database_of(request).writer() as session:
        customer = accounts.create_customer(
            session,
            data,
            now=now_of(request),
            signup_ip=request.client.host if request.client else None,
            actor=who.actor,
            disposable_domains=settings.disposable_email_domains,
            default_locale=settings.default_locale,
        )
        session.commit()
        customer_id = customer.id
    return redirect(request, f"{PREFIX}/customers/{customer_id}", _("Customer registered."))


@router.get("/customers/{customer_id}", include_in_schema=False)
def customer_detail(request: Request, customer_id: int, who: StaffOrLegal) -> Response:
    settings = settings_of(request)
    with database_of(request).reader() as session:
        customer = accounts.get_customer(session, customer_id)
        if customer is None:
            raise DeskError(404, _("customer %(customer_id)s does not exist", customer_id=customer_id))
        zones = [
            accounts.zone_read(z, min_level=settings.min_verification_level)
            for z in accounts.list_zones(session, customer_id=customer_id)
        ]
        evidence = accounts.list_evidence(session, customer_id)
        strikes = policy.list_strikes(session, customer_id)
        steps = policy.list_steps(session, customer_id)
        trail = audit.list_for_entity(session, "customer", customer_id)[-100:]
        rows, total, more = queries.notice_page(session, customer_id=customer_id, offset=0, limit=20)
    return render(
        request,
        "customer.html",
        {
            "customer": customer,
            "zones": zones,
            "evidence": evidence,
            "strikes": strikes,
            "active_strikes": sum(s.weight for s in strikes if s.status.value == "active"),
            "steps": steps,
            "trail": trail,
            "recent_notices": rows,
            "notice_total": total,
            "more_notices": more,
            "levels": list(VerificationLevel),
            "thresholds": present.thresholds(settings.policy),
            "can_decide": who.role in (Role.agent, Role.admin),
            "title": customer.name,
        },
    )


@router.post("/customers/{customer_id}/verification", include_in_schema=False)
def verify(
    request: Request,
    customer_id: int,
    who: Staff,
    level: Annotated[VerificationLevel, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Set the verification level (eligible zones go live), as ``POST …/verification/decision``."""
    if not reason.strip():
        raise DeskError(422, _("give the reason for the verification decision"))
    settings = settings_of(request)
    with database_of(request).writer() as session:
        customer = accounts.get_customer(session, customer_id)
        if customer is None:
            raise DeskError(404, _("customer %(customer_id)s does not exist", customer_id=customer_id))
        accounts.decide_verification(
            session,
            customer,
            level=level,
            reason=reason.strip(),
            now=now_of(request),
            key_id=who.key_id,
            actor=who.actor,
            min_level=settings.min_verification_level,
            disposable_domains=settings.disposable_email_domains,
        )
        session.commit()
    return redirect(
        request,
        f"{PREFIX}/customers/{customer_id}",
        _("Verification level set to %(level)s.", level=labels.LABELS[level.value]),
    )


@router.post("/customers/{customer_id}/{step}", include_in_schema=False)
def standing_step(
    request: Request, customer_id: int, step: str, who: Staff, reason: Annotated[str, Form()] = ""
) -> Response:
    """Suspend, reinstate or terminate a customer (every zone of it follows), with a reason."""
    if step not in ("suspend", "reinstate", "terminate"):
        raise DeskError(404, _("there is no %(step)r step", step=step))
    reason = reason.strip()
    if not reason:
        raise DeskError(
            422,
            _(
                "give the reason to %(step)s the customer; it is recorded and sent to them",
                step=labels.LABELS[step],
            ),
        )
    settings = settings_of(request)
    now = now_of(request)
    with database_of(request).writer() as session:
        customer = accounts.get_customer(session, customer_id)
        if customer is None:
            raise DeskError(404, _("customer %(customer_id)s does not exist", customer_id=customer_id))
        if step == "terminate":
            policy.confirm_termination(
                session,
                customer,
                now=now,
                actor=who.actor,
                reason=reason,
                policy=settings.policy,
                provider=settings.provider_name,
            )
        elif step == "reinstate":
            policy.reinstate(
                session,
                customer,
                now=now,
                actor=who.actor,
                reason=reason,
                policy=settings.policy,
                provider=settings.provider_name,
            )
        else:
            policy.suspend(
                session,
                customer,
                now=now,
                actor=who.actor,
                reason=reason,
                policy=settings.policy,
                provider=settings.provider_name,
            )
        session.commit()
    past = {
        "suspend": _("Customer suspended."),
        "reinstate": _("Customer reinstated."),
        "terminate": _("Customer terminated."),
    }[step]
    return redirect(request, f"{PREFIX}/customers/{customer_id}", past)


@router.post("/zones/{zone_id}/{event}", include_in_schema=False)
def zone_step(
    request: Request, zone_id: int, event: str, who: Staff, reason: Annotated[str, Form()] = ""
) -> Response:
    """Suspend, reinstate or terminate one zone, as ``POST /v1/zones/{id}/{event}``."""
    try:
        zone_event = ZoneEvent(event)
    except ValueError:
        raise DeskError(404, _("there is no %(event)r step for a zone", event=event)) from None
    if zone_event is ZoneEvent.activate:
        raise DeskError(409, _("a zone goes live by itself once its customer and domain are verified"))
    if not reason.strip():
        raise DeskError(422, _("give the reason to %(event)s the zone", event=labels.LABELS[event]))
    with database_of(request).writer() as session:
        zone = accounts.get_zone(session, zone_id)
        if zone is None:
            raise DeskError(404, _("zone %(zone_id)s does not exist", zone_id=zone_id))
        try:
            accounts.change_zone_status(
                session, zone, zone_event, now=now_of(request), actor=who.actor, reason=reason.strip()
            )
        except IllegalZoneTransition as exc:
            raise DeskError(409, str(exc)) from None
        customer_id = zone.customer_id
        session.commit()
    return redirect(
        request,
        f"{PREFIX}/customers/{customer_id}",
        _("Zone %(zone_id)s: %(event)s done.", zone_id=zone_id, event=labels.LABELS[event]),
    )


@router.post("/notices/{notice_id}/captures/{capture_id}/retry", include_in_schema=False)
def retry_capture(request: Request, notice_id: int, capture_id: int, who: Staff) -> Response:
    """Read an item's content from its zone's origin again after the capture failed."""
    with database_of(request).writer() as session:
        visible_notice(session, notice_id, who)
        capture = fingerprints.retry_capture(
            session, capture_id, notice_id=notice_id, now=now_of(request), actor=who.actor
        )
        url = capture.url
        session.commit()
    return redirect(
        request, f"{PREFIX}/notices/{notice_id}", _("The content of %(url)s will be read again.", url=url)
    )
