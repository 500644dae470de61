"""The worker: sends the outbox and runs durable timers. Assembly only: each step is a domain's.

``staydown worker`` runs it alone; ``staydown up`` runs it beside the API; ``staydown timers run
--as-of`` runs the timers due by one instant and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from staydown.config import Settings
from staydown.db.engine import Database
from staydown.due_process import service as due_process
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel, OutboxStatus, Timer, TimerStatus
from staydown.enforcement.transport import DeliveryError, SmtpTransport, Transport, WebhookTransport
from staydown.fingerprints import service as fingerprints
from staydown.netguard import OriginAccess, OriginGuard
from staydown.notices import service as notices
from staydown.types import Clock, system_clock

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
TimerHandler = Callable[[Session, Timer, datetime, Settings], None]


def _notice_deadline(session: Session, timer: Timer, now: datetime, settings: Settings) -> None:
    notices.run_deadline(session, timer.subject_id, now=now, settings=settings)


def _counter_notice_restore(session: Session, timer: Timer, now: datetime, settings: Settings) -> None:
    due_process.run_restoration(session, timer.subject_id, now=now, settings=settings)


TIMER_HANDLERS: dict[str, TimerHandler] = {
    notices.DEADLINE_TIMER: _notice_deadline,
    due_process.RESTORE_TIMER: _counter_notice_restore,
}


def transports(settings: Settings) -> dict[Channel, Transport]:
    """The transports this configuration allows; a channel without one keeps its messages stored."""
    available: dict[Channel, Transport] = {
        Channel.webhook: WebhookTransport(
            timeout=settings.webhook_timeout_seconds, secret=settings.webhook_secret
        )
    }
    if settings.smtp_host:
        available[Channel.email] = SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout_seconds,
        )
    return available


def run_timers(database: Database, *, as_of: datetime, settings: Settings) -> int:
    """Run every timer due by ``as_of``, each in its own transaction; return how many ran."""
    ran = 0
    while True:
        with database.reader() as session:
            due = [(timer.id, timer.kind) for timer in enforcement.due_timers(session, as_of=as_of)]
        if not due:
            return ran
        for timer_id, kind in due:
            with database.writer() as session:
                timer = session.get(Timer, timer_id)
                if timer is None or timer.status is not TimerStatus.pending:
                    continue
                handler = TIMER_HANDLERS.get(kind)
                try:
                    if handler is None:
                        raise LookupError(f"no handler for timer kind {kind!r}")
                    handler(session, timer, as_of, settings)
                    timer.status = TimerStatus.done
                    timer.done_at = as_of
                except Exception as exc:
                    session.rollback()
                    log.exception("timer %s (%s) failed", timer_id, kind)
                    timer = session.get(Timer, timer_id)
                    assert timer is not None
                    timer.attempts += 1
                    timer.last_error = str(exc)[:2000]
                    if timer.attempts >= MAX_ATTEMPTS:
                        timer.status = TimerStatus.failed
                session.commit()
                ran += 1


def send_outbox(database: Database, *, now: datetime, available: dict[Channel, Transport]) -> int:
    """Send the messages that are due; return how many were attempted."""
    with database.reader() as session:
        due = [(m.id, m.channel) for m in enforcement.due_messages(session, now=now)]
    for message_id, channel in due:
        with database.writer() as session:
            message = enforcement.get_message(session, message_id)
            if message is None or message.status is not OutboxStatus.pending:
                continue
            transport = available.get(channel)
            if transport is None:
                message.status = OutboxStatus.stored
                message.next_attempt_at = None
                session.commit()
                continue
            message.attempts += 1
            try:
                transport.send(message)
            except DeliveryError as exc:
                message.last_error = str(exc)[:2000]
                if exc.permanent or message.attempts >= MAX_ATTEMPTS:
                    message.status = OutboxStatus.failed
                    message.next_attempt_at = None
                else:
                    message.next_attempt_at = now + timedelta(seconds=min(3600, 5 * 2**message.attempts))
            else:
                message.status = OutboxStatus.sent
                message.sent_at = now
                message.next_attempt_at = None
                message.last_error = None
            session.commit()
    return len(due)


async def run_forever(
    database: Database,
    settings: Settings,
    *,
    clock: Clock = system_clock,
    interval: float = 1.0,
    stop: asyncio.Event | None = None,
    origin_guard: OriginGuard | None = None,
) -> None:
    """Send the outbox, run due timers and captures until ``stop`` is set; captures connect to
    origins through ``origin_guard`` (by default one of the settings' origin policy)."""
    guard = origin_guard or OriginGuard(OriginAccess.from_settings(settings))
    stop = stop or asyncio.Event()
    available = transports(settings)
    while not stop.is_set():
        try:
            await asyncio.to_thread(run_timers, database, as_of=clock(), settings=settings)
            await asyncio.to_thread(
                fingerprints.run_captures, database, now=clock(), settings=settings, guard=guard
            )
            await asyncio.to_thread(send_outbox, database, now=clock(), available=available)
        except Exception:
            log.exception("worker cycle failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
