"""The disclosure-order transition table and the release rules, as pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staydown.disclosure.flows import (
    ORDER_TRANSITIONS,
    IdentityField,
    IllegalOrderTransition,
    NotifyCustomer,
    OrderEvent,
    OrderStatus,
    ReleaseHolds,
    order_transition,
    package_allowed,
    receipt_commands,
    released_fields,
)

SCOPE = [IdentityField.name, IdentityField.email, IdentityField.signup_ip]


def test_decisions_from_received() -> None:
    assert order_transition(OrderStatus.received, OrderEvent.comply, gagged=False) == (
        OrderStatus.complied,
        [NotifyCustomer("order.complied")],
    )
    assert (
        order_transition(OrderStatus.received, OrderEvent.contest, gagged=False)[0] is OrderStatus.contested
    )
    assert (
        order_transition(OrderStatus.contested, OrderEvent.partially_comply, gagged=False)[0]
        is OrderStatus.partially_complied
    )


def test_a_gag_silences_every_notification() -> None:
    assert receipt_commands(gagged=True) == []
    assert receipt_commands(gagged=False) == [NotifyCustomer("order.received")]
    for (state, event), _new in ORDER_TRANSITIONS.items():
        _, commands = order_transition(state, event, gagged=True)
        assert not any(isinstance(c, NotifyCustomer) for c in commands)


def test_closing_releases_holds() -> None:
    _, commands = order_transition(OrderStatus.contested, OrderEvent.close, gagged=True)
    assert commands == [ReleaseHolds()]


@given(st.sampled_from(list(OrderStatus)), st.sampled_from(list(OrderEvent)), st.booleans())
def test_table_is_total_and_illegal_pairs_raise(state: OrderStatus, event: OrderEvent, gagged: bool) -> None:
    if (state, event) in ORDER_TRANSITIONS:
        assert order_transition(state, event, gagged=gagged)[0] is ORDER_TRANSITIONS[(state, event)]
    else:
        with pytest.raises(IllegalOrderTransition):
            order_transition(state, event, gagged=gagged)


def test_a_decided_order_cannot_be_decided_again() -> None:
    for state in (OrderStatus.complied, OrderStatus.partially_complied):
        for event in (OrderEvent.comply, OrderEvent.partially_comply, OrderEvent.contest):
            with pytest.raises(IllegalOrderTransition):
                order_transition(state, event, gagged=False)


def test_released_fields() -> None:
    assert released_fields(OrderEvent.comply, scope=SCOPE, requested=None) == SCOPE
    assert released_fields(OrderEvent.partially_comply, scope=SCOPE, requested=[IdentityField.email]) == [
        IdentityField.email
    ]
    assert released_fields(OrderEvent.contest, scope=SCOPE, requested=None) == []
    with pytest.raises(ValueError, match="must name"):
        released_fields(OrderEvent.partially_comply, scope=SCOPE, requested=None)
    with pytest.raises(ValueError, match="outside the order's scope: phone"):
        released_fields(OrderEvent.partially_comply, scope=SCOPE, requested=[IdentityField.phone])
    with pytest.raises(ValueError, match="full compliance"):
        released_fields(OrderEvent.partially_comply, scope=SCOPE, requested=SCOPE)
    with pytest.raises(ValueError, match="releases no fields"):
        released_fields(OrderEvent.contest, scope=SCOPE, requested=[IdentityField.email])


def test_package_only_after_a_releasing_decision() -> None:
    assert not package_allowed(OrderStatus.received, [])
    assert not package_allowed(OrderStatus.contested, [])
    assert not package_allowed(OrderStatus.closed, [])
    assert package_allowed(OrderStatus.complied, ["name"])
    assert package_allowed(OrderStatus.closed, ["name"])
