"""Trusted flaggers as a Digital Services Coordinator made them (DSA Art. 22): the award recorded
against the notifier's API key, the coordinator's later suspension or revocation, and the intake gate
that gives a DSA notice priority only while the award is in force and covers copyright.

A key's own ``trusted`` flag is the provider's voluntary programme for §512 and Japanese notices
(complete notices actioned without waiting for review); for DSA notices it counts for nothing, as
Art. 22 status is not the provider's to give, nor to take: the provider's own revocation of trust
(``misuse.change_trust``) ends its programme, while for the Art. 22 status it reports to the
coordinator (Art. 22(6)), whose suspension is recorded here. Rules are in ``awards``; this module
records and reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.due_process.awards import (
    LEGAL_BASIS,
    AwardEvent,
    AwardFacts,
    AwardStatus,
    IllegalAwardTransition,
    award_transition,
    gives_priority,
)
from staydown.due_process.flows import DueProcessError
from staydown.due_process.models import TrustedFlaggerAward
from staydown.due_process.schemas import AwardChange, AwardCreate, AwardRead
from staydown.notices import service as notices
from staydown.types import Regime, Role

AWARD = "trusted_flagger_award"


def list_awards(session: Session, *, submitter_key_id: int | None = None) -> Sequence[TrustedFlaggerAward]:
    """Awards recorded, newest first (of one key when given)."""
    stmt = select(TrustedFlaggerAward).order_by(TrustedFlaggerAward.id.desc())
    if submitter_key_id is not None:
        stmt = stmt.where(TrustedFlaggerAward.submitter_key_id == submitter_key_id)
    return session.scalars(stmt).all()


def current_award(session: Session, submitter_key_id: int) -> TrustedFlaggerAward | None:
    """The key's latest award that is not revoked (awarded or suspended), if any."""
    return session.scalar(
        select(TrustedFlaggerAward)
        .where(
            TrustedFlaggerAward.submitter_key_id == submitter_key_id,
            TrustedFlaggerAward.status != AwardStatus.revoked,
        )
        .order_by(TrustedFlaggerAward.id.desc())
        .limit(1)
    )


def _facts(award: TrustedFlaggerAward | None) -> AwardFacts | None:
    if award is None:
        return None
    return AwardFacts(award.status, award.awarded_on, tuple(award.areas))


def read(award: TrustedFlaggerAward, *, now: datetime) -> AwardRead:
    view = AwardRead.model_validate(award)
    view.priority = gives_priority(_facts(award), today=now.date())
    return view


def record_award(
    session: Session, submitter_key_id: int, data: AwardCreate, *, now: datetime, actor: str
) -> TrustedFlaggerAward:
    """Record a coordinator's award for a notifier's key (one not revoked at a time)."""
    key = accounts.get_key(session, submitter_key_id)
    if key is None or key.role is not Role.submitter:
        raise DueProcessError("not_found", f"notifier key {submitter_key_id} does not exist", status=404)
    existing = current_award(session, submitter_key_id)
    if existing is not None:
        raise DueProcessError(
            "award_exists",
            f"key {submitter_key_id} already holds award {existing.id} ({existing.status.value}); "
            "a new award is recorded once that one is revoked",
            details={"award_id": existing.id, "status": existing.status.value},
        )
    award = TrustedFlaggerAward(
        submitter_key_id=submitter_key_id,
        entity=data.entity,
        member_state=data.member_state,
        coordinator=data.coordinator,
        reference=data.reference,
        awarded_on=data.awarded_on,
        areas=data.areas,
        status=AwardStatus.awarded,
        recorded_at=now,
        recorded_by=actor,
    )
    session.add(award)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="notifier.trusted_flagger_awarded",
        entity=("api_key", submitter_key_id),
        data={
            "award_id": award.id,
            "member_state": data.member_state,
            "coordinator": data.coordinator,
            "reference": data.reference,
            "awarded_on": data.awarded_on.isoformat(),
            "areas": data.areas,
        },
    )
    return award


def change_award(
    session: Session, award_id: int, event: AwardEvent, data: AwardChange, *, now: datetime, actor: str
) -> TrustedFlaggerAward:
    """Record the coordinator's suspension (Art. 22(6)), reinstatement or revocation (Art. 22(7))."""
    award = session.get(TrustedFlaggerAward, award_id)
    if award is None:
        raise DueProcessError("not_found", f"trusted-flagger award {award_id} does not exist", status=404)
    try:
        new = award_transition(award.status, event)
    except IllegalAwardTransition as exc:
        raise DueProcessError("illegal_transition", str(exc)) from exc
    previous = award.status
    award.status = new
    award.status_on = data.decided_on or now.date()
    award.status_reference = data.reference
    award.status_reason = data.reason
    award.changed_at, award.changed_by = now, actor
    audit.record(
        session,
        at=now,
        actor=actor,
        action=f"notifier.trusted_flagger_{event.value}",
        entity=("api_key", award.submitter_key_id),
        data={
            "award_id": award.id,
            "from": previous.value,
            "to": new.value,
            "legal_basis": LEGAL_BASIS[event],
            "decided_on": award.status_on.isoformat(),
            "reference": data.reference,
            "reason": data.reason,
        },
    )
    return award


def _intake_gate(session: Session, by: notices.Submitter, now: datetime, regime: Regime) -> notices.Submitter:
    """For a DSA notice, trust is the Art. 22 status in force; other regimes keep the key's own."""
    if not notices.regime_rules(regime).awarded_trust:
        return by
    award = current_award(session, by.key_id) if by.key_id is not None else None
    trusted = gives_priority(_facts(award), today=now.date())
    return by if trusted == by.trusted else dataclasses.replace(by, trusted=trusted)


def install() -> None:
    """Let the Art. 22 status decide DSA notices' priority at intake (called by the assembly)."""
    notices.add_intake_gate(_intake_gate)
