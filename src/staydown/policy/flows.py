"""Pure repeat-infringer decisions: which step, if any, a customer's strikes now warrant."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from staydown.config import RepeatInfringerPolicy
from staydown.policy.models import StepKind
from staydown.wording import Words
from staydown.wording import mark as _


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


def policy_text(policy: RepeatInfringerPolicy, *, provider: str, locale: str = "en") -> str:
    """Render the published repeat-infringer policy from the configuration that enforces it, in
    ``locale``."""
    _ = Words(locale)
    term = policy.termination
    susp = policy.suspension
    if term.automatic:
        termination = _(
            "%(strikes)s strikes within %(days)s days terminate the account and every zone of it",
            strikes=term.strikes,
            days=term.window_days,
        )
    else:
        termination = _(
            "%(strikes)s strikes within %(days)s days refer the account to an agent, who may terminate it "
            "and every zone of it",
            strikes=term.strikes,
            days=term.window_days,
        )
    return "\n".join(
        [
            "# " + _("%(provider)s repeat-infringer policy", provider=provider),
            "",
            _(
                "%(provider)s terminates, in appropriate circumstances, the accounts of customers who are "
                "repeat infringers (17 U.S.C. 512(i)(1)(A); Regulation (EU) 2022/2065 Art. 23).",
                provider=provider,
            ),
            "",
            "## " + _("Strikes"),
            _(
                "A customer receives strikes for each valid notice of which at least one item was actioned "
                "on one of its zones: one strike for every %(urls)s URL(s) actioned (rounded up), at most "
                "%(max)s for one notice. A strike is voided when the material is restored after a "
                "counter-notice or a successful complaint. Strikes count for %(days)s days.",
                urls=policy.urls_per_strike,
                max=policy.max_strikes_per_notice,
                days=policy.strike_lifetime_days,
            ),
            "",
            "## " + _("Steps"),
            "1. "
            + _(
                "Warning: at %(strikes)s strike(s) the customer is warned and told of this policy.",
                strikes=policy.warning_strikes,
            ),
            "2. "
            + _(
                "Suspension: %(strikes)s strikes within %(days)s days suspend every zone of the customer; "
                "the network stops serving them until an agent reinstates the customer.",
                strikes=susp.strikes,
                days=susp.window_days,
            ),
            "3. " + _("Termination: %(termination)s.", termination=termination),
            "",
            _(
                "Every step is recorded with the strikes it rests on, and the customer is told the reasons "
                "and how to contest them (counter-notice, internal complaint, out-of-court settlement, "
                "court)."
            ),
        ]
    )


# What each step is called in a letter.
STEP_LABELS = {
    StepKind.warning: _("warning"),
    StepKind.suspension: _("suspension"),
    StepKind.termination_pending: _("termination pending"),
    StepKind.termination: _("termination"),
    StepKind.reinstatement: _("reinstatement"),
    StepKind.review_kept: _("review kept"),
}


def step_reason(decision: StepDecision, policy: RepeatInfringerPolicy, locale: str) -> str:
    """Why the policy took an automatic step, from the counts it rests on, in ``locale``."""
    _ = Words(locale)
    values = {"count": decision.strikes_counted, "days": decision.window_days}
    if decision.kind is StepKind.warning:
        return _(
            "%(count)s strike(s) on record (warning threshold %(threshold)s)",
            count=decision.strikes_counted,
            threshold=policy.warning_strikes,
        )
    if decision.kind is StepKind.suspension:
        return _(
            "%(count)s strikes within %(days)s days (suspension threshold %(threshold)s)",
            **values,
            threshold=policy.suspension.strikes,
        )
    return _(
        "%(count)s strikes within %(days)s days (termination threshold %(threshold)s)",
        **values,
        threshold=policy.termination.strikes,
    )


def step_letter(
    decision: StepDecision,
    *,
    automatic: bool,
    policy: RepeatInfringerPolicy,
    provider: str,
    locale: str = "en",
) -> tuple[str, str]:
    """The customer's letter about a step (subject, body), with the policy that applies, in
    ``locale``; an agent's own reasons are given as written."""
    _ = Words(locale)
    label = _(STEP_LABELS[decision.kind])
    reason = step_reason(decision, policy, locale) if automatic else decision.reason
    subject = f"[{provider}] " + _("Repeat-infringer policy: %(step)s", step=label)
    body = "\n\n".join(
        [
            _("%(reason)s.", reason=reason),
            _("Step taken: %(step)s.", step=label),
            _("The policy that applies to your account:"),
            policy_text(policy, provider=provider, locale=locale),
        ]
    )
    return subject, body


def legal_text(
    policy: RepeatInfringerPolicy,
    *,
    provider: str,
    agent: Sequence[tuple[str, str | None]],
    locale: str = "en",
) -> str:
    """The page a 451 names as the blocking entity (why content is blocked and how to contest it),
    with the designated agent (``agent``: label, value) and the repeat-infringer policy, in ``locale``."""
    _ = Words(locale)
    given = [f"- {_(label)}: {value}" for label, value in agent if value]
    return "\n".join(
        [
            "# " + _("%(provider)s: blocked content", provider=provider),
            "",
            _(
                "%(provider)s blocks content on its network when it receives a valid notice that the content "
                "infringes a right (17 U.S.C. 512; Regulation (EU) 2022/2065 Art. 16; Japan's Information "
                "Distribution Platform Act), and keeps copies of it from returning.",
                provider=provider,
            ),
            "",
            _("If you published the content and believe the block is a mistake:"),
            "- "
            + _(
                "file a counter-notice (DMCA notices): the material is restored 10 to 14 business days after "
                "it unless the complainant starts a court action;"
            ),
            "- "
            + _(
                "file a complaint within six months of being told of the decision (an internal complaint "
                "under Regulation (EU) 2022/2065 Art. 20 for online platforms; our own review otherwise);"
            ),
            "- "
            + _("or go to an out-of-court dispute settlement body (online platforms, Art. 21) or to court."),
            "",
            _(
                "The 451 response names the notice. Customers file both through the abuse desk or the API "
                "(POST /v1/counter-notices)."
            ),
            "",
            "## " + _("Designated agent for notices of claimed infringement (17 U.S.C. 512(c)(2))"),
            "",
            *(given or ["- " + _("not configured")]),
            "",
            policy_text(policy, provider=provider, locale=locale),
        ]
    )


# The designated agent's fields, as the legal page names them.
AGENT_LABELS = (
    _("Name"),
    _("Address"),
    _("Telephone"),
    _("E-mail"),
    _("Copyright Office directory entry"),
)
