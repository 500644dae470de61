"""Keeping the bank honest: agents decide quarantined entries (release or remove), and keep an
allowlist of licensed or public-domain images that are never blocked automatically.

A quarantined entry is off every edge, but the copies it blocked automatically before it was
paused stay blocked (lifting them silently could re-expose real infringements; keeping them
silently would deny due process): they are listed with the quarantine as held for review, and the
agent's decision settles them — removing the entry lifts every block it made alone, releasing it
puts the entry back and leaves its blocks to the ordinary review of matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from staydown.audit import service as audit
from staydown.config import Settings
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import EnforcementRecord, FeedKind
from staydown.fingerprints import service
from staydown.fingerprints.hashing import Fingerprint
from staydown.fingerprints.models import (
    BankEntry,
    BankQuarantine,
    BankScope,
    BankSource,
    BankStatus,
    MatchStatus,
    QuarantineStatus,
    StaydownMatch,
)


@dataclass(frozen=True, slots=True)
class QuarantineView:
    quarantine: BankQuarantine
    entry: BankEntry
    matches: dict[str, int]  # match status -> count, for the whole entry


def _view(session: Session, item: BankQuarantine) -> QuarantineView:
    entry = session.get(BankEntry, item.entry_id)
    assert entry is not None
    counts = {
        status.value: int(count)
        for status, count in session.execute(
            select(StaydownMatch.status, func.count())
            .where(StaydownMatch.entry_id == entry.id)
            .group_by(StaydownMatch.status)
        )
    }
    return QuarantineView(item, entry, counts)


def list_quarantines(
    session: Session, *, status: QuarantineStatus | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[QuarantineView], int]:
    conditions = [] if status is None else [BankQuarantine.status == status]
    total = session.scalar(select(func.count()).select_from(BankQuarantine).where(*conditions)) or 0
    rows = session.scalars(
        select(BankQuarantine)
        .where(*conditions)
        .order_by(BankQuarantine.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [_view(session, row) for row in rows], int(total)


def get_quarantine(session: Session, quarantine_id: int) -> QuarantineView | None:
    item = session.get(BankQuarantine, quarantine_id)
    return None if item is None else _view(session, item)


def _original_payload(session: Session, entry: BankEntry) -> dict[str, Any]:
    """The entry's first ``hash_add`` record (it alone carries the second stage's features)."""
    for payload in session.scalars(
        select(EnforcementRecord.payload)
        .where(EnforcementRecord.kind == FeedKind.hash_add, EnforcementRecord.at == entry.created_at)
        .order_by(EnforcementRecord.seq)
    ):
        if int(payload.get("entry_id", 0)) == entry.id:
            return dict(payload)
    return service.entry_payload(entry)


def decide_quarantine(
    session: Session,
    quarantine_id: int,
    *,
    decision: Literal["release", "remove"],
    reason: str,
    now: datetime,
    actor: str,
    settings: Settings,
) -> QuarantineView:
    """Release the entry to every edge again, or remove it and lift the blocks it made alone."""
    item = session.get(BankQuarantine, quarantine_id, with_for_update=True)
    if item is None:
        raise service.StaydownError("not_found", f"quarantine {quarantine_id} does not exist", status=404)
    if item.status is not QuarantineStatus.open:
        raise service.StaydownError(
            "illegal_transition", f"quarantine {item.id} is already {item.status.value}"
        )
    entry = session.get(BankEntry, item.entry_id, with_for_update=True)
    assert entry is not None
    if decision == "release" and entry.status is not BankStatus.quarantined:
        # Taken out meanwhile (its notice item restored, say): there is nothing to put back.
        raise service.StaydownError("illegal_transition", f"bank entry {entry.id} is {entry.status.value}")
    item.decided_at, item.decided_by, item.decision_reason = now, actor, reason
    if decision == "release":
        item.status = QuarantineStatus.released
        entry.status = BankStatus.active
        enforcement.append(
            session,
            FeedKind.hash_add,
            at=now,
            payload=_original_payload(session, entry),
            notice_id=entry.notice_id,
        )
        audit.record(
            session,
            at=now,
            actor=actor,
            action="bank.entry_released",
            entity=("bank_entry", entry.id),
            data={"quarantine_id": item.id, "reason": reason},
        )
    else:
        item.status = QuarantineStatus.removed
        # Already off the edges since the quarantine: no second hash_remove.
        entry.status = BankStatus.removed
        entry.removed_at, entry.removed_reason = now, f"quarantine {item.id}: {reason}"
        audit.record(
            session,
            at=now,
            actor=actor,
            action="bank.entry_removed",
            entity=("bank_entry", entry.id),
            data={"quarantine_id": item.id, "reason": reason},
        )
        undecided: Sequence[int] = session.scalars(
            select(StaydownMatch.id).where(
                StaydownMatch.entry_id == entry.id,
                StaydownMatch.status.in_((MatchStatus.blocked, MatchStatus.pending_review)),
            )
        ).all()
        for match_id in undecided:
            service.decide_match(
                session,
                match_id,
                decision="dismiss",
                reason=f"the bank entry was removed after its quarantine: {reason}",
                now=now,
                actor=actor,
                settings=settings,
            )
    return _view(session, item)


# --- the allowlist -----------------------------------------------------------------------------


def allow(
    session: Session,
    fp: Fingerprint,
    *,
    scope: BankScope,
    customer_id: int | None,
    note: str,
    now: datetime,
    actor: str,
) -> BankEntry:
    """Allowlist a licensed or public-domain image for the network or one customer: a copy of it,
    or within the automatic-block distance of it, is served and at most reviewed, never blocked."""
    if scope is BankScope.zone:
        raise service.StaydownError(
            "invalid_scope", "an allowlist entry covers the network or a customer", status=422
        )
    if scope is BankScope.customer and customer_id is None:
        raise service.StaydownError(
            "invalid_scope", "a customer-scoped allowlist entry names its customer", status=422
        )
    return service.add_entry(
        session,
        fp,
        scope=scope,
        source=BankSource.allowlist,
        now=now,
        actor=actor,
        customer_id=customer_id if scope is BankScope.customer else None,
        note=note,
    )


def allowlist(session: Session, *, limit: int = 100, offset: int = 0) -> tuple[Sequence[BankEntry], int]:
    conditions = [BankEntry.source == BankSource.allowlist, BankEntry.status == BankStatus.active]
    total = session.scalar(select(func.count()).select_from(BankEntry).where(*conditions)) or 0
    rows = session.scalars(
        select(BankEntry).where(*conditions).order_by(BankEntry.id.desc()).limit(limit).offset(offset)
    ).all()
    return rows, int(total)


def disallow(session: Session, entry_id: int, *, reason: str, now: datetime, actor: str) -> BankEntry:
    """Take an image off the allowlist on every edge: its copies may be blocked again."""
    entry = session.get(BankEntry, entry_id, with_for_update=True)
    if entry is None or entry.source is not BankSource.allowlist:
        raise service.StaydownError("not_found", f"allowlist entry {entry_id} does not exist", status=404)
    if not service.remove_entry(session, entry, now=now, actor=actor, reason=reason):
        raise service.StaydownError("illegal_transition", f"allowlist entry {entry_id} was already removed")
    return entry
