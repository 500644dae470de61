"""Notifier misuse (DSA Art. 23(2)): findings of manifestly unfounded notices, warnings, suspensions,
and the revocation of trusted-flagger treatment — enforced at notice intake through a gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from staydown.audit import service as audit
from staydown.config import Settings
from staydown.due_process import messages
from staydown.due_process.flows import DueProcessError, MeasureKind, MisuseRecord, MisuseRule, misuse_step
from staydown.due_process.models import NotifierMeasure, UnfoundedNotice
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel
from staydown.notices import service as notices
from staydown.types import Regime
from staydown.wording import recipient_locale


def _rule(settings: Settings) -> MisuseRule:
    return MisuseRule(
        threshold=settings.misuse_threshold,
        window_days=settings.misuse_window_days,
        min_share=settings.misuse_min_share,
        suspension_days=settings.misuse_suspension_days,
    )


def list_measures(session: Session, submitter_key_id: int) -> Sequence[NotifierMeasure]:
    return session.scalars(
        select(NotifierMeasure)
        .where(NotifierMeasure.submitter_key_id == submitter_key_id)
        .order_by(NotifierMeasure.id)
    ).all()


def _last(measures: Sequence[NotifierMeasure], *kinds: MeasureKind) -> NotifierMeasure | None:
    """The latest measure of ``kinds`` that no complaint has reversed."""
    reversed_ids = {m.reverses_measure_id for m in measures if m.kind is MeasureKind.reversed}
    found = [m for m in measures if m.kind in kinds and m.id not in reversed_ids]
    return found[-1] if found else None


def get_measure(session: Session, measure_id: int) -> NotifierMeasure | None:
    return session.get(NotifierMeasure, measure_id)


def reverse_measure(
    session: Session, measure: NotifierMeasure, *, reason: str, actor: str, now: datetime
) -> NotifierMeasure:
    """Undo a measure a complaint found wrong: it stops counting (a revoked trust is restored)."""
    kind = MeasureKind.trust_restored if measure.kind is MeasureKind.trust_revoked else MeasureKind.reversed
    reversal = NotifierMeasure(
        submitter_key_id=measure.submitter_key_id,
        kind=kind,
        at=now,
        until=None,
        reason=reason,
        unfounded_count=measure.unfounded_count,
        notices_count=measure.notices_count,
        automatic=False,
        actor=actor,
        reverses_measure_id=measure.id,
    )
    session.add(reversal)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action=f"notifier.{kind.value}",
        entity=("api_key", measure.submitter_key_id),
        data={"measure_id": reversal.id, "reverses": measure.id, "reason": reason},
    )
    return reversal


def unfounded_count(session: Session, submitter_key_id: int) -> int:
    return len(
        session.scalars(
            select(UnfoundedNotice.id).where(UnfoundedNotice.submitter_key_id == submitter_key_id)
        ).all()
    )


def mark_unfounded(
    session: Session, notice_id: int, *, reason: str, actor: str, now: datetime, settings: Settings
) -> tuple[UnfoundedNotice, NotifierMeasure | None]:
    """Record that a notice was manifestly unfounded and take the measure the notifier's record calls for."""
    notice = notices.get(session, notice_id)
    if notice is None:
        raise DueProcessError("not_found", f"notice {notice_id} does not exist", status=404)
    key_id = notice.submitter_key_id
    if key_id is None:
        raise DueProcessError(
            "no_submitter_key", f"notice {notice_id} came without an API key; there is no notifier to measure"
        )
    if session.scalar(select(UnfoundedNotice).where(UnfoundedNotice.notice_id == notice_id)) is not None:
        raise DueProcessError(
            "already_unfounded", f"notice {notice_id} was already found manifestly unfounded"
        )
    finding = UnfoundedNotice(
        notice_id=notice_id, submitter_key_id=key_id, found_at=now, found_by=actor, reason=reason
    )
    session.add(finding)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="notice.manifestly_unfounded",
        entity=("notice", notice_id),
        data={"submitter_key_id": key_id, "reason": reason},
    )
    rule = _rule(settings)
    measures = list_measures(session, key_id)
    warning = _last(measures, MeasureKind.warning)
    suspension = _last(measures, MeasureKind.suspension)
    record = MisuseRecord(
        unfounded_at=tuple(
            session.scalars(
                select(UnfoundedNotice.found_at).where(UnfoundedNotice.submitter_key_id == key_id)
            )
        ),
        notices_in_window=notices.count_by_submitter(
            session, key_id, since=now - timedelta(days=rule.window_days)
        ),
        warned_at=warning.at if warning else None,
        suspended_until=suspension.until if suspension else None,
    )
    step = misuse_step(record, now=now, rule=rule)
    if step is None:
        return finding, None
    measure = NotifierMeasure(
        submitter_key_id=key_id,
        kind=step.kind,
        at=now,
        until=step.until,
        reason=step.reason,
        unfounded_count=step.unfounded,
        notices_count=step.notices,
        automatic=True,
        actor=actor,
    )
    session.add(measure)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action=f"notifier.{step.kind.value}",
        entity=("api_key", key_id),
        data={
            "measure_id": measure.id,
            "reason": step.reason,
            "until": step.until.isoformat() if step.until else None,
        },
    )
    letter = messages.notifier_measure(
        measure,
        provider=settings.provider_name,
        locale=recipient_locale(notice.language, settings.default_locale),
    )
    enforcement.enqueue_message(
        session,
        at=now,
        kind=letter.kind,
        channel=Channel.email,
        recipient=notice.submitter_email or "(no e-mail given)",
        subject=letter.subject,
        body=letter.body,
        payload=letter.payload,
        notice_id=notice.id,
        deliverable=bool(notice.submitter_email),
    )
    return finding, measure


def change_trust(
    session: Session, submitter_key_id: int, *, revoke: bool, reason: str, actor: str, now: datetime
) -> NotifierMeasure:
    """Revoke (or restore) a notifier's trusted-flagger treatment: its notices then wait for review."""
    measures = list_measures(session, submitter_key_id)
    last = _last(measures, MeasureKind.trust_revoked, MeasureKind.trust_restored)
    revoked = last is not None and last.kind is MeasureKind.trust_revoked
    if revoke == revoked:
        state = "revoked" if revoked else "not revoked"
        raise DueProcessError("trust_unchanged", f"the trust of key {submitter_key_id} is already {state}")
    measure = NotifierMeasure(
        submitter_key_id=submitter_key_id,
        kind=MeasureKind.trust_revoked if revoke else MeasureKind.trust_restored,
        at=now,
        until=None,
        reason=reason,
        unfounded_count=unfounded_count(session, submitter_key_id),
        notices_count=0,
        automatic=False,
        actor=actor,
    )
    session.add(measure)
    try:
        session.flush()
    except IntegrityError:
        raise DueProcessError("not_found", f"key {submitter_key_id} does not exist", status=404) from None
    audit.record(
        session,
        at=now,
        actor=actor,
        action=f"notifier.{measure.kind.value}",
        entity=("api_key", submitter_key_id),
        data={"measure_id": measure.id, "reason": reason},
    )
    return measure


def standing(session: Session, submitter_key_id: int, *, now: datetime) -> tuple[datetime | None, bool]:
    """Until when the notifier is suspended (if it is now) and whether its trust is revoked."""
    measures = list_measures(session, submitter_key_id)
    suspension = _last(measures, MeasureKind.suspension)
    trust = _last(measures, MeasureKind.trust_revoked, MeasureKind.trust_restored)
    until = suspension.until if suspension and suspension.until and suspension.until > now else None
    return until, trust is not None and trust.kind is MeasureKind.trust_revoked


def _intake_gate(session: Session, by: notices.Submitter, now: datetime, regime: Regime) -> notices.Submitter:
    """Hand intake the notifier's suspension (intake applies it as the notice's regime allows) and
    treat a notifier whose trust was revoked as untrusted."""
    if by.key_id is None:
        return by
    measures = list_measures(session, by.key_id)
    if not measures:
        return by
    suspension = _last(measures, MeasureKind.suspension)
    if suspension is not None and suspension.until is not None and suspension.until > now:
        by = replace(
            by,
            suspension=notices.Suspension(
                until=suspension.until, reason=suspension.reason, measure_id=suspension.id
            ),
        )
    trust = _last(measures, MeasureKind.trust_revoked, MeasureKind.trust_restored)
    if by.trusted and trust is not None and trust.kind is MeasureKind.trust_revoked:
        return replace(by, trusted=False)
    return by


def install() -> None:
    """Let notifier-misuse measures refuse notices or withdraw trust at intake (called by the assembly)."""
    notices.add_intake_gate(_intake_gate)
