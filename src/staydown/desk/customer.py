"""The customer portal: identity evidence, zones with domain-control instructions and the live
check, notices against the customer's zones, strikes and the published repeat-infringer policy.

A customer only ever sees its own records: everything is looked up through the signed-in key's
customer, and anything else is a 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from staydown.accounts import service as accounts
from staydown.accounts.models import Customer, Zone
from staydown.accounts.schemas import EvidenceCreate, ZoneCreate
from staydown.desk import labels, present, queries
from staydown.desk.service import DeskError, DeskPrincipal
from staydown.desk.web import (
    PREFIX,
    CustomerRole,
    DeskRoute,
    Pager,
    csrf_protect,
    database_of,
    guard_of,
    locale_of,
    now_of,
    redirect,
    render,
    settings_of,
)
from staydown.due_process import service as due_process
from staydown.due_process.flows import Complainant
from staydown.due_process.schemas import ComplaintCreate
from staydown.i18n import _
from staydown.policy import service as policy
from staydown.policy.flows import policy_text
from staydown.policy.models import StrikeStatus

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])

EVIDENCE_KINDS = ("passport", "national_id", "driving_licence", "company_registry", "utility_bill", "other")


def _customer_id(who: DeskPrincipal) -> int:
    if who.customer_id is None:
        raise DeskError(403, _("this key does not belong to a customer"))
    return who.customer_id


def _own_customer(session: Session, who: DeskPrincipal) -> Customer:
    customer = accounts.get_customer(session, _customer_id(who))
    if customer is None:
        raise DeskError(404, _("the customer of this account does not exist"))
    return customer


@router.get("/account", include_in_schema=False)
def account(request: Request, who: CustomerRole) -> Response:
    settings = settings_of(request)
    with database_of(request).reader() as session:
        customer = _own_customer(session, who)
        evidence = accounts.list_evidence(session, customer.id)
    return render(
        request,
        "account.html",
        {
            "customer": customer,
            "evidence": evidence,
            "kinds": EVIDENCE_KINDS,
            "required_level": settings.min_verification_level,
            "title": _("Account"),
        },
    )


@router.post("/account/evidence", include_in_schema=False)
def submit_evidence(
    request: Request,
    who: CustomerRole,
    kind: Annotated[str, Form()],
    reference: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Submit identity evidence for an agent's review, as ``POST /v1/customers/{id}/verification``."""
    if kind not in EVIDENCE_KINDS:
        raise DeskError(422, _("choose the kind of evidence: %(join)s", join=", ".join(EVIDENCE_KINDS)))
    data = EvidenceCreate(
        kind=kind, reference=reference.strip() or None, details={"note": note.strip()} if note.strip() else {}
    )
    with database_of(request).writer() as session:
        customer = _own_customer(session, who)
        accounts.submit_evidence(
            session, customer, data, now=now_of(request), key_id=who.key_id, actor=who.actor
        )
        session.commit()
    return redirect(request, f"{PREFIX}/account", _("Evidence submitted; an agent will review it."))


@router.get("/account/zones", include_in_schema=False)
def zones(request: Request, who: CustomerRole) -> Response:
    settings = settings_of(request)
    with database_of(request).reader() as session:
        customer = _own_customer(session, who)
        reads = [
            accounts.zone_read(z, min_level=settings.min_verification_level)
            for z in accounts.list_zones(session, customer_id=customer.id)
        ]
    return render(request, "zones.html", {"customer": customer, "zones": reads, "title": _("Zones")})


@router.post("/account/zones", include_in_schema=False)
def add_zone(
    request: Request,
    who: CustomerRole,
    hostname: Annotated[str, Form()],
    origin: Annotated[str, Form()],
) -> Response:
    """Add a pending zone with its challenge, as ``POST /v1/zones``."""
    try:
        data = ZoneCreate(customer_id=_customer_id(who), hostname=hostname, origin=origin)
    except ValidationError as exc:
        raise DeskError(422, "; ".join(e["msg"] for e in exc.errors())) from None
    with database_of(request).writer() as session:
        zone = accounts.create_zone(
            session, data, now=now_of(request), actor=who.actor, guard=guard_of(request)
        )
        session.commit()
        zone_id = zone.id
    return redirect(
        request,
        f"{PREFIX}/account/zones#zone-{zone_id}",
        _("Zone %(hostname)s added; prove control of it.", hostname=hostname),
    )


def _own_zone(session: Session, zone_id: int, who: DeskPrincipal) -> Zone:
    zone = accounts.get_zone(session, zone_id)
    if zone is None or zone.customer_id != who.customer_id:
        raise DeskError(404, _("zone %(zone_id)s does not exist", zone_id=zone_id))
    return zone


@router.post("/account/zones/{zone_id}/check", include_in_schema=False)
async def check_zone(
    request: Request,
    zone_id: int,
    who: CustomerRole,
    method: Annotated[str, Form()] = "http",
    fragment: Annotated[bool, Query()] = False,
) -> Response:
    """Run the domain-control check now (the same steps as ``POST /v1/zones/{id}/validate``)."""
    if method not in ("http", "dns"):
        raise DeskError(422, _("check by 'http' or 'dns'"))
    settings = settings_of(request)
    database = database_of(request)

    def load() -> Zone:
        with database.reader() as session:
            return _own_zone(session, zone_id, who)

    zone = await run_in_threadpool(load)
    result = await run_in_threadpool(
        accounts.check_domain_control,
        zone,
        method=method,
        timeout=settings.dcv_timeout_seconds,
        nameservers=settings.dns_nameservers,
        guard=guard_of(request),
    )

    def record() -> tuple[bool, str, str]:
        with database.writer() as session:
            zone = _own_zone(session, zone_id, who)
            validation = accounts.record_validation(
                session,
                zone,
                result,
                now=now_of(request),
                actor=who.actor,
                min_level=settings.min_verification_level,
            )
            session.commit()
            return validation.ok, validation.detail, zone.status.value

    ok, detail, status = await run_in_threadpool(record)
    if fragment:
        label = labels.label(status, locale_of(request))
        return JSONResponse({"ok": ok, "detail": detail, "status": status, "label": label})
    message = (
        _(
            "Passed (%(method)s): %(detail)s. The zone is %(status)s.",
            method=method,
            detail=detail,
            status=labels.LABELS[status],
        )
        if ok
        else _(
            "Failed (%(method)s): %(detail)s. The zone is %(status)s.",
            method=method,
            detail=detail,
            status=labels.LABELS[status],
        )
    )
    return redirect(request, f"{PREFIX}/account/zones#zone-{zone_id}", message)


@router.get("/account/notices", include_in_schema=False)
def customer_notices(request: Request, who: CustomerRole, page: Annotated[int, Query(ge=1)] = 1) -> Response:
    now = now_of(request)
    customer_id = _customer_id(who)
    with database_of(request).reader() as session:
        rows, total, more = queries.notice_page(
            session, customer_id=customer_id, offset=(page - 1) * 50, limit=50
        )
        counts = queries.item_status_counts(session, [n.id for n in rows], customer_id=customer_id)
    entries = [
        {
            "notice": n,
            "sla": present.sla(status=n.status, deadline_at=n.deadline_at, decided_at=n.decided_at, now=now),
            "counts": counts.get(n.id, {}),
        }
        for n in rows
    ]
    return render(
        request,
        "customer_notices.html",
        {
            "entries": entries,
            "pager": Pager(page=page, per_page=50, total=total, more=more),
            "title": _("Notices"),
        },
    )


@router.get("/account/strikes", include_in_schema=False)
def strikes(request: Request, who: CustomerRole) -> Response:
    settings = settings_of(request)
    with database_of(request).reader() as session:
        customer = _own_customer(session, who)
        rows = policy.list_strikes(session, customer.id)
        steps = policy.list_steps(session, customer.id)
    return render(
        request,
        "strikes.html",
        {
            "customer": customer,
            "strikes": rows,
            "active": sum(1 for s in rows if s.status is StrikeStatus.active),
            "steps": steps,
            "thresholds": present.thresholds(settings.policy),
            "policy": present.text_blocks(
                policy_text(settings.policy, provider=settings.provider_name, locale=locale_of(request))
            ),
            "title": _("Strikes and policy"),
        },
    )


RESTRICTION_KINDS = {
    "notice_item": _("Blocked under a notice"),
    "staydown_match": _("Blocked as a copy of noticed content (stay-down)"),
    "work_match": _("Blocked as a copy of a registered work (stay-down)"),
    "zone_suspension": _("Zone suspended"),
    "zone_termination": _("Zone terminated"),
}
RESTRICTIONS_PER_PAGE = 50


@router.get("/account/restrictions", include_in_schema=False)
def restrictions(request: Request, who: CustomerRole, page: Annotated[int, Query(ge=1)] = 1) -> Response:
    with database_of(request).reader() as session:
        customer = _own_customer(session, who)
        views, total = due_process.restrictions_in_force(
            session, customer.id, offset=(page - 1) * RESTRICTIONS_PER_PAGE, limit=RESTRICTIONS_PER_PAGE
        )
        reads = [due_process.restriction_read(view) for view in views]
    return render(
        request,
        "restrictions.html",
        {
            "restrictions": reads,
            "kinds": RESTRICTION_KINDS,
            "pager": Pager(page=page, per_page=RESTRICTIONS_PER_PAGE, total=total),
            "title": _("Restrictions"),
        },
    )


@router.post("/account/restrictions/complaint", include_in_schema=False)
def contest_restriction(
    request: Request,
    who: CustomerRole,
    explanation: Annotated[str, Form()] = "",
    match_id: Annotated[int | None, Form()] = None,
    policy_step_id: Annotated[int | None, Form()] = None,
) -> Response:
    """An internal complaint against a stay-down block or a zone step, from the restrictions page."""
    try:
        data = ComplaintCreate(
            match_id=match_id, policy_step_id=policy_step_id, explanation=explanation.strip()
        )
    except ValidationError:
        raise DeskError(422, _("say why the restriction is wrong")) from None
    with database_of(request).writer() as session:
        complaint = due_process.file_complaint(
            session,
            data,
            complainant=Complainant.customer,
            customer_id=_customer_id(who),
            key_id=who.key_id,
            actor=who.actor,
            now=now_of(request),
            settings=settings_of(request),
        )
        session.commit()
        complaint_id = complaint.id
    return redirect(
        request,
        f"{PREFIX}/account/restrictions",
        _("Complaint %(id)s lodged; a different person will decide it.", id=complaint_id),
    )
