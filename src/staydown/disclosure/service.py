"""Record disclosure orders, decide them, produce disclosure packages, and keep or erase identity.

Every access to an order is an audit entry: creating, reading, listing, deciding and each download
of its package, in the same transaction as whatever it did. A legal hold keeps a customer's
identity record and logs from being erased while an order needs them; ``erase_customer_identity``
is the one way to erase them and it refuses under hold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.audit.service import canonical_json
from staydown.disclosure import letters, subpoena
from staydown.disclosure.flows import (
    Command,
    IdentityField,
    IllegalOrderTransition,
    LegalBasis,
    NotifyCustomer,
    OrderEvent,
    OrderStatus,
    ReleaseHolds,
    order_transition,
    package_allowed,
    receipt_commands,
    released_fields,
)
from staydown.disclosure.models import DisclosureOrder, LegalHold
from staydown.disclosure.pdf import render_pdf
from staydown.disclosure.schemas import (
    DisclosurePackage,
    ErasureResult,
    HoldCreate,
    OrderCreate,
    OrderDecision,
)
from staydown.due_process import service as due_process
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel
from staydown.notices import service as notices
from staydown.serial import service as serial

ORDER = "disclosure_order"
ERASED = accounts.ERASED


class DisclosureError(Exception):
    """A disclosure request that cannot be carried out; ``code`` names why."""

    def __init__(self, code: str, message: str, *, status: int = 409, details: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.details = code, message, status, details


# --- orders -----------------------------------------------------------------------------------


def create_order(
    session: Session, data: OrderCreate, *, now: datetime, actor: str, provider: str
) -> DisclosureOrder:
    """Record an order, place its legal hold and tell the customer unless the order forbids it."""
    customer = accounts.get_customer(session, data.customer_id)
    if customer is None:
        raise DisclosureError("not_found", f"customer {data.customer_id} does not exist", status=404)
    if data.notice_id is not None:
        notice = notices.get(session, data.notice_id)
        if notice is None:
            raise DisclosureError("notice_not_found", f"notice {data.notice_id} does not exist", status=422)
        if (
            data.legal_basis is LegalBasis.us_512h_subpoena
            and not notices.regime_rules(notice.regime).subpoena_512h
        ):
            raise DisclosureError(
                "not_dmca",
                f"notice {notice.id} is a {notice.regime.value} notice; a 17 U.S.C. 512(h) subpoena rests on "
                "a DMCA notification (512(c)(3)(A))",
                status=422,
            )
    order = DisclosureOrder(
        customer_id=customer.id,
        notice_id=data.notice_id,
        authority=data.authority,
        authority_kind=data.authority_kind,
        case_number=data.case_number,
        jurisdiction=data.jurisdiction,
        legal_basis=data.legal_basis,
        legal_basis_detail=data.legal_basis_detail,
        scope=[f.value for f in data.scope],
        scope_note=data.scope_note,
        issued_at=data.issued_at,
        received_at=now,
        deadline_at=data.deadline_at,
        gagged=data.gagged,
        gag_note=data.gag_note,
        status=OrderStatus.received,
        released=[],
        created_by=actor,
    )
    session.add(order)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="disclosure.order_created",
        entity=(ORDER, order.id),
        data={
            "customer_id": customer.id,
            "notice_id": data.notice_id,
            "legal_basis": data.legal_basis.value,
            "case_number": data.case_number,
            "jurisdiction": data.jurisdiction,
            "scope": order.scope,
            "gagged": data.gagged,
            "hold": data.hold,
        },
    )
    if data.hold:
        place_hold(
            session,
            HoldCreate(
                customer_id=customer.id,
                order_id=order.id,
                reason=f"{data.legal_basis.value} {data.case_number} ({data.authority})",
            ),
            now=now,
            actor=actor,
        )
    _run(session, order, receipt_commands(gagged=data.gagged), now=now, actor=actor, provider=provider)
    return order


def get_order(session: Session, order_id: int) -> DisclosureOrder | None:
    return session.get(DisclosureOrder, order_id)


def read_order(session: Session, order_id: int, *, now: datetime, actor: str) -> DisclosureOrder:
    """Return an order and record that ``actor`` read it."""
    order = _order(session, order_id)
    audit.record(session, at=now, actor=actor, action="disclosure.order_read", entity=(ORDER, order.id))
    return order


def list_orders(
    session: Session,
    *,
    now: datetime,
    actor: str,
    customer_id: int | None = None,
    status: OrderStatus | None = None,
) -> Sequence[DisclosureOrder]:
    """Return orders, newest first, and record the listing."""
    stmt = select(DisclosureOrder).order_by(DisclosureOrder.id.desc())
    if customer_id is not None:
        stmt = stmt.where(DisclosureOrder.customer_id == customer_id)
    if status is not None:
        stmt = stmt.where(DisclosureOrder.status == status)
    orders = session.scalars(stmt).all()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="disclosure.orders_listed",
        data={"order_ids": [o.id for o in orders][:1000], "customer_id": customer_id},
    )
    return orders


def decide(
    session: Session, order_id: int, decision: OrderDecision, *, now: datetime, actor: str, provider: str
) -> DisclosureOrder:
    """Comply, partially comply, contest or close an order, with the reason."""
    order = _order(session, order_id)
    scope = [IdentityField(f) for f in order.scope]
    limit = None
    if order.legal_basis is LegalBasis.us_512h_subpoena:
        limit = subpoena.SUBPOENA_FIELDS
        if decision.decision in (OrderEvent.comply, OrderEvent.partially_comply):
            _refuse_unanswerable(session, order, now=now, actor=actor)
    try:
        new, commands = order_transition(order.status, decision.decision, gagged=order.gagged)
        released = released_fields(decision.decision, scope=scope, requested=decision.fields, limit=limit)
    except IllegalOrderTransition as exc:
        raise DisclosureError("illegal_transition", str(exc)) from exc
    except ValueError as exc:
        raise DisclosureError("invalid_fields", str(exc), status=422) from exc
    previous = order.status
    order.status = new
    if decision.decision in (OrderEvent.comply, OrderEvent.partially_comply):
        order.released = [f.value for f in released]
    order.decision_reason = decision.reason
    order.decided_at = now
    order.decided_by = actor
    audit.record(
        session,
        at=now,
        actor=actor,
        action="disclosure.order_decided",
        entity=(ORDER, order.id),
        data={
            "from": previous.value,
            "to": new.value,
            "decision": decision.decision.value,
            "released": order.released,
            "reason": decision.reason,
        },
    )
    _run(session, order, commands, now=now, actor=actor, provider=provider)
    return order


def subpoena_facts(session: Session, order: DisclosureOrder) -> subpoena.SubpoenaFacts | None:
    """What answering the order depends on, when it is a §512(h) subpoena resting on a notice."""
    if order.legal_basis is not LegalBasis.us_512h_subpoena or order.notice_id is None:
        return None
    notice = notices.get(session, order.notice_id)
    if notice is None:
        return None
    items = notices.items_of(session, notice.id, customer_id=order.customer_id)
    zone_ids = {item.zone_id for item in items if item.zone_id is not None}
    return subpoena.SubpoenaFacts(
        regime=notice.regime.value,
        rests_on_notification=notices.regime_rules(notice.regime).subpoena_512h,
        missing_elements=tuple(notice.missing_elements),
        customer_items=sum(1 for item in items if item.zone_id is not None),
        service_types=frozenset(accounts.service_types(session, zone_ids).values()),
    )


def objections(session: Session, order: DisclosureOrder) -> list[subpoena.Objection] | None:
    """Why a §512(h) subpoena cannot be answered now (empty: it can); None for other orders."""
    facts = subpoena_facts(session, order)
    if facts is None:
        return None
    return subpoena.objections(facts)


def _refuse_unanswerable(session: Session, order: DisclosureOrder, *, now: datetime, actor: str) -> None:
    """Refuse to comply with a §512(h) subpoena its notice does not support; the refusal is audited
    (the caller commits it)."""
    found = objections(session, order) or []
    if not found:
        return
    details = [{"code": o.code, "message": o.message} for o in found]
    audit.record(
        session,
        at=now,
        actor=actor,
        action="disclosure.subpoena_refused",
        entity=(ORDER, order.id),
        data={"notice_id": order.notice_id, "objections": [o.code for o in found]},
    )
    raise DisclosureError(
        "subpoena_not_answerable",
        f"order {order.id} cannot be complied with: " + "; ".join(o.message for o in found),
        details=details,
    )


def _order(session: Session, order_id: int) -> DisclosureOrder:
    order = session.get(DisclosureOrder, order_id)
    if order is None:
        raise DisclosureError("not_found", f"disclosure order {order_id} does not exist", status=404)
    return order


def _run(
    session: Session,
    order: DisclosureOrder,
    commands: Sequence[Command],
    *,
    now: datetime,
    actor: str,
    provider: str,
) -> None:
    enforcement.run_commands(session, commands, enforcement.Step(order, now, actor, provider=provider))


def command_handlers() -> list[tuple[type, enforcement.CommandHandler]]:
    """How the disclosure workflow's commands are carried out, in the order their kinds run."""
    return [(NotifyCustomer, _notify_all), (ReleaseHolds, _release_holds)]


def _notify_all(session: Session, step: enforcement.Step, commands: Sequence[NotifyCustomer]) -> None:
    for command in commands:
        _notify(session, step.subject, command.event, now=step.now, provider=step.provider)


def _release_holds(session: Session, step: enforcement.Step, commands: Sequence[ReleaseHolds]) -> None:
    order: DisclosureOrder = step.subject
    for hold in session.scalars(
        select(LegalHold).where(LegalHold.order_id == order.id, LegalHold.released_at.is_(None))
    ):
        _release(session, hold, now=step.now, actor=step.actor, reason=f"order {order.id} closed")


def _notify(session: Session, order: DisclosureOrder, event: str, *, now: datetime, provider: str) -> None:
    customer = accounts.get_customer(session, order.customer_id)
    if customer is None:
        return
    # Customers registered before letters had a language were written to in English.
    subject, body = letters.order_letter(
        event,
        provider=provider,
        authority=order.authority,
        jurisdiction=order.jurisdiction,
        case_number=order.case_number,
        legal_basis=order.legal_basis.value,
        scope=order.scope,
        deadline_at=order.deadline_at,
        released=order.released or [],
        locale=customer.locale or "en",
    )
    enforcement.enqueue_message(
        session,
        at=now,
        kind="disclosure_" + event.split(".", 1)[1],
        channel=Channel.email,
        recipient=customer.email,
        subject=subject,
        body=body,
        payload={"event": f"disclosure.{event}", "order_id": order.id, "customer_id": customer.id},
        customer_id=customer.id,
    )
    order.customer_notified_at = now


# --- packages ---------------------------------------------------------------------------------


def _identity(session: Session, customer_id: int, fields: Sequence[IdentityField]) -> dict[str, Any]:
    customer = accounts.get_customer(session, customer_id)
    if customer is None:
        raise DisclosureError("not_found", f"customer {customer_id} does not exist", status=404)
    identity: dict[str, Any] = {}
    plain = {
        IdentityField.name: customer.name,
        IdentityField.address: customer.address,
        IdentityField.phone: customer.phone,
        IdentityField.email: customer.email,
        IdentityField.organization: customer.organization,
        IdentityField.payment_reference: customer.payment_reference,
    }
    for field in fields:
        if field in plain:
            identity[field.value] = plain[field]
        elif field is IdentityField.signup_ip:
            identity["signup"] = {"ip": customer.signup_ip, "at": customer.signup_at.isoformat()}
        elif field is IdentityField.verification:
            identity["verification"] = {
                "level": customer.verification_level.value,
                "evidence": [
                    {
                        "kind": e.kind,
                        "reference": e.reference,
                        "submitted_at": e.submitted_at.isoformat(),
                    }
                    for e in accounts.list_evidence(session, customer.id)
                ],
            }
        elif field is IdentityField.zones:
            identity["zones"] = [
                {
                    "hostname": z.hostname,
                    "status": z.status.value,
                    "created_at": z.created_at.isoformat(),
                    "domain_control_verified_at": z.dcv_verified_at.isoformat()
                    if z.dcv_verified_at
                    else None,
                }
                for z in accounts.list_zones(session, customer_id=customer.id)
            ]
    return identity


# How a person reads who acted ("Agent Sato (legal)"), not how it is recorded (``key:3``): the
# assembly installs the desk's naming (``name_actors_with``).
_NAMERS: list[Callable[[Session, str], str]] = []


def name_actors_with(namer: Callable[[Session, str], str]) -> None:
    """Use ``namer`` to name the person who decided an order in its package (JSON and PDF)."""
    _NAMERS[:] = [namer]


def _actor_name(session: Session, actor: str | None) -> str | None:
    if not actor:
        return None
    if not _NAMERS:
        raise RuntimeError("disclosure packages name people: call staydown.assembly.install() first")
    return _NAMERS[0](session, actor)


def build_package(
    session: Session, order: DisclosureOrder, *, now: datetime, provider: str
) -> DisclosurePackage:
    """Assemble the package of an order whose decision released data; 409 before that."""
    if not package_allowed(order.status, order.released):
        raise DisclosureError(
            "no_decision" if order.status is OrderStatus.received else "nothing_released",
            f"order {order.id} is {order.status.value}: a package exists only after a decision to comply "
            "or partially comply",
        )
    released = [IdentityField(f) for f in order.released]
    package = DisclosurePackage(
        provider=provider,
        generated_at=now,
        order={
            "id": order.id,
            "authority": order.authority,
            "authority_kind": order.authority_kind,
            "case_number": order.case_number,
            "jurisdiction": order.jurisdiction,
            "legal_basis": order.legal_basis.value,
            "legal_basis_detail": order.legal_basis_detail,
            "scope": order.scope,
            "issued_at": order.issued_at.isoformat() if order.issued_at else None,
            "received_at": order.received_at.isoformat(),
            "deadline_at": order.deadline_at.isoformat() if order.deadline_at else None,
        },
        decision={
            "status": order.status.value,
            "reason": order.decision_reason,
            "decided_at": order.decided_at.isoformat() if order.decided_at else None,
            "decided_by": _actor_name(session, order.decided_by),
            "released": order.released,
        },
        customer_id=order.customer_id,
        identity=_identity(session, order.customer_id, released),
        withheld=[f for f in order.scope if f not in order.released],
        notice=_subpoena_notice(session, order),
    )
    digest = hashlib.sha256(canonical_json(package.model_dump(mode="json", exclude={"sha256"})).encode())
    package.sha256 = digest.hexdigest()
    return package


def _subpoena_notice(session: Session, order: DisclosureOrder) -> dict[str, Any] | None:
    """For a §512(h) subpoena: the notice it rests on and this customer's material named in it."""
    facts = subpoena_facts(session, order)
    if facts is None or order.notice_id is None:
        return None
    notice = notices.get(session, order.notice_id)
    assert notice is not None
    items = [i for i in notices.items_of(session, notice.id, customer_id=order.customer_id) if i.zone_id]
    return {
        "id": notice.id,
        "regime": notice.regime.value,
        "received_at": notice.received_at.isoformat(),
        "legal_basis": subpoena.LEGAL_BASIS,
        "identifies": subpoena.identified(facts.service_types),
        "material": [item.url for item in items[:1000]],
        "material_count": len(items),
    }


def download_package(
    session: Session, order_id: int, *, fmt: str, now: datetime, actor: str, provider: str
) -> tuple[DisclosurePackage, bytes]:
    """Produce the package as JSON or PDF bytes and record the download."""
    order = _order(session, order_id)
    try:
        package = build_package(session, order, now=now, provider=provider)
    except DisclosureError as exc:
        # A refused attempt is an access too: the caller commits this entry before answering.
        audit.record(
            session,
            at=now,
            actor=actor,
            action="disclosure.package_refused",
            entity=(ORDER, order.id),
            data={"format": fmt, "reason": exc.code},
        )
        raise
    body = package.model_dump_json(indent=2).encode() if fmt == "json" else render_pdf(package)
    audit.record(
        session,
        at=now,
        actor=actor,
        action="disclosure.package_downloaded",
        entity=(ORDER, order.id),
        data={
            "format": fmt,
            "package_sha256": package.sha256,
            "bytes_sha256": hashlib.sha256(body).hexdigest(),
            "released": order.released,
        },
    )
    return package, body


# --- legal holds and erasure ------------------------------------------------------------------


def place_hold(session: Session, data: HoldCreate, *, now: datetime, actor: str) -> LegalHold:
    """Stop the customer's identity record and logs from being erased until the hold is released."""
    if accounts.get_customer(session, data.customer_id) is None:
        raise DisclosureError("not_found", f"customer {data.customer_id} does not exist", status=404)
    if data.order_id is not None:
        order = _order(session, data.order_id)
        if order.customer_id != data.customer_id:
            raise DisclosureError(
                "customer_mismatch", f"order {order.id} is about another customer", status=422
            )
    hold = LegalHold(
        customer_id=data.customer_id,
        order_id=data.order_id,
        reason=data.reason,
        placed_at=now,
        placed_by=actor,
    )
    session.add(hold)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="disclosure.hold_placed",
        entity=("customer", data.customer_id),
        data={"hold_id": hold.id, "order_id": data.order_id, "reason": data.reason},
    )
    return hold


def release_hold(session: Session, hold_id: int, *, now: datetime, actor: str, reason: str) -> LegalHold:
    """Lift a hold (its order no longer needs the data)."""
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        raise DisclosureError("not_found", f"legal hold {hold_id} does not exist", status=404)
    if hold.released_at is not None:
        raise DisclosureError("already_released", f"legal hold {hold_id} was released already")
    _release(session, hold, now=now, actor=actor, reason=reason)
    return hold


def _release(session: Session, hold: LegalHold, *, now: datetime, actor: str, reason: str) -> None:
    hold.released_at, hold.released_by, hold.release_reason = now, actor, reason
    audit.record(
        session,
        at=now,
        actor=actor,
        action="disclosure.hold_released",
        entity=("customer", hold.customer_id),
        data={"hold_id": hold.id, "order_id": hold.order_id, "reason": reason},
    )


def list_holds(
    session: Session, *, customer_id: int | None = None, order_id: int | None = None, active: bool = False
) -> Sequence[LegalHold]:
    stmt = select(LegalHold).order_by(LegalHold.id)
    if customer_id is not None:
        stmt = stmt.where(LegalHold.customer_id == customer_id)
    if order_id is not None:
        stmt = stmt.where(LegalHold.order_id == order_id)
    if active:
        stmt = stmt.where(LegalHold.released_at.is_(None))
    return session.scalars(stmt).all()


def is_held(session: Session, customer_id: int) -> bool:
    """Whether any legal hold keeps this customer's identity and logs."""
    return bool(list_holds(session, customer_id=customer_id, active=True))


@dataclass(frozen=True, slots=True)
class _Erasable:
    attribute: str
    replacement: Any


def _erasable(customer_id: int) -> list[_Erasable]:
    return [
        _Erasable("name", ERASED),
        _Erasable("email", f"erased-{customer_id}@erased.invalid"),
        _Erasable("address", None),
        _Erasable("phone", None),
        _Erasable("organization", None),
        _Erasable("payment_reference", None),
        _Erasable("webhook_url", None),
        _Erasable("signup_ip", None),
    ]


def erase_customer_identity(
    session: Session, customer_id: int, *, now: datetime, actor: str, reason: str
) -> ErasureResult:
    """Erase a customer's identity record and sign-up log (GDPR Art. 17); refused under a legal hold.

    A refusal stages an audit entry before raising; the caller commits it.

    The customer row stays (notices, strikes and the audit chain refer to it); what identifies a
    person is overwritten, and the references and details of identity evidence are cleared.
    """
    customer = accounts.get_customer(session, customer_id)
    if customer is None:
        raise DisclosureError("not_found", f"customer {customer_id} does not exist", status=404)
    holds = list_holds(session, customer_id=customer_id, active=True)
    if holds:
        audit.record(
            session,
            at=now,
            actor=actor,
            action="customer.erasure_refused",
            entity=("customer", customer_id),
            data={"hold_ids": [h.id for h in holds], "reason": reason},
        )
        raise DisclosureError(
            "legal_hold",
            f"customer {customer_id} is under legal hold; identity and logs cannot be erased",
            details=[{"hold_id": h.id, "order_id": h.order_id, "reason": h.reason} for h in holds],
        )
    # Copies of the identity elsewhere: letters sent to its addresses, its counter-notices and complaints.
    addresses = [a for a in (customer.email, customer.webhook_url) if a]
    erased = []
    for field in _erasable(customer_id):
        if getattr(customer, field.attribute) != field.replacement:
            setattr(customer, field.attribute, field.replacement)
            erased.append(field.attribute)
    evidence = accounts.list_evidence(session, customer_id)
    for item in evidence:
        item.reference = None
        item.details = {"erased": True}
    letters = enforcement.erase_messages(session, customer_id=customer_id, recipients=addresses)
    records = due_process.erase_customer(session, customer_id)
    marks = serial.erase_identity_marks(session, customer_id)
    audit.record(
        session,
        at=now,
        actor=actor,
        action="customer.identity_erased",
        entity=("customer", customer_id),
        data={
            "fields": erased,
            "evidence": len(evidence),
            "letters": letters,
            "due_process_records": records,
            "identity_marks": marks,
            "reason": reason,
        },
    )
    return ErasureResult(
        customer_id=customer_id, erased_fields=erased, evidence_erased=len(evidence), erased_at=now
    )


# --- figures for reports ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderFigure:
    """One order received in a reporting period, as the transparency report counts it."""

    legal_basis: str
    jurisdiction: str
    status: str
    gagged: bool


def orders_received(session: Session, *, start: datetime, end: datetime) -> list[OrderFigure]:
    """Orders received in ``[start, end)`` with their current status (no personal data)."""
    rows = session.execute(
        select(
            DisclosureOrder.legal_basis,
            DisclosureOrder.jurisdiction,
            DisclosureOrder.status,
            DisclosureOrder.gagged,
        ).where(DisclosureOrder.received_at >= start, DisclosureOrder.received_at < end)
    ).all()
    return [OrderFigure(b.value, j, s.value, g) for b, j, s, g in rows]
