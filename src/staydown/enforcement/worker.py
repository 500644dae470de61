"""The worker loop: claim due outbox messages and timers (and whatever jobs the assembly adds) and
work them off, with as many worker processes as the operator runs.

Every piece of work is claimed first (``db.claims``): the claim commits before the message leaves
or the timer's step runs, so two workers never do the same thing while a lease runs. Delivery is
at-least-once: a worker killed between sending a message and recording it leaves the message
claimed; its lease runs out and another worker sends it again, with the same ``Message-ID`` (or
``Idempotency-Key``), so the receiver can tell the copy. Timers run their step and record it in
one transaction under a lock on the timer's row, so a timer's effect happens exactly once.

This module knows no domain: the assembly (``staydown.worker``) registers a handler per timer kind
and the extra jobs (stay-down captures) the loop runs each cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, text, update
from sqlalchemy.orm import Session

from staydown.db import claims
from staydown.db.engine import Database
from staydown.enforcement.models import Channel, OutboxMessage, OutboxStatus, Timer, TimerStatus
from staydown.enforcement.transport import DeliveryError, Transport
from staydown.types import Clock, system_clock

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8

TimerStep = Callable[[Session, Timer, datetime], None]
"""Run a timer's step inside the given unit of work, as of the instant given."""


@dataclass(frozen=True)
class FetchingTimer:
    """A timer step that needs the network. ``fetch`` runs once the timer is claimed, outside any
    transaction (the claim's lease covers it, and no write lock is held while a remote server is
    slow), with the timer as claimed; ``step`` records what it brought in the timer's unit of work,
    where the state it rests on is read again. An exception from either counts as the step failing."""

    fetch: Callable[[Database, Timer, datetime], object]
    step: Callable[[Session, Timer, datetime, object], None]


TimerHandler = TimerStep | FetchingTimer

Job = Callable[[Database, datetime], int]
"""A further kind of work the loop runs each cycle (it claims its own rows); returns how many ran."""


@dataclass(frozen=True)
class Claims:
    """Who claims work and for how long; batches stay small so a lease outlives its batch."""

    claimant: str = field(default_factory=claims.claimant_name)
    lease: timedelta = timedelta(seconds=60)
    batch: int = 50


def _due_timers(as_of: datetime) -> ColumnElement[bool]:
    return (Timer.status == TimerStatus.pending) & (Timer.due_at <= as_of)


def run_timers(
    database: Database,
    handlers: Mapping[str, TimerHandler],
    *,
    as_of: datetime,
    claim: Claims | None = None,
    clock: Clock = system_clock,
) -> int:
    """Run every timer due by ``as_of`` that no other worker holds; return how many this one ran.

    Leases run on ``clock`` (the real time), not on ``as_of``, which may be any instant.
    """
    claim = claim or Claims()
    ran = 0
    while True:
        claimed = claims.claim(
            database,
            Timer,
            due=_due_timers(as_of),
            order_by=[Timer.due_at, Timer.id],
            now=clock(),
            claimant=claim.claimant,
            lease=claim.lease,
            limit=claim.batch,
        )
        if not claimed:
            return ran
        for timer in claimed:
            ran += _run_timer(database, handlers, timer, as_of=as_of, claimant=claim.claimant)


def _run_timer(
    database: Database,
    handlers: Mapping[str, TimerHandler],
    claimed: Timer,
    *,
    as_of: datetime,
    claimant: str,
) -> int:
    """Run one claimed timer's step (``claimed`` as it was claimed, detached)."""
    handler = handlers.get(claimed.kind)
    fetched: object = None
    failure: Exception | None = None
    if isinstance(handler, FetchingTimer):
        try:
            fetched = handler.fetch(database, claimed, as_of)
        except Exception as exc:
            failure = exc
    timer_id = claimed.id
    with database.writer() as session:
        # Locked for the step: a worker whose lease on it ran out meanwhile cannot start it too.
        timer = session.get(Timer, timer_id, with_for_update=True, populate_existing=True)
        if timer is None or timer.status is not TimerStatus.pending or timer.claimed_by != claimant:
            return 0
        kind = timer.kind
        try:
            if failure is not None:
                raise failure
            if handler is None:
                raise LookupError(f"no handler for timer kind {kind!r}")
            if isinstance(handler, FetchingTimer):
                handler.step(session, timer, as_of, fetched)
            else:
                handler(session, timer, as_of)
            timer.status = TimerStatus.done
            timer.done_at = as_of
            timer.lease_until = None
        except Exception as exc:
            session.rollback()
            log.exception("timer %s (%s) failed", timer_id, kind)
            timer = session.get(Timer, timer_id, with_for_update=True, populate_existing=True)
            assert timer is not None
            timer.attempts += 1
            timer.last_error = str(exc)[:2000]
            timer.lease_until = None
            if timer.attempts >= MAX_ATTEMPTS:
                timer.status = TimerStatus.failed
        session.commit()
        return 1


def _due_messages(now: datetime) -> ColumnElement[bool]:
    return (OutboxMessage.status == OutboxStatus.pending) & (OutboxMessage.next_attempt_at <= now)


def send_outbox(
    database: Database,
    *,
    now: datetime,
    available: Mapping[Channel, Transport],
    claim: Claims | None = None,
) -> int:
    """Claim the messages that are due, send them and record each; return how many were attempted."""
    claim = claim or Claims()
    batch = claims.claim(  # committed before anything leaves
        database,
        OutboxMessage,
        due=_due_messages(now),
        order_by=[OutboxMessage.next_attempt_at, OutboxMessage.id],
        now=now,
        claimant=claim.claimant,
        lease=claim.lease,
        limit=claim.batch,
    )
    # Stop well before the lease ends: another worker may send what this one still holds after it.
    stop_at = time.monotonic() + claim.lease.total_seconds() / 2
    attempted = 0
    if not batch:
        return 0
    try:
        # One connection records the whole batch, a short transaction per letter, so that a crash
        # resends at most the letter that was in flight.
        with database.engine.connect() as connection:
            for index, message in enumerate(batch):
                if time.monotonic() > stop_at:
                    rest = [m.id for m in batch[index:]]
                    claims.release(database, OutboxMessage, rest, claimant=claim.claimant)
                    break
                _deliver(connection, message, now=now, available=available, claimant=claim.claimant)
                attempted += 1
    finally:
        for transport in available.values():
            transport.close()
    return attempted


def _deliver(
    connection: Connection,
    message: OutboxMessage,
    *,
    now: datetime,
    available: Mapping[Channel, Transport],
    claimant: str,
) -> None:
    transport = available.get(message.channel)
    values: dict[str, object] = {"lease_until": None}
    if transport is None:
        values |= {"status": OutboxStatus.stored, "next_attempt_at": None}
    else:
        attempts = message.attempts + 1
        values["attempts"] = attempts
        try:
            transport.send(message)
        except DeliveryError as exc:
            values["last_error"] = str(exc)[:2000]
            if exc.permanent or attempts >= MAX_ATTEMPTS:
                values |= {"status": OutboxStatus.failed, "next_attempt_at": None}
            else:
                values["next_attempt_at"] = now + timedelta(seconds=min(3600, 5 * 2**attempts))
        else:
            values |= {
                "status": OutboxStatus.sent,
                "sent_at": now,
                "next_attempt_at": None,
                "last_error": None,
            }
    if connection.dialect.name == "postgresql":
        # Not waiting for the WAL flush doubles the rate. The record may be lost only if the
        # database server itself crashes in the next moment; the letter is then sent once more,
        # which at-least-once delivery (and the stable Message-ID) already allows for.
        connection.execute(text("SET LOCAL synchronous_commit = off"))
    result = connection.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.claimed_by == claimant,
            OutboxMessage.status == OutboxStatus.pending,
        )
        .values(values)
    )
    connection.commit()
    if not result.rowcount:
        log.warning("outbox message %s was taken over by another worker after its lease", message.id)


@dataclass
class Worker:
    """One worker process's loop: timers, the assembly's jobs, then the outbox, every ``interval``."""

    database: Database
    timer_handlers: Mapping[str, TimerHandler]
    transports: Mapping[Channel, Transport]
    jobs: Sequence[Job] = ()
    claim: Claims = field(default_factory=Claims)
    clock: Clock = system_clock

    def cycle(self) -> None:
        """Work off what is due now, once."""
        run_timers(self.database, self.timer_handlers, as_of=self.clock(), claim=self.claim, clock=self.clock)
        for job in self.jobs:
            job(self.database, self.clock())
        while send_outbox(self.database, now=self.clock(), available=self.transports, claim=self.claim):
            pass  # a full outbox drains in batches without waiting for the next cycle

    async def run(self, *, interval: float = 1.0, stop: asyncio.Event | None = None) -> None:
        """Cycle until ``stop`` is set; a failed cycle is logged and retried."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.cycle)
            except Exception:
                log.exception("worker cycle failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
