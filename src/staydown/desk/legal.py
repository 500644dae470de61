"""Legal pages: disclosure orders (record, read, decide), legal holds, and disclosure packages.

For the ``legal`` role alone, as the ``/v1/disclosure-orders`` routes are: not even ``admin`` is let
in, because a disclosure package is the one place a customer's verified identity leaves the
provider. Every page calls the ``disclosure`` service the API calls, so reading, listing, deciding
and each package download (refusals included) leave the same audit entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.desk import labels, present
from staydown.desk.service import DeskError, DeskPrincipal
from staydown.desk.web import (
    PREFIX,
    DeskRoute,
    csrf_protect,
    database_of,
    now_of,
    redirect,
    render,
    settings_of,
    signed_in,
)
from staydown.disclosure import service as disclosure
from staydown.disclosure.flows import (
    ORDER_TRANSITIONS,
    IdentityField,
    LegalBasis,
    OrderEvent,
    OrderStatus,
    package_allowed,
)
from staydown.disclosure.models import DisclosureOrder
from staydown.disclosure.schemas import HoldCreate, OrderCreate, OrderDecision
from staydown.i18n import _
from staydown.types import Role


def legal_only(request: Request) -> DeskPrincipal:
    """Admit the ``legal`` role and no other; to anyone else the pages do not exist."""
    who = signed_in(request)
    if who.role is not Role.legal:
        raise DeskError(404, _("there is no such page"))
    return who


LegalOnly = Annotated[DeskPrincipal, Depends(legal_only)]

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])

BASIS_LABELS = {
    LegalBasis.us_512h_subpoena: _("US 17 U.S.C. 512(h) subpoena"),
    LegalBasis.jp_disclosure_order: _("Japan: sender-information disclosure order (発信者情報開示命令)"),
    LegalBasis.jp_log_preservation_order: _("Japan: log preservation order (消去禁止命令)"),
    LegalBasis.court_order: _("Other court order"),
    LegalBasis.authority_order: _("Administrative authority order (e.g. DSA Art. 10)"),
}
FIELD_LABELS = {
    IdentityField.name: _("Name"),
    IdentityField.address: _("Postal address"),
    IdentityField.phone: _("Telephone"),
    IdentityField.email: _("E-mail"),
    IdentityField.organization: _("Organisation"),
    IdentityField.payment_reference: _("Payment reference"),
    IdentityField.signup_ip: _("Sign-up IP address and time"),
    IdentityField.verification: _("Verification record"),
    IdentityField.zones: _("Zones (hostnames served)"),
}
EVENT_LABELS = {
    OrderEvent.comply: _("Comply: release every field in scope"),
    OrderEvent.partially_comply: _("Partially comply: release only the fields ticked below"),
    OrderEvent.contest: _("Contest the order (release nothing for now)"),
    OrderEvent.close: _("Close: set aside, withdrawn or ended (release nothing more; lifts its holds)"),
}


def _names(session: Session, customer_ids: Iterable[int]) -> dict[int, str]:
    names = {}
    for customer_id in set(customer_ids):
        customer = accounts.get_customer(session, customer_id)
        names[customer_id] = customer.name if customer else f"customer {customer_id}"
    return names


def _choices(status: OrderStatus) -> list[OrderEvent]:
    """The decisions the workflow allows from ``status`` (the service checks again)."""
    return [event for (state, event) in ORDER_TRANSITIONS if state is status]


@router.get("/legal", include_in_schema=False)
def orders(request: Request, who: LegalOnly, status: OrderStatus | None = None) -> Response:
    """Disclosure orders, newest first (the listing is audited, as the API's is)."""
    with database_of(request).writer() as session:
        rows = disclosure.list_orders(session, now=now_of(request), actor=who.actor, status=status)
        session.commit()
        names = _names(session, (o.customer_id for o in rows))
        entries = [{"order": o, "package": package_allowed(o.status, o.released)} for o in rows]
    return render(
        request,
        "legal_orders.html",
        {
            "entries": entries,
            "names": names,
            "status": status,
            "statuses": list(OrderStatus),
            "bases": BASIS_LABELS,
            "title": _("Disclosure orders"),
        },
    )


def _order_form(
    request: Request, form: dict[str, Any], *, errors: list[str] | None = None, status: int = 200
) -> Response:
    return render(
        request,
        "legal_order_new.html",
        {
            "form": form,
            "errors": errors or [],
            "bases": BASIS_LABELS,
            "fields": list(IdentityField),
            "field_labels": FIELD_LABELS,
            "offsets": present.UTC_OFFSETS,
            "title": _("Record a disclosure order"),
        },
        status=status,
    )


@router.get("/legal/orders/new", include_in_schema=False)
def new_order(request: Request, who: LegalOnly, customer_id: int | None = None) -> Response:
    return _order_form(
        request, {"customer_id": customer_id or "", "hold": True, "offset": "+00:00", "scope": []}
    )


async def order_form(request: Request) -> dict[str, Any]:
    """The order form's fields as typed in (kept to show the form again), ``scope`` as a list."""
    raw = await request.form()
    form: dict[str, Any] = {
        name: value.strip() if isinstance(value, str) else ""
        for name, value in raw.items()
        if name not in ("scope", "csrf_token")
    }
    form["scope"] = [v for v in raw.getlist("scope") if isinstance(v, str)]
    form["gagged"], form["hold"] = form.get("gagged") == "on", form.get("hold") == "on"
    return form


@router.post("/legal/orders", include_in_schema=False)
def create_order(
    request: Request, who: LegalOnly, form: Annotated[dict[str, Any], Depends(order_form)]
) -> Response:
    """Record an order (placing its hold unless told not to), as ``POST /v1/disclosure-orders``."""
    errors: list[str] = []
    times: dict[str, Any] = {}
    for field in ("issued_at", "deadline_at"):
        try:
            times[field] = present.aware_time(form.get(field, ""), form.get("offset", "+00:00"))
        except ValueError as exc:
            errors.append(f"{field.replace('_', ' ')}: {exc}")
    if not str(form.get("customer_id", "")).isdigit():
        errors.append("customer: give the customer's number (it is on the customer's page)")
    if form.get("notice_id") and not str(form["notice_id"]).isdigit():
        errors.append("notice: give the notice's number, or leave it empty")
    if errors:
        return _order_form(request, form, errors=errors, status=422)
    try:
        data = OrderCreate(
            customer_id=int(form["customer_id"]),
            notice_id=int(form["notice_id"]) if form.get("notice_id") else None,
            authority=form.get("authority", ""),
            authority_kind=form.get("authority_kind", "court"),
            case_number=form.get("case_number", ""),
            jurisdiction=form.get("jurisdiction", ""),
            legal_basis=form.get("legal_basis", ""),
            legal_basis_detail=form.get("legal_basis_detail") or None,
            scope=form["scope"],
            scope_note=form.get("scope_note") or None,
            gagged=form["gagged"],
            gag_note=form.get("gag_note") or None,
            hold=form["hold"],
            **times,
        )
    except ValidationError as exc:
        errors = [f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in exc.errors()]
        return _order_form(request, form, errors=errors, status=422)
    settings = settings_of(request)
    with database_of(request).writer() as session:
        try:
            order = disclosure.create_order(
                session, data, now=now_of(request), actor=who.actor, provider=settings.provider_name
            )
        except disclosure.DisclosureError as exc:
            session.rollback()
            return _order_form(request, form, errors=[exc.message], status=exc.status)
        session.commit()
        order_id = order.id
    return redirect(
        request,
        f"{PREFIX}/legal/orders/{order_id}",
        _("Disclosure order %(order_id)s recorded.", order_id=order_id),
    )


@router.get("/legal/orders/{order_id}", include_in_schema=False)
def order_detail(request: Request, order_id: int, who: LegalOnly) -> Response:
    """One order with its holds, the decisions still open and its audit trail (the read is audited)."""
    with database_of(request).writer() as session:
        order: DisclosureOrder = disclosure.read_order(
            session, order_id, now=now_of(request), actor=who.actor
        )
        session.commit()
        holds = disclosure.list_holds(session, order_id=order.id)
        customer = accounts.get_customer(session, order.customer_id)
        trail = audit.list_for_entity(session, disclosure.ORDER, order.id)[-200:]
        objections = disclosure.objections(session, order)
    return render(
        request,
        "legal_order.html",
        {
            "order": order,
            "customer": customer,
            "holds": holds,
            "names": {order.customer_id: customer.name if customer else f"customer {order.customer_id}"},
            "choices": [(event, EVENT_LABELS[event]) for event in _choices(order.status)],
            "package": package_allowed(order.status, order.released),
            "bases": BASIS_LABELS,
            "field_labels": FIELD_LABELS,
            "trail": trail,
            "objections": objections,
            "title": _("Disclosure order %(id)s", id=order.id),
        },
    )


@router.post("/legal/orders/{order_id}/decision", include_in_schema=False)
def decide_order(
    request: Request,
    order_id: int,
    who: LegalOnly,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    field: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Comply, partially comply, contest or close, with the reason (and the fields released)."""
    try:
        event = OrderEvent(decision)
    except ValueError:
        raise DeskError(422, _("choose a decision")) from None
    if not reason.strip():
        raise DeskError(422, _("give the reason for the decision; it is recorded in the audit trail"))
    try:
        body = OrderDecision(
            decision=event,
            reason=reason,
            fields=[IdentityField(f) for f in field]
            if field and event is OrderEvent.partially_comply
            else None,
        )
    except (ValidationError, ValueError) as exc:
        raise DeskError(422, _("the decision is not valid: %(exc)s", exc=exc)) from None
    settings = settings_of(request)
    with database_of(request).writer() as session:
        try:
            order = disclosure.decide(
                session, order_id, body, now=now_of(request), actor=who.actor, provider=settings.provider_name
            )
        except disclosure.DisclosureError as exc:
            session.commit()  # a refused subpoena answer is audited
            raise DeskError(exc.status, exc.message) from None
        session.commit()
        status = order.status
    return redirect(
        request,
        f"{PREFIX}/legal/orders/{order_id}",
        _("Order %(order_id)s is now %(status)s.", order_id=order_id, status=labels.LABELS[status.value]),
    )


def _package(request: Request, order_id: int, fmt: str, who: DeskPrincipal) -> Response:
    settings = settings_of(request)
    with database_of(request).writer() as session:
        try:
            package, body = disclosure.download_package(
                session,
                order_id,
                fmt=fmt,
                now=now_of(request),
                actor=who.actor,
                provider=settings.provider_name,
            )
        except disclosure.DisclosureError:
            session.commit()  # a refused attempt is an access too: its audit entry stays
            raise
        session.commit()
    return Response(
        body,
        media_type="application/json" if fmt == "json" else "application/pdf",
        headers={
            "content-disposition": f'attachment; filename="disclosure-{package.order["id"]}.{fmt}"',
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
            "staydown-package-sha256": package.sha256,
        },
    )


@router.get("/legal/orders/{order_id}/package.json", include_in_schema=False)
def package_json(request: Request, order_id: int, who: LegalOnly) -> Response:
    return _package(request, order_id, "json", who)


@router.get("/legal/orders/{order_id}/package.pdf", include_in_schema=False)
def package_pdf(request: Request, order_id: int, who: LegalOnly) -> Response:
    return _package(request, order_id, "pdf", who)


@router.get("/legal/holds", include_in_schema=False)
def holds(
    request: Request,
    who: LegalOnly,
    active: Annotated[bool, Query()] = True,
    customer_id: int | None = None,
) -> Response:
    with database_of(request).reader() as session:
        rows = disclosure.list_holds(session, customer_id=customer_id, active=active)
        names = _names(session, (h.customer_id for h in rows))
    return render(
        request,
        "legal_holds.html",
        {
            "holds": list(reversed(rows)),
            "names": names,
            "active": active,
            "customer_id": customer_id,
            "title": _("Legal holds"),
        },
    )


@router.post("/legal/holds", include_in_schema=False)
def place_hold(
    request: Request,
    who: LegalOnly,
    customer_id: Annotated[str, Form()] = "",
    order_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Keep a customer's identity and logs from erasure, as ``POST /v1/legal-holds``."""
    if not customer_id.strip().isdigit():
        raise DeskError(422, _("give the customer's number"))
    if order_id.strip() and not order_id.strip().isdigit():
        raise DeskError(422, _("%(order_id)r is not an order number", order_id=order_id))
    if not reason.strip():
        raise DeskError(422, _("give the reason for the hold"))
    data = HoldCreate(
        customer_id=int(customer_id),
        order_id=int(order_id) if order_id.strip() else None,
        reason=reason.strip()[:4000],
    )
    with database_of(request).writer() as session:
        hold = disclosure.place_hold(session, data, now=now_of(request), actor=who.actor)
        session.commit()
        hold_id = hold.id
    return redirect(request, f"{PREFIX}/legal/holds", _("Legal hold %(hold_id)s placed.", hold_id=hold_id))


@router.post("/legal/holds/{hold_id}/release", include_in_schema=False)
def release_hold(
    request: Request,
    hold_id: int,
    who: LegalOnly,
    reason: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Lift a hold, with the reason, as ``POST /v1/legal-holds/{id}/release``."""
    if not reason.strip():
        raise DeskError(422, _("give the reason to release the hold"))
    with database_of(request).writer() as session:
        disclosure.release_hold(session, hold_id, now=now_of(request), actor=who.actor, reason=reason.strip())
        session.commit()
    back = next if next.startswith(f"{PREFIX}/legal/") and "//" not in next else f"{PREFIX}/legal/holds"
    return redirect(request, back, _("Legal hold %(hold_id)s released.", hold_id=hold_id))
