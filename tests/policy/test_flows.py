"""Pure policy decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from staydown.config import RepeatInfringerPolicy
from staydown.policy.flows import evaluate, strike_weight, strikes_within
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


def test_a_notice_weighs_one_strike_per_block_of_urls_up_to_the_cap() -> None:
    assert [strike_weight(n, POLICY) for n in (1, 50, 51, 100, 3000)] == [1, 1, 2, 2, 2]
    wide = RepeatInfringerPolicy(urls_per_strike=10, max_strikes_per_notice=4)
    assert [strike_weight(n, wide) for n in (0, 1, 10, 11, 35, 3000)] == [1, 1, 1, 2, 4, 4]


@given(st.integers(min_value=0, max_value=1_000_000), st.integers(1, 500), st.integers(1, 20))
def test_a_notices_weight_grows_with_its_size_and_stays_within_bounds(urls: int, per: int, cap: int) -> None:
    policy = RepeatInfringerPolicy(urls_per_strike=per, max_strikes_per_notice=cap)
    weight = strike_weight(urls, policy)
    assert 1 <= weight <= cap
    assert strike_weight(urls + 1, policy) >= weight
    # One notice of N URLs never weighs more than N notices of one URL each.
    assert weight <= max(1, urls)


def test_weighted_strikes_reach_thresholds_by_weight() -> None:
    # One notice of 3,000 URLs (weight 2) warns but does not suspend; with a single-URL notice it does.
    big = evaluate(
        strike_times=ago(1), weights=[2], now=NOW, policy=POLICY, standing="good", termination_pending=False
    )
    assert big is not None and (big.kind, big.strikes_counted) == (StepKind.warning, 2)
    both = evaluate(
        strike_times=ago(1, 2),
        weights=[2, 1],
        now=NOW,
        policy=POLICY,
        standing="warned",
        termination_pending=False,
    )
    assert both is not None and (both.kind, both.strikes_counted) == (StepKind.suspension, 3)
    # 3,000 single-URL notices are 3,000 strikes.
    many = evaluate(
        strike_times=ago(*[1] * 3000), now=NOW, policy=POLICY, standing="warned", termination_pending=False
    )
    assert many is not None and (many.kind, many.strikes_counted) == (StepKind.termination, 3000)
    assert strikes_within(ago(1, 400), now=NOW, days=365, weights=[2, 2]) == 2
