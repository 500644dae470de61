"""Pure repeat-infringer decisions: which step, if any, a customer's strikes now warrant."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from staydown.config import RepeatInfringerPolicy
from staydown.policy.models import StepKind


@dataclass(frozen=True, slots=True)
class StepDecision:
    kind: StepKind
    strikes_counted: int
    window_days: int
    reason: str


def strike_weight(urls: int, policy: RepeatInfringerPolicy) -> int:
    """How many strikes a notice counts for with ``urls`` URLs actioned on one customer's zones.

    One per ``urls_per_strike`` URLs begun, at least one and at most ``max_strikes_per_notice``.
    """
    return max(1, min(policy.max_strikes_per_notice, math.ceil(urls / policy.urls_per_strike)))


def strikes_within(
    strike_times: Iterable[datetime],
    *,
    now: datetime,
    days: int,
    weights: Sequence[int] | None = None,
) -> int:
    """Count strikes (each by its weight, one when none is given) in the ``days`` up to ``now``."""
    since = now - timedelta(days=days)
    times = list(strike_times)
    counted = weights if weights is not None else [1] * len(times)
    return sum(weight for at, weight in zip(times, counted, strict=True) if since < at <= now)


def evaluate(
    *,
    strike_times: list[datetime],
    now: datetime,
    policy: RepeatInfringerPolicy,
    standing: str,
    termination_pending: bool,
    reinstated_at: datetime | None = None,
    weights: Sequence[int] | None = None,
) -> StepDecision | None:
    """Return the most severe step the active strikes warrant that has not been taken yet.

    Each strike counts by its weight (``weights``, parallel to ``strike_times``; one each when
    absent). Strikes that led to a suspension an agent has since lifted do not suspend again on
    their own; they still count toward termination.
    """
    if standing == "terminated":
        return None
    if weights is None:
        weights = [1] * len(strike_times)
    term = policy.termination
    n_term = strikes_within(strike_times, now=now, days=term.window_days, weights=weights)
    if n_term >= term.strikes:
        reason = f"{n_term} strikes within {term.window_days} days (termination threshold {term.strikes})"
        if term.automatic:
            return StepDecision(StepKind.termination, n_term, term.window_days, reason)
        if not termination_pending:
            return StepDecision(StepKind.termination_pending, n_term, term.window_days, reason)
    susp = policy.suspension
    fresh = [
        (at, w)
        for at, w in zip(strike_times, weights, strict=True)
        if reinstated_at is None or at > reinstated_at
    ]
    n_susp = strikes_within(
        [at for at, _ in fresh], now=now, days=susp.window_days, weights=[w for _, w in fresh]
    )
    if standing in ("good", "warned") and n_susp >= susp.strikes:
        reason = f"{n_susp} strikes within {susp.window_days} days (suspension threshold {susp.strikes})"
        return StepDecision(StepKind.suspension, n_susp, susp.window_days, reason)
    n_live = strikes_within(strike_times, now=now, days=policy.strike_lifetime_days, weights=weights)
    if standing == "good" and n_live >= policy.warning_strikes:
        reason = f"{n_live} strike(s) on record (warning threshold {policy.warning_strikes})"
        return StepDecision(StepKind.warning, n_live, policy.strike_lifetime_days, reason)
    return None


def policy_text(policy: RepeatInfringerPolicy, *, provider: str) -> str:
    """Render the published repeat-infringer policy from the configuration that enforces it."""
    term = policy.termination
    susp = policy.suspension
    termination = (
        f"{term.strikes} strikes within {term.window_days} days terminate the account and every zone of it"
        if term.automatic
        else f"{term.strikes} strikes within {term.window_days} days refer the account to an agent, "
        "who may terminate it and every zone of it"
    )
    return "\n".join(
        [
            f"# {provider} repeat-infringer policy",
            "",
            f"{provider} terminates, in appropriate circumstances, the accounts of customers who are repeat "
            "infringers (17 U.S.C. 512(i)(1)(A); Regulation (EU) 2022/2065 Art. 23).",
            "",
            "## Strikes",
            "A customer receives strikes for each valid notice of which at least one item was actioned "
            f"on one of its zones: one strike for every {policy.urls_per_strike} URL(s) actioned "
            f"(rounded up), at most {policy.max_strikes_per_notice} for one notice. A strike is voided "
            "when the material is restored after a counter-notice or a successful complaint. Strikes "
            f"count for {policy.strike_lifetime_days} days.",
            "",
            "## Steps",
            f"1. Warning: at {policy.warning_strikes} strike(s) the customer is warned and told of this "
            "policy.",
            f"2. Suspension: {susp.strikes} strikes within {susp.window_days} days suspend every zone of the "
            "customer; the network stops serving them until an agent reinstates the customer.",
            f"3. Termination: {termination}.",
            "",
            "Every step is recorded with the strikes it rests on, and the customer is told the reasons and "
            "how to contest them (counter-notice, internal complaint, out-of-court settlement, court).",
        ]
    )
