"""Pure policy decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from staydown.config import RepeatInfringerPolicy
from staydown.policy.flows import evaluate, strikes_within
from staydown.policy.models import StepKind

NOW = datetime(2026, 6, 1, tzinfo=UTC)
POLICY = RepeatInfringerPolicy()


def ago(*days: float) -> list[datetime]:
    return [NOW - timedelta(days=d) for d in days]


def test_thresholds() -> None:
    assert (
        evaluate(strike_times=[], now=NOW, policy=POLICY, standing="good", termination_pending=False) is None
    )
    one = evaluate(strike_times=ago(1), now=NOW, policy=POLICY, standing="good", termination_pending=False)
    assert one is not None and one.kind is StepKind.warning
    assert (
        evaluate(strike_times=ago(1), now=NOW, policy=POLICY, standing="warned", termination_pending=False)
        is None
    )
    three = evaluate(
        strike_times=ago(1, 30, 89), now=NOW, policy=POLICY, standing="warned", termination_pending=False
    )
    assert three is not None and three.kind is StepKind.suspension
    old = evaluate(
        strike_times=ago(1, 30, 91), now=NOW, policy=POLICY, standing="warned", termination_pending=False
    )
    assert old is None
    five = evaluate(
        strike_times=ago(1, 30, 91, 120, 179),
        now=NOW,
        policy=POLICY,
        standing="suspended",
        termination_pending=False,
    )
    assert five is not None and five.kind is StepKind.termination
    assert (
        evaluate(
            strike_times=ago(1, 2, 3, 4, 5),
            now=NOW,
            policy=POLICY,
            standing="terminated",
            termination_pending=False,
        )
        is None
    )


def test_reinstatement_resets_suspension_but_not_termination() -> None:
    strikes = ago(10, 20, 30)
    assert (
        evaluate(
            strike_times=strikes,
            now=NOW,
            policy=POLICY,
            standing="warned",
            termination_pending=False,
            reinstated_at=NOW - timedelta(days=5),
        )
        is None
    )


@given(st.lists(st.floats(min_value=0, max_value=400), max_size=12), st.floats(min_value=0, max_value=30))
def test_more_strikes_never_lighten_the_step(days: list[float], extra: float) -> None:
    order = [None, StepKind.warning, StepKind.suspension, StepKind.termination]
    before = evaluate(
        strike_times=ago(*days), now=NOW, policy=POLICY, standing="good", termination_pending=False
    )
    after = evaluate(
        strike_times=ago(*days, extra), now=NOW, policy=POLICY, standing="good", termination_pending=False
    )
    assert order.index(after.kind if after else None) >= order.index(before.kind if before else None)
    assert strikes_within(ago(*days, extra), now=NOW, days=90) >= strikes_within(ago(*days), now=NOW, days=90)
