"""Workers claim their work: two at once never send a letter or run a timer twice, and a claim
whose worker died passes to another once its lease has run out."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from email.parser import BytesHeaderParser
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session

from staydown.db import claims
from staydown.db.engine import Database
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel, OutboxMessage, OutboxStatus, Timer, TimerStatus
from staydown.enforcement.transport import SmtpTransport, Transport
from staydown.enforcement.worker import Claims, run_timers, send_outbox
from tests.conftest import Clock


class Sink:
    def __init__(self) -> None:
        self.received: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(BytesHeaderParser().parsebytes(envelope.content)["Message-ID"])
        return "250 OK"


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def letters(database: Database, clock: Clock, count: int) -> None:
    with database.transaction() as session:
        for n in range(count):
            enforcement.enqueue_message(
                session,
                at=clock(),
                kind="test",
                channel=Channel.email,
                recipient=f"r{n}@example.test",
                subject=f"letter {n}",
                body="body",
            )


def smtp(port: int) -> dict[Channel, Transport]:
    return {Channel.email: SmtpTransport(host="127.0.0.1", port=port, sender="abuse@staydown.invalid")}


def statuses(database: Database) -> Counter[OutboxStatus]:
    with database.reader() as session:
        return Counter(session.scalars(select(OutboxMessage.status)))


def test_two_workers_send_each_letter_once(database: Database, clock: Clock, sink: tuple[Sink, int]) -> None:
    received, port = sink
    letters(database, clock, 120)
    barrier = threading.Barrier(2)
    sent: list[int] = []

    def work(name: str) -> None:
        claim = Claims(claimant=name, batch=10)
        transports = smtp(port)
        barrier.wait(10)
        while n := send_outbox(database, now=clock(), available=transports, claim=claim):
            sent.append(n)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses(database) == Counter({OutboxStatus.sent: 120})
    assert sum(sent) == 120
    assert len(received.received) == 120 == len(set(received.received))
    with database.reader() as session:
        assert set(session.scalars(select(OutboxMessage.claimed_by))) == {"one", "two"}


def test_a_dead_workers_claim_passes_on_when_its_lease_ends(
    database: Database, clock: Clock, sink: tuple[Sink, int]
) -> None:
    received, port = sink
    letters(database, clock, 3)
    lease = timedelta(seconds=60)
    due = (OutboxMessage.status == OutboxStatus.pending) & (OutboxMessage.next_attempt_at <= clock())
    taken = claims.claim(
        database,
        OutboxMessage,
        due=due,
        order_by=[OutboxMessage.id],
        now=clock(),
        claimant="dead",
        lease=lease,
        limit=2,
    )
    assert len(taken) == 2  # and then the worker died
    survivor = Claims(claimant="survivor", lease=lease)
    assert send_outbox(database, now=clock(), available=smtp(port), claim=survivor) == 1
    assert send_outbox(database, now=clock.advance(seconds=59), available=smtp(port), claim=survivor) == 0
    assert send_outbox(database, now=clock.advance(seconds=2), available=smtp(port), claim=survivor) == 2
    assert statuses(database) == Counter({OutboxStatus.sent: 3})
    assert len(received.received) == 3 == len(set(received.received))


def test_two_timer_runs_run_each_timer_once(database: Database, clock: Clock) -> None:
    with database.transaction() as session:
        for n in range(40):
            enforcement.schedule_timer(
                session, kind="count", due_at=clock(), subject=("thing", n), now=clock()
            )
    ran: Counter[int] = Counter()
    lock = threading.Lock()

    def count(session: Session, timer: Timer, now: Any) -> None:
        with lock:
            ran[timer.subject_id] += 1

    barrier = threading.Barrier(2)
    totals: list[int] = []

    def work(name: str) -> None:
        barrier.wait(10)
        totals.append(
            run_timers(database, {"count": count}, as_of=clock(), claim=Claims(claimant=name, batch=5))
        )

    threads = [threading.Thread(target=work, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(totals) == 40
    assert ran == Counter(dict.fromkeys(range(40), 1))
    with database.reader() as session:
        assert set(session.scalars(select(Timer.status))) == {TimerStatus.done}
