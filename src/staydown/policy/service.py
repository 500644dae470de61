"""Keep the strike ledger and take the steps the repeat-infringer policy calls for.

Each step is written with the strikes it rests on; suspension and termination reach the edges
through the zone records that ``accounts`` writes for every zone of the customer. A notice's strike
counts by its weight (``flows.strike_weight``: its URLs actioned on the customer's zones), weighed
again when more of the notice is actioned or some of it restored; it keeps the date it was first
recorded.

Every change to a customer's ledger or standing first locks the customer's row (``SELECT … FOR
UPDATE`` on PostgreSQL; SQLite's writers already hold its one write lock from ``BEGIN IMMEDIATE``),
and counts strikes only after that, in the same transaction. Concurrent notices against one
customer therefore queue on the row, and any interleaving takes the steps a serial run takes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.accounts.models import Customer, Standing
from staydown.audit import service as audit
from staydown.config import RepeatInfringerPolicy
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel
from staydown.policy.flows import StepDecision, evaluate, step_letter, strike_weight
from staydown.policy.models import PolicyStep, StepKind, Strike, StrikeStatus

_STANDING_AFTER = {
    StepKind.warning: Standing.warned,
    StepKind.suspension: Standing.suspended,
    StepKind.termination: Standing.terminated,
}


class PolicyError(Exception):
    def __init__(self, code: str, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def lock_customer(session: Session, customer_id: int) -> Customer | None:
    """Lock the customer's row for the rest of the transaction and return it freshly read."""
    return session.scalar(
        select(Customer)
        .where(Customer.id == customer_id)
        # NO KEY UPDATE: rows that merely reference the customer (its strikes, letters, zones) take
        # KEY SHARE locks on it, which this must not wait on, or two notices would deadlock.
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


def lock_customers(session: Session, customer_ids: Sequence[int]) -> None:
    """Lock several customers, always in id order, so two transactions never wait on each other."""
    for customer_id in sorted(set(customer_ids)):
        lock_customer(session, customer_id)


def record_strike(
    session: Session,
    *,
    customer_id: int,
    notice_id: int,
    zone_id: int | None,
    now: datetime,
    actor: str,
    policy: RepeatInfringerPolicy,
    provider: str,
    urls: int = 1,
) -> Strike | None:
    """Record the strike of ``notice_id`` (one row per notice and customer), weighed by the ``urls``
    it has actioned on the customer's zones so far, and apply the policy.

    A later decision that actions more of the notice's URLs weighs the same strike again; the
    policy then counts the heavier strike. Both happen under the customer's lock.
    """
    if lock_customer(session, customer_id) is None:
        return None
    existing = session.scalar(
        select(Strike).where(
            Strike.customer_id == customer_id, Strike.notice_id == notice_id, Strike.match_id.is_(None)
        )
    )
    if existing is not None:
        if existing.status is StrikeStatus.active and _reweigh(
            session, existing, urls, now=now, actor=actor, policy=policy
        ):
            apply_policy(
                session, customer_id=customer_id, now=now, actor=actor, policy=policy, provider=provider
            )
        return None
    strike = Strike(
        customer_id=customer_id,
        notice_id=notice_id,
        zone_id=zone_id,
        urls=urls,
        weight=strike_weight(urls, policy),
    )
    facts = {"notice_id": notice_id, "urls": urls, "weight": strike.weight}
    return _strike(session, strike, facts, now=now, actor=actor, policy=policy, provider=provider)


def reweigh_strike(
    session: Session,
    *,
    customer_id: int,
    notice_id: int,
    urls: int,
    now: datetime,
    actor: str,
    policy: RepeatInfringerPolicy,
) -> Strike | None:
    """Weigh a notice's active strike again on the ``urls`` of it still actioned (some were restored)."""
    lock_customer(session, customer_id)
    strike = session.scalar(
        select(Strike).where(
            Strike.customer_id == customer_id,
            Strike.notice_id == notice_id,
            Strike.match_id.is_(None),
            Strike.status == StrikeStatus.active,
        )
    )
    if strike is None or not _reweigh(session, strike, urls, now=now, actor=actor, policy=policy):
        return None
    return strike


def _reweigh(
    session: Session, strike: Strike, urls: int, *, now: datetime, actor: str, policy: RepeatInfringerPolicy
) -> bool:
    """Set the strike's URL count and weight; return whether its weight changed."""
    weight = strike_weight(urls, policy)
    if strike.urls == urls and strike.weight == weight:
        return False
    before = strike.weight
    strike.urls, strike.weight = urls, weight
    if weight == before:
        return False
    audit.record(
        session,
        at=now,
        actor=actor,
        action="strike.reweighed",
        entity=("customer", strike.customer_id),
        data={
            "strike_id": strike.id,
            "notice_id": strike.notice_id,
            "urls": urls,
            "from": before,
            "to": weight,
        },
    )
    return True


def record_match_strike(
    session: Session,
    *,
    customer_id: int,
    match_id: int,
    notice_id: int | None,
    zone_id: int | None,
    now: datetime,
    actor: str,
    policy: RepeatInfringerPolicy,
    provider: str,
) -> Strike | None:
    """Add one strike for a confirmed stay-down match (at most one per match) and apply the policy."""
    if lock_customer(session, customer_id) is None:
        return None
    if session.scalar(select(Strike.id).where(Strike.match_id == match_id)) is not None:
        return None
    strike = Strike(customer_id=customer_id, notice_id=notice_id, match_id=match_id, zone_id=zone_id)
    facts = {"match_id": match_id, "notice_id": notice_id}
    return _strike(session, strike, facts, now=now, actor=actor, policy=policy, provider=provider)


def _strike(
    session: Session,
    strike: Strike,
    facts: dict[str, Any],
    *,
    now: datetime,
    actor: str,
    policy: RepeatInfringerPolicy,
    provider: str,
) -> Strike:
    strike.created_at, strike.status = now, StrikeStatus.active
    session.add(strike)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="strike.recorded",
        entity=("customer", strike.customer_id),
        data={"strike_id": strike.id, **facts, "zone_id": strike.zone_id},
    )
    apply_policy(
        session, customer_id=strike.customer_id, now=now, actor=actor, policy=policy, provider=provider
    )
    return strike


def void_match_strike(
    session: Session, *, match_id: int, now: datetime, actor: str, reason: str
) -> Strike | None:
    """Void the strike a stay-down match caused (the match was dismissed on review)."""
    customer_id = session.scalar(select(Strike.customer_id).where(Strike.match_id == match_id))
    if customer_id is not None:
        lock_customer(session, customer_id)
    strike = session.scalar(
        select(Strike).where(Strike.match_id == match_id, Strike.status == StrikeStatus.active)
    )
    return _void(session, strike, {"match_id": match_id}, now=now, actor=actor, reason=reason)


def void_strike(
    session: Session, *, customer_id: int, notice_id: int, now: datetime, actor: str, reason: str
) -> Strike | None:
    """Void the strike a notice caused (the material was restored)."""
    lock_customer(session, customer_id)
    strike = session.scalar(
        select(Strike).where(
            Strike.customer_id == customer_id,
            Strike.notice_id == notice_id,
            Strike.match_id.is_(None),
            Strike.status == StrikeStatus.active,
        )
    )
    return _void(session, strike, {"notice_id": notice_id}, now=now, actor=actor, reason=reason)


def _void(
    session: Session, strike: Strike | None, facts: dict[str, Any], *, now: datetime, actor: str, reason: str
) -> Strike | None:
    if strike is None:
        return None
    strike.status = StrikeStatus.voided
    strike.voided_at = now
    strike.void_reason = reason
    audit.record(
        session,
        at=now,
        actor=actor,
        action="strike.voided",
        entity=("customer", strike.customer_id),
        data={"strike_id": strike.id, **facts, "reason": reason},
    )
    return strike


def active_strikes(session: Session, customer_id: int) -> list[tuple[datetime, int]]:
    """The customer's active strikes as (when, weight)."""
    rows = session.execute(
        select(Strike.created_at, Strike.weight).where(
            Strike.customer_id == customer_id, Strike.status == StrikeStatus.active
        )
    )
    return [(at, weight) for at, weight in rows]


def active_strike_count(session: Session, customer_id: int) -> int:
    """The customer's active strikes, each counted by its weight."""
    return sum(weight for _, weight in active_strikes(session, customer_id))


def list_strikes(session: Session, customer_id: int) -> Sequence[Strike]:
    return session.scalars(select(Strike).where(Strike.customer_id == customer_id).order_by(Strike.id)).all()


def list_steps(session: Session, customer_id: int) -> Sequence[PolicyStep]:
    return session.scalars(
        select(PolicyStep).where(PolicyStep.customer_id == customer_id).order_by(PolicyStep.id)
    ).all()


def _last_step(session: Session, customer_id: int, kinds: Sequence[StepKind]) -> PolicyStep | None:
    return session.scalar(
        select(PolicyStep)
        .where(PolicyStep.customer_id == customer_id, PolicyStep.kind.in_(kinds))
        .order_by(PolicyStep.id.desc())
        .limit(1)
    )


def apply_policy(
    session: Session,
    *,
    customer_id: int,
    now: datetime,
    actor: str,
    policy: RepeatInfringerPolicy,
    provider: str,
) -> PolicyStep | None:
    """Evaluate the customer's active strikes and take the step they warrant, if any."""
    customer = lock_customer(session, customer_id)
    if customer is None:
        return None
    pending = _last_step(session, customer_id, [StepKind.termination_pending, StepKind.reinstatement])
    reinstated = _last_step(session, customer_id, [StepKind.reinstatement])
    # A strike stamped a moment after ``now`` was written by a notice whose transaction began later
    # but took the lock first: it precedes this step in commit order, so it counts as of ``now``.
    strikes = active_strikes(session, customer_id)
    strike_times = [min(at, now) for at, _ in strikes]
    decision = evaluate(
        strike_times=strike_times,
        weights=[weight for _, weight in strikes],
        now=now,
        policy=policy,
        standing=customer.standing.value,
        termination_pending=pending is not None and pending.kind is StepKind.termination_pending,
        reinstated_at=reinstated.at if reinstated else None,
    )
    if decision is None:
        return None
    return _take_step(
        session, customer, decision, now=now, actor=actor, automatic=True, policy=policy, provider=provider
    )


def _take_step(
    session: Session,
    customer: Customer,
    decision: StepDecision,
    *,
    now: datetime,
    actor: str,
    automatic: bool,
    policy: RepeatInfringerPolicy,
    provider: str,
) -> PolicyStep:
    step = PolicyStep(
        customer_id=customer.id,
        kind=decision.kind,
        at=now,
        strikes_counted=decision.strikes_counted,
        window_days=decision.window_days,
        reason=decision.reason,
        automatic=automatic,
        actor=actor,
    )
    session.add(step)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action=f"policy.{decision.kind.value}",
        entity=("customer", customer.id),
        data={"step_id": step.id, "strikes": decision.strikes_counted, "reason": decision.reason},
    )
    standing = _STANDING_AFTER.get(decision.kind)
    if standing is not None:
        accounts.set_standing(
            session,
            customer,
            standing,
            now=now,
            actor=actor,
            reason=f"repeat-infringer policy: {decision.reason}",
        )
    # Customers registered before letters had a language were written to in English.
    subject, body = step_letter(
        decision, automatic=automatic, policy=policy, provider=provider, locale=customer.locale or "en"
    )
    enforcement.enqueue_message(
        session,
        at=now,
        kind=f"policy_{decision.kind.value}",
        channel=Channel.email,
        recipient=customer.email,
        subject=subject,
        body=body,
        payload={"event": f"policy.{decision.kind.value}", "customer_id": customer.id},
        customer_id=customer.id,
    )
    return step


def confirm_termination(
    session: Session,
    customer: Customer,
    *,
    now: datetime,
    actor: str,
    reason: str,
    policy: RepeatInfringerPolicy,
    provider: str,
) -> PolicyStep:
    """An agent terminates a customer (on a pending termination or on their own judgement)."""

    def refuse(c: Customer) -> PolicyError | None:
        if c.standing is Standing.terminated:
            return PolicyError("already_terminated", f"customer {c.id} is already terminated")
        return None

    return _manual_step(
        session, customer, StepKind.termination, policy.termination.window_days, refuse=refuse,
        now=now, actor=actor, reason=reason, policy=policy, provider=provider,
    )  # fmt: skip


def reinstate(
    session: Session,
    customer: Customer,
    *,
    now: datetime,
    actor: str,
    reason: str,
    policy: RepeatInfringerPolicy,
    provider: str,
) -> PolicyStep:
    """An agent lifts a suspension (or a pending termination); zones go live again."""

    def refuse(c: Customer) -> PolicyError | None:
        if c.standing is Standing.terminated:
            return PolicyError("terminated", "a terminated customer cannot be reinstated")
        return None

    step = _manual_step(
        session, customer, StepKind.reinstatement, 0, refuse=refuse,
        now=now, actor=actor, reason=reason, policy=policy, provider=provider,
    )  # fmt: skip
    accounts.set_standing(session, customer, Standing.warned, now=now, actor=actor, reason=reason)
    return step


def suspend(
    session: Session,
    customer: Customer,
    *,
    now: datetime,
    actor: str,
    reason: str,
    policy: RepeatInfringerPolicy,
    provider: str,
) -> PolicyStep:
    """An agent suspends a customer on their own judgement: a policy step like the automatic ones."""

    def refuse(c: Customer) -> PolicyError | None:
        if c.standing in (Standing.suspended, Standing.terminated):
            standing = c.standing.value
            return PolicyError(f"already_{standing}", f"customer {c.id} is already {standing}")
        return None

    return _manual_step(
        session, customer, StepKind.suspension, policy.suspension.window_days, refuse=refuse,
        now=now, actor=actor, reason=reason, policy=policy, provider=provider,
    )  # fmt: skip


def keep(
    session: Session,
    customer: Customer,
    *,
    now: datetime,
    actor: str,
    reason: str,
    policy: RepeatInfringerPolicy,
    provider: str,
) -> PolicyStep:
    """An agent keeps a customer after a review: a step on the record, with its reasons, that
    restricts nothing."""

    def refuse(c: Customer) -> PolicyError | None:
        if c.standing is Standing.terminated:
            return PolicyError("terminated", f"customer {c.id} is terminated")
        return None

    return _manual_step(
        session, customer, StepKind.review_kept, 0, refuse=refuse,
        now=now, actor=actor, reason=reason, policy=policy, provider=provider,
    )  # fmt: skip


def _manual_step(
    session: Session,
    customer: Customer,
    kind: StepKind,
    window_days: int,
    *,
    refuse: Callable[[Customer], PolicyError | None],
    now: datetime,
    actor: str,
    reason: str,
    policy: RepeatInfringerPolicy,
    provider: str,
) -> PolicyStep:
    """An agent's step on a customer: under the customer's row lock, refused as ``refuse`` says
    given the standing it finds, taken on the strikes in force."""
    lock_customer(session, customer.id)
    refusal = refuse(customer)
    if refusal is not None:
        raise refusal
    decision = StepDecision(kind, active_strike_count(session, customer.id), window_days, reason)
    return _take_step(
        session, customer, decision, now=now, actor=actor, automatic=False, policy=policy, provider=provider
    )
