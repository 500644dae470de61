"""Append to the enforcement log, serve it to edges, queue notifications and schedule timers.

Edges only ever learn decisions from this log, applied in ``seq`` order. Appends are numbered at
commit (see ``db.journal``), so the feed is gap-free and a reader never sees ``n`` before ``n-1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from staydown.db import journal
from staydown.db.base import bulk_insert
from staydown.db.journal import ChainHead
from staydown.enforcement import runner, transport
from staydown.enforcement.feed import check_record, document_of, notify_appended
from staydown.enforcement.models import (
    Channel,
    EnforcementRecord,
    FeedKind,
    OutboxMessage,
    OutboxStatus,
    Timer,
    TimerStatus,
)
from staydown.enforcement.registry import EdgeState
from staydown.enforcement.registry import applied_by as edges_applying
from staydown.enforcement.registry import list_health as edge_health
from staydown.types import as_utc

JOURNAL = "enforcement"

__all__ = ["EdgeState", "edge_health", "edges_applying"]  # the edge registry, for the desk and orders

Step = runner.Step
CommandHandler = runner.Handler


def run_commands(session: Session, commands: Sequence[object], step: Step) -> None:
    """Execute the commands a workflow step returned, in the current unit of work (one runner for
    every domain; see ``enforcement.runner``)."""
    runner.run(session, commands, step)


def register_commands(handlers: Sequence[tuple[type, CommandHandler]]) -> None:
    """Say how a domain's commands are carried out (the assembly calls this)."""
    runner.register(handlers)


@dataclass
class StagedRecord:
    """An enforcement record waiting for its sequence number (set when the transaction commits)."""

    kind: FeedKind
    at: datetime
    payload: dict[str, Any]
    zone_id: int | None = None
    target: str | None = None
    notice_id: int | None = None
    item_id: int | None = None
    seq: int | None = field(default=None)


def append(
    session: Session,
    kind: FeedKind,
    *,
    at: datetime,
    payload: dict[str, Any],
    zone_id: int | None = None,
    target: str | None = None,
    notice_id: int | None = None,
    item_id: int | None = None,
) -> StagedRecord:
    """Stage one enforcement record in the current unit of work."""
    record = StagedRecord(kind, as_utc(at), payload, zone_id, target, notice_id, item_id)
    journal.stage(session, JOURNAL, record)
    return record


_RECORD_COLUMNS = ("seq", "kind", "at", "zone_id", "target", "notice_id", "item_id", "payload")


def _flush(session: Session, staged: list[StagedRecord], head: ChainHead) -> None:
    seq = head.seq
    rows = []
    for record in staged:
        seq += 1
        record.seq = seq
        check_record(
            document_of(
                seq,
                record.kind,
                record.payload,
                zone_id=record.zone_id,
                target=record.target,
                notice_id=record.notice_id,
                item_id=record.item_id,
            )
        )
        rows.append(
            (
                seq,
                record.kind,
                record.at,
                record.zone_id,
                record.target,
                record.notice_id,
                record.item_id,
                record.payload,
            )
        )
    bulk_insert(session, EnforcementRecord, _RECORD_COLUMNS, rows)
    head.seq = seq
    notify_appended(session, seq)


def install() -> None:
    """Declare the enforcement log, wake this process's long-polls when it grows, and drop lifts
    withheld by a unit of work that rolls back (called by the assembly)."""
    journal.register(JOURNAL, order=10, flush=_flush)
    journal.on_commit(_wake_feed_readers)
    journal.on_rollback(_drop_withheld)


class FeedHeadTooOld(Exception):
    """The reader is ahead of this log: it was made against another database and must resync."""


def feed_record(row: EnforcementRecord) -> dict[str, Any]:
    """Render one record the way the feed delivers it."""
    record: dict[str, Any] = {"seq": row.seq, "kind": row.kind.value, "at": row.at.isoformat()}
    if row.kind in _RESOURCE_KINDS:
        record |= {
            "zone_id": row.zone_id,
            "target": row.target,
            "notice_id": row.notice_id,
            "item_id": row.item_id,
        }
    return record | row.payload


_RESOURCE_KINDS = frozenset({FeedKind.block, FeedKind.unblock, FeedKind.purge})


def read_feed(session: Session, *, after: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Return up to ``limit`` records after ``after`` and the current head sequence."""
    head = session.scalar(select(ChainHead.seq).where(ChainHead.name == JOURNAL)) or 0
    if after > head:
        raise FeedHeadTooOld(f"after={after} is beyond the last sequence {head}")
    if after == head:
        return [], head
    rows = session.scalars(
        select(EnforcementRecord)
        .where(EnforcementRecord.seq > after)
        .order_by(EnforcementRecord.seq)
        .limit(limit)
    ).all()
    return [feed_record(row) for row in rows], head


def head(session: Session) -> int:
    """Return the last sequence number of the log."""
    return session.scalar(select(ChainHead.seq).where(ChainHead.name == JOURNAL)) or 0


def count_by_kind(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(EnforcementRecord.kind, func.count()).group_by(EnforcementRecord.kind)
    ).all()
    return {kind.value: count for kind, count in rows}


class FeedSignal:
    """Wakes long-polling readers in this process as soon as a feed append commits.

    Commits happen on worker threads; waiters live on an event loop. A reader takes the
    ``generation`` before it reads, then waits past it, so an append that commits between its read
    and its wait is never missed. Readers also re-poll on an interval for other processes' appends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()

    @property
    def generation(self) -> int:
        return self._generation

    def notify(self) -> None:
        with self._lock:
            self._generation += 1
            waiters, self._waiters = self._waiters, set()
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # the waiter's loop has closed
                loop.call_soon_threadsafe(_resolve, future)

    async def wait_past(self, generation: int, timeout: float) -> None:
        """Return once an append commits after ``generation`` was read, or after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future)
        with self._lock:
            if self._generation != generation:
                return
            self._waiters.add(entry)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(entry)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


feed_signal = FeedSignal()


def _wake_feed_readers(names: frozenset[str]) -> None:
    if JOURNAL in names:
        feed_signal.notify()


def enqueue_message(
    session: Session,
    *,
    at: datetime,
    kind: str,
    channel: Channel,
    recipient: str,
    subject: str,
    body: str,
    payload: dict[str, Any] | None = None,
    notice_id: int | None = None,
    customer_id: int | None = None,
    deliverable: bool = True,
) -> OutboxMessage:
    """Write a notification to the outbox; the dispatcher sends it once the transaction commits."""
    message = OutboxMessage(
        created_at=at,
        kind=kind,
        channel=channel,
        recipient=recipient,
        subject=subject[:300],
        body=body,
        payload=payload or {},
        status=OutboxStatus.pending if deliverable else OutboxStatus.stored,
        attempts=0,
        next_attempt_at=at if deliverable else None,
        notice_id=notice_id,
        customer_id=customer_id,
    )
    session.add(message)
    return message


def has_message(session: Session, *, kind: str, notice_id: int) -> bool:
    """Whether a message of ``kind`` about the notice was ever queued (for handlers that run once)."""
    found = session.scalar(
        select(OutboxMessage.id)
        .where(OutboxMessage.notice_id == notice_id, OutboxMessage.kind == kind)
        .limit(1)
    )
    return found is not None


ERASED_TEXT = "(erased)"


def erase_messages(
    session: Session,
    *,
    customer_id: int | None = None,
    recipients: Sequence[str] = (),
    about: tuple[Sequence[int], str] | None = None,
    before: datetime | None = None,
    keep_customers: Sequence[int] = (),
) -> int:
    """Erase the personal data of outbox messages (recipient, subject, body, payload): those of
    ``customer_id``, sent to ``recipients`` or ``about`` (notice ids, kind prefix) some notices (letters
    to others that carry the customer's data), or every message written before ``before`` (a
    retention period) except those of ``keep_customers`` (under legal hold). Return how many.

    The message stays (its kind, times and status are the record that a letter went out); one not
    yet sent is not sent any more.
    """
    stmt = update(OutboxMessage).where(OutboxMessage.body != ERASED_TEXT)
    if before is not None:
        stmt = stmt.where(OutboxMessage.created_at < before)
    else:
        chosen = []
        if customer_id is not None:
            chosen.append(OutboxMessage.customer_id == customer_id)
        if recipients:
            chosen.append(OutboxMessage.recipient.in_(list(recipients)))
        if about is not None and about[0]:
            notice_ids, prefix = about
            chosen.append(
                OutboxMessage.notice_id.in_(list(notice_ids))
                & OutboxMessage.kind.startswith(prefix, autoescape=True)
            )
        if not chosen:
            return 0
        stmt = stmt.where(or_(*chosen))
    if keep_customers:
        stmt = stmt.where(
            (OutboxMessage.customer_id.is_(None)) | (OutboxMessage.customer_id.not_in(list(keep_customers)))
        )
    result = session.execute(
        stmt.values(
            recipient=ERASED_TEXT,
            subject=ERASED_TEXT,
            body=ERASED_TEXT,
            payload={},
            last_error=None,
        ).execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.body == ERASED_TEXT, OutboxMessage.status == OutboxStatus.pending)
        .values(status=OutboxStatus.failed, last_error="erased before it was sent")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def due_messages(session: Session, *, now: datetime, limit: int = 100) -> Sequence[OutboxMessage]:
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.pending, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    ).all()


def list_messages(
    session: Session,
    *,
    notice_id: int | None = None,
    customer_id: int | None = None,
    limit: int = 100,
) -> Sequence[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if notice_id is not None:
        stmt = stmt.where(OutboxMessage.notice_id == notice_id)
    if customer_id is not None:
        stmt = stmt.where(OutboxMessage.customer_id == customer_id)
    return session.scalars(stmt).all()


def schedule_timer(
    session: Session,
    *,
    kind: str,
    due_at: datetime,
    subject: tuple[str, int],
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> Timer:
    """Persist a step to run at ``due_at``."""
    timer = Timer(
        kind=kind,
        due_at=as_utc(due_at),
        subject_type=subject[0],
        subject_id=subject[1],
        payload=payload or {},
        status=TimerStatus.pending,
        created_at=now,
        attempts=0,
    )
    session.add(timer)
    return timer


def cancel_timers(session: Session, *, kind: str, subject: tuple[str, int], now: datetime) -> int:
    """Cancel pending timers of ``kind`` for ``subject``; return how many."""
    result = session.execute(
        update(Timer)
        .where(
            Timer.kind == kind,
            Timer.subject_type == subject[0],
            Timer.subject_id == subject[1],
            Timer.status == TimerStatus.pending,
        )
        .values(status=TimerStatus.cancelled, done_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def due_timers(session: Session, *, as_of: datetime, limit: int = 500) -> Sequence[Timer]:
    return session.scalars(
        select(Timer)
        .where(Timer.status == TimerStatus.pending, Timer.due_at <= as_of)
        .order_by(Timer.due_at, Timer.id)
        .limit(limit)
    ).all()


@dataclass(frozen=True, slots=True)
class BlockSpec:
    """A resource to block or unblock: ``target`` (canonical path and query) in ``zone_id``."""

    zone_id: int
    target: str
    url: str
    notice_id: int | None
    item_id: int | None


@dataclass(frozen=True, slots=True)
class Holder:
    """Something that holds a block on a resource: a notice item (``kind`` "item") or a stay-down
    match ("match"). ``copy_of`` is the item whose block a copy shares (it has no block record)."""

    kind: str
    id: int
    notice_id: int | None
    copy_of: int | None = None

    def describe(self) -> dict[str, Any]:
        """The holder as an audit entry names it."""
        described: dict[str, Any] = {"kind": self.kind, "id": self.id, "notice_id": self.notice_id}
        if self.copy_of is not None:
            described["copy_of"] = self.copy_of
        return described


def targets_by_zone(keys: Sequence[tuple[int, str]], *, chunk: int = 500) -> Iterator[tuple[int, list[str]]]:
    """Group (zone, target) pairs by zone, in sorted chunks one ``IN`` query can take: how holders
    of many resources are looked up."""
    by_zone: dict[int, set[str]] = {}
    for zone_id, target in keys:
        by_zone.setdefault(zone_id, set()).add(target)
    for zone_id, targets in by_zone.items():
        ordered = sorted(targets)
        for start in range(0, len(ordered), chunk):
            yield zone_id, ordered[start : start + chunk]


def _blocking(
    session: Session, kind: FeedKind, specs: Sequence[BlockSpec], *, at: datetime, reason: str
) -> None:
    records = [
        StagedRecord(
            kind,
            at,
            {"url": spec.url, "reason": reason},
            zone_id=spec.zone_id,
            target=spec.target,
            notice_id=spec.notice_id,
            item_id=spec.item_id,
        )
        for spec in specs
    ]
    journal.stage_many(session, JOURNAL, records)


def block(session: Session, specs: Sequence[BlockSpec], *, at: datetime, reason: str) -> None:
    """Block each resource: one ``block`` record each, applied by every edge in order."""
    _blocking(session, FeedKind.block, specs, at=as_utc(at), reason=reason)


def unblock(session: Session, specs: Sequence[BlockSpec], *, at: datetime, reason: str) -> None:
    """Lift each block: one ``unblock`` record each. An edge lifts the resource whoever else holds it,
    so callers send one only when no other ``Holder`` remains."""
    _blocking(session, FeedKind.unblock, specs, at=as_utc(at), reason=reason)


_WITHHELD = "staydown.enforcement.withheld"


def withhold_unblock(session: Session, specs: Sequence[BlockSpec], *, at: datetime, reason: str) -> None:
    """Note lifts whose ``unblock`` is held back because another holder keeps the resource blocked.

    Nothing reaches the feed; what explains each lifted block (its statement of reasons) still ends,
    when the unit of work commits (see :func:`take_withheld`)."""
    session.info.setdefault(_WITHHELD, []).extend(
        StagedRecord(
            FeedKind.unblock,
            as_utc(at),
            {"url": spec.url, "reason": reason, "withheld": True},
            zone_id=spec.zone_id,
            target=spec.target,
            notice_id=spec.notice_id,
            item_id=spec.item_id,
        )
        for spec in specs
    )


def take_withheld(session: Session) -> list[StagedRecord]:
    """The withheld lifts noted in this unit of work, taken once."""
    return list(session.info.pop(_WITHHELD, []))


def _drop_withheld(session: Session) -> None:
    session.info.pop(_WITHHELD, None)


def staged_records(session: Session) -> list[StagedRecord]:
    """The enforcement records this unit of work has staged and that are not numbered yet."""
    return [r for r in journal.staged(session, JOURNAL) if isinstance(r, StagedRecord) and r.seq is None]


def get_message(session: Session, message_id: int) -> OutboxMessage | None:
    return session.get(OutboxMessage, message_id)


def messages_replied_to(session: Session, header: str) -> list[OutboxMessage]:
    """The outbox messages a reply's ``In-Reply-To`` or ``References`` names, in the order named.
    A message counts only under the exact key it was sent with (its id and the instant it was
    written), so a guessed id alone names nothing."""
    found = []
    for outbox_id, key in transport.delivery_keys_named(header):
        message = session.get(OutboxMessage, outbox_id)
        if message is not None and transport.delivery_key(message) == key:
            found.append(message)
    return found
