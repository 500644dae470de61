"""Routes for disclosure orders, legal holds, disclosure packages and erasure of personal data.

Orders and packages are for the ``legal`` role alone: unlike every other route, ``admin`` is not
let through, because a disclosure package is the one place a customer's verified identity leaves
the provider. Every route that touches an order writes an audit entry, reads included. A notifier
asks for the erasure of its own data with its key (an agent may ask on its behalf).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.api.deps import AnyRole, NowDep, Principal, SettingsDep, Writer, require
from staydown.api.errors import ApiError
from staydown.disclosure import retention, service
from staydown.disclosure.flows import OrderStatus, package_allowed
from staydown.disclosure.models import DisclosureOrder
from staydown.disclosure.schemas import (
    ErasureRequest,
    ErasureResult,
    HoldCreate,
    HoldRead,
    HoldRelease,
    NotifierErasureRequest,
    NotifierErasureResult,
    OrderCreate,
    OrderDecision,
    OrderRead,
    SubpoenaObjection,
)
from staydown.types import Role

router = APIRouter(tags=["disclosure"])


def legal_only(who: AnyRole) -> Principal:
    """Admit the ``legal`` role and no other (not even ``admin``)."""
    if who.role is not Role.legal:
        raise ApiError(
            403, "forbidden", f"disclosure orders are for the legal role only; the key is {who.role.value}"
        )
    return who


Legal = Annotated[Principal, Depends(legal_only)]
Eraser = Annotated[Principal, Depends(require(Role.legal))]
Notifier = Annotated[Principal, Depends(require(Role.submitter))]
Agent = Annotated[Principal, Depends(require(Role.agent))]


@contextmanager
def _answer(session: Session, *, commit_refusal: bool = False) -> Iterator[None]:
    """Render a ``DisclosureError`` in the common shape (committing a refusal's audit entry if asked)."""
    try:
        yield
    except service.DisclosureError as exc:
        if commit_refusal:
            session.commit()
        raise ApiError(exc.status, exc.code, exc.message, exc.details) from exc


def _read(session: Session, order: DisclosureOrder) -> OrderRead:
    view = OrderRead.model_validate(order, from_attributes=True)
    view.package_available = package_allowed(order.status, order.released)
    view.holds = [
        HoldRead.model_validate(h, from_attributes=True)
        for h in service.list_holds(session, order_id=order.id)
    ]
    found = service.objections(session, order)
    if found is not None:
        view.answerable = not found
        view.objections = [SubpoenaObjection(code=o.code, message=o.message) for o in found]
    return view


@router.post("/v1/disclosure-orders", status_code=201, response_model=OrderRead)
def create_order(
    body: OrderCreate, who: Legal, session: Writer, now: NowDep, settings: SettingsDep
) -> OrderRead:
    """Record a disclosure or preservation order; place its legal hold; tell the customer unless gagged."""
    with _answer(session):
        order = service.create_order(session, body, now=now, actor=who.actor, provider=settings.provider_name)
    session.commit()
    return _read(session, order)


@router.get("/v1/disclosure-orders", response_model=list[OrderRead])
def list_orders(
    who: Legal,
    session: Writer,
    now: NowDep,
    customer_id: int | None = None,
    status: OrderStatus | None = None,
) -> list[OrderRead]:
    """List orders, newest first (the listing is audited)."""
    orders = service.list_orders(session, now=now, actor=who.actor, customer_id=customer_id, status=status)
    session.commit()
    return [_read(session, order) for order in orders]


@router.get("/v1/disclosure-orders/{order_id}", response_model=OrderRead)
def get_order(order_id: int, who: Legal, session: Writer, now: NowDep) -> OrderRead:
    """Read one order (the read is audited)."""
    with _answer(session):
        order = service.read_order(session, order_id, now=now, actor=who.actor)
    session.commit()
    return _read(session, order)


@router.post("/v1/disclosure-orders/{order_id}/decision", response_model=OrderRead)
def decide_order(
    order_id: int, body: OrderDecision, who: Legal, session: Writer, now: NowDep, settings: SettingsDep
) -> OrderRead:
    """Comply, partially comply (naming the fields released), contest or close an order."""
    with _answer(session, commit_refusal=True):  # a refused subpoena answer is audited
        order = service.decide(
            session, order_id, body, now=now, actor=who.actor, provider=settings.provider_name
        )
    session.commit()
    return _read(session, order)


def _package(
    order_id: int, fmt: str, who: Principal, session: Session, now: NowDep, settings: SettingsDep
) -> Response:
    with _answer(session, commit_refusal=True):
        package, body = service.download_package(
            session, order_id, fmt=fmt, now=now, actor=who.actor, provider=settings.provider_name
        )
    session.commit()
    name = f"disclosure-{package.order['id']}.{fmt}"
    return Response(
        body,
        media_type="application/json" if fmt == "json" else "application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "Staydown-Package-SHA256": package.sha256,
        },
    )


@router.get(
    "/v1/disclosure-orders/{order_id}/package", responses={200: {"content": {"application/json": {}}}}
)
def package_json(order_id: int, who: Legal, session: Writer, now: NowDep, settings: SettingsDep) -> Response:
    """The disclosure package as JSON; 409 until a decision released data (every attempt is audited)."""
    return _package(order_id, "json", who, session, now, settings)


@router.get(
    "/v1/disclosure-orders/{order_id}/package.pdf", responses={200: {"content": {"application/pdf": {}}}}
)
def package_pdf(order_id: int, who: Legal, session: Writer, now: NowDep, settings: SettingsDep) -> Response:
    """The disclosure package as PDF; 409 until a decision released data (every attempt is audited)."""
    return _package(order_id, "pdf", who, session, now, settings)


@router.post("/v1/legal-holds", status_code=201, response_model=HoldRead)
def place_hold(body: HoldCreate, who: Legal, session: Writer, now: NowDep) -> HoldRead:
    """Place a legal hold on a customer's identity and logs."""
    with _answer(session):
        hold = service.place_hold(session, body, now=now, actor=who.actor)
    session.commit()
    return HoldRead.model_validate(hold, from_attributes=True)


@router.get("/v1/legal-holds", response_model=list[HoldRead])
def list_holds(
    who: Legal, session: Writer, customer_id: int | None = None, active: bool = False
) -> list[HoldRead]:
    """List legal holds (``active=true``: only those in force)."""
    holds = service.list_holds(session, customer_id=customer_id, active=active)
    return [HoldRead.model_validate(h, from_attributes=True) for h in holds]


@router.post("/v1/legal-holds/{hold_id}/release", response_model=HoldRead)
def release_hold(hold_id: int, body: HoldRelease, who: Legal, session: Writer, now: NowDep) -> HoldRead:
    """Release a legal hold, with the reason."""
    with _answer(session):
        hold = service.release_hold(session, hold_id, now=now, actor=who.actor, reason=body.reason)
    session.commit()
    return HoldRead.model_validate(hold, from_attributes=True)


@router.post("/v1/customers/{customer_id}/erasure", response_model=ErasureResult)
def erase_identity(
    customer_id: int, body: ErasureRequest, who: Eraser, session: Writer, now: NowDep
) -> ErasureResult:
    """Erase a customer's identity record (GDPR Art. 17); 409 while a legal hold is in force."""
    with _answer(session, commit_refusal=True):
        result = service.erase_customer_identity(
            session, customer_id, now=now, actor=who.actor, reason=body.reason
        )
    session.commit()
    return result


@router.post("/v1/notifiers/me/erasure", response_model=NotifierErasureResult)
def erase_own_notifier_data(
    body: NotifierErasureRequest, who: Notifier, session: Writer, now: NowDep, settings: SettingsDep
) -> NotifierErasureResult:
    """Erase your personal data as a notifier (GDPR Art. 17); the answer lists what is kept and why."""
    result = retention.erase_notifier(
        session, who.key_id, now=now, actor=who.actor, reason=body.reason, settings=settings
    )
    session.commit()
    return result


@router.post("/v1/notifiers/{key_id}/erasure", response_model=NotifierErasureResult)
def erase_notifier_data(
    key_id: int, body: NotifierErasureRequest, who: Agent, session: Writer, now: NowDep, settings: SettingsDep
) -> NotifierErasureResult:
    """Erase a notifier's personal data on its behalf (GDPR Art. 17); what is kept is listed with why."""
    key = accounts.get_key(session, key_id)
    if key is None or key.role is not Role.submitter:
        raise ApiError(404, "not_found", f"notifier key {key_id} does not exist")
    result = retention.erase_notifier(
        session, key_id, now=now, actor=who.actor, reason=body.reason, settings=settings
    )
    session.commit()
    return result
