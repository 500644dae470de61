"""The disclosure-order workflow as a pure transition table, and the rules around it.

An order is received, then decided: comply, partially comply or contest. A contested order can
later be complied with (the court upheld it) or closed (it was set aside or withdrawn). A
disclosure package exists only for an order that was complied with, in full or in part, and
holds only the fields the decision released. The customer is told at each step unless the order
forbids it (a gag). Nothing here does I/O; the service runs the commands.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass


class LegalBasis(enum.StrEnum):
    """What the order rests on."""

    us_512h_subpoena = "us_512h_subpoena"  # 17 U.S.C. §512(h) subpoena to identify an infringer
    jp_disclosure_order = "jp_disclosure_order"  # 発信者情報開示命令 (Information Distribution Platform Act)
    jp_log_preservation_order = "jp_log_preservation_order"  # 消去禁止命令: keep the sender's logs
    court_order = "court_order"  # any other court order
    authority_order = "authority_order"  # an administrative authority (e.g. DSA Art. 10 order)


class OrderStatus(enum.StrEnum):
    received = "received"
    complied = "complied"
    partially_complied = "partially_complied"
    contested = "contested"
    closed = "closed"


class OrderEvent(enum.StrEnum):
    comply = "comply"
    partially_comply = "partially_comply"
    contest = "contest"
    close = "close"  # set aside, withdrawn or otherwise ended without disclosure


class IdentityField(enum.StrEnum):
    """What an order may ask for: the identity record kept for this purpose (LEGAL.md, Identity)."""

    name = "name"
    address = "address"
    phone = "phone"
    email = "email"
    organization = "organization"
    payment_reference = "payment_reference"
    signup_ip = "signup_ip"  # IP address and time of sign-up: the log an order names
    verification = "verification"  # level, reviewer decisions and evidence references
    zones = "zones"  # hostnames served for the customer and since when


class IllegalOrderTransition(Exception):
    """An event was applied to an order state that does not allow it."""

    def __init__(self, state: OrderStatus, event: OrderEvent) -> None:
        super().__init__(f"an order that is {state.value!r} cannot be given {event.value!r}")
        self.state, self.event = state, event


S, E = OrderStatus, OrderEvent
ORDER_TRANSITIONS: dict[tuple[OrderStatus, OrderEvent], OrderStatus] = {
    (S.received, E.comply): S.complied,
    (S.received, E.partially_comply): S.partially_complied,
    (S.received, E.contest): S.contested,
    (S.received, E.close): S.closed,
    (S.contested, E.comply): S.complied,
    (S.contested, E.partially_comply): S.partially_complied,
    (S.contested, E.close): S.closed,
    (S.complied, E.close): S.closed,
    (S.partially_complied, E.close): S.closed,
}

# States whose decision released data: the package can be produced (and stays producible once closed
# only if something was released before; see ``package_allowed``).
RELEASING = frozenset({S.complied, S.partially_complied})


@dataclass(frozen=True, slots=True)
class NotifyCustomer:
    """Tell the customer what happened to an order about them."""

    event: str


@dataclass(frozen=True, slots=True)
class ReleaseHolds:
    """The order has ended: the holds it placed may be lifted."""


Command = NotifyCustomer | ReleaseHolds


def order_transition(
    state: OrderStatus, event: OrderEvent, *, gagged: bool
) -> tuple[OrderStatus, list[Command]]:
    """Return the state after ``event`` and the commands it implies."""
    new = ORDER_TRANSITIONS.get((state, event))
    if new is None:
        raise IllegalOrderTransition(state, event)
    commands: list[Command] = []
    if not gagged:
        commands.append(NotifyCustomer(f"order.{new.value}"))
    if new is S.closed:
        commands.append(ReleaseHolds())
    return new, commands


def receipt_commands(*, gagged: bool) -> list[Command]:
    """What receiving an order implies: the customer hears of it (and may object) unless gagged."""
    return [] if gagged else [NotifyCustomer("order.received")]


def package_allowed(status: OrderStatus, released: Iterable[str]) -> bool:
    """A package exists only after a decision that released at least one field."""
    if status in RELEASING:
        return True
    return status is S.closed and bool(list(released))


def released_fields(
    event: OrderEvent,
    *,
    scope: list[IdentityField],
    requested: list[IdentityField] | None,
    limit: Collection[IdentityField] | None = None,
) -> list[IdentityField]:
    """The fields a decision releases; raise ``ValueError`` naming what is wrong with the request.

    Full compliance releases the whole scope (within ``limit``, the fields the legal basis lets
    the provider disclose at all); partial compliance a non-empty strict subset of it; contesting
    or closing releases nothing.
    """
    if event is E.comply:
        if requested and set(requested) != set(scope):
            raise ValueError("full compliance releases the whole scope; use partially_comply to limit it")
        released = [f for f in scope if limit is None or f in limit]
        if not released:
            raise ValueError("nothing in the order's scope may be disclosed on its legal basis")
        return released
    if event is E.partially_comply:
        if not requested:
            raise ValueError("partial compliance must name the fields it releases")
        outside = [f.value for f in requested if f not in scope]
        if outside:
            raise ValueError(f"fields outside the order's scope: {', '.join(outside)}")
        beyond = [f.value for f in requested if limit is not None and f not in limit]
        if beyond:
            raise ValueError(f"fields its legal basis does not let us disclose: {', '.join(beyond)}")
        if set(requested) == set(scope):
            raise ValueError("these are all the fields in scope: that is full compliance")
        return [f for f in scope if f in set(requested)]
    if requested:
        raise ValueError(f"a decision to {event.value} releases no fields")
    return []
