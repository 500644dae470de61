"""Several processes reading received mail at once on PostgreSQL: each message is claimed by one of
them and read once (one notice, one audit entry, one receipt), however the claims interleave; and two
messages with one Case ID read at the same instant by two processes make one notice."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from staydown.audit.models import AuditEntry
from staydown.db.engine import Database
from staydown.enforcement.models import OutboxMessage
from staydown.inbound import service
from staydown.inbound.models import InboundMessage, InboundStatus
from staydown.notices.models import Notice
from tests.inbound import samples
from tests.processes import eventually

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

MESSAGES = 600


def test_two_readers_read_each_message_once(database: Database, database_url: str, tmp_path: Path) -> None:
    arrivals = [
        service.Arrival(
            samples.message(
                samples.ENGLISH.format(urls=f"http://manga.demo.test/p/{n}.jpg"),
                sender=f"s{n}@rights.example",
            ),
            "smtp",
        )
        for n in range(MESSAGES)
    ]
    env = {**os.environ, "STAYDOWN_DATA_DIR": str(tmp_path), "STAYDOWN_DATABASE_URL": database_url}
    logs = [tmp_path / f"reader-{n}.log" for n in range(2)]
    readers = []
    for log in logs:
        with log.open("w") as out:
            readers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "staydown.cli", "mail", "serve", "--port", "0"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    # Both readers polling before anything is stored, and enough batches that each one's poll (every
    # second) comes round while the other is reading: on a slow machine one would otherwise take all.
    eventually(lambda: all("ready" in log.read_text() for log in logs), "both readers serving", 120)
    service.receive_many(database, arrivals, now=datetime.now(UTC))

    def pending() -> int:
        with database.reader() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(InboundMessage)
                    .where(InboundMessage.status == InboundStatus.pending)
                )
                or 0
            )

    try:
        eventually(lambda: pending() == 0, "messages left pending", 120)
    finally:
        for reader in readers:
            reader.send_signal(signal.SIGINT)
        for reader in readers:
            reader.wait(30)
    with database.reader() as session:
        rows = session.scalars(select(InboundMessage)).all()
        assert Counter(row.status for row in rows) == {InboundStatus.notice: MESSAGES}
        assert len({row.notice_id for row in rows}) == MESSAGES
        claimants = Counter(row.claimed_by.split(":")[1] for row in rows if row.claimed_by)
        reads = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "inbound.read")
        )
        receipts = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "inbound_notice")
        )
    assert reads == receipts == MESSAGES
    assert len(claimants) == 2, claimants  # both readers took batches (50 at a time) of the 600


# A reader that stops, holding its transaction open, just before it would make a notice: it says so
# on stdout and goes on when told to on stdin. Two of them show whether a second message with the
# same Case ID can get past the duplicate check while the first one's notice is not yet committed.
READER = """
import sys
from datetime import UTC, datetime
from staydown import assembly
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.inbound import service
from staydown.notices import service as notices

assembly.install()
submit_many = notices.submit_many

def held_submit_many(*args, **kwargs):
    print("about to make a notice", flush=True)
    sys.stdin.readline()
    return submit_many(*args, **kwargs)

notices.submit_many = held_submit_many
database = Database.from_url(sys.argv[1])
status = service.process_one(database, int(sys.argv[2]), now=datetime.now(UTC), settings=Settings())
print(status.value, flush=True)
database.dispose()
"""


def _waiting_on_a_lock(database: Database) -> int:
    with database.reader() as session:
        return (
            session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            or 0
        )


def test_two_processes_reading_the_same_case_id_at_once_make_one_notice(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    letters = [
        samples.message(
            samples.acns_letter(
                samples.acns_xml(case_id="RACE-1", urls=(f"http://manga.demo.test/{n}.jpg",))
            ),
            sender=f"agent{n}@studios.example",
        )
        for n in range(2)
    ]
    ids = service.receive_many(
        database, [service.Arrival(raw, "smtp") for raw in letters], now=datetime.now(UTC)
    )
    env = {**os.environ, "STAYDOWN_DATA_DIR": str(tmp_path), "STAYDOWN_DATABASE_URL": database_url}
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, database_url, str(message_id)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for message_id in ids
    ]
    lines: queue.Queue[tuple[int, str]] = queue.Queue()
    listeners = [
        threading.Thread(
            target=lambda i, out: [lines.put((i, line.strip())) for line in out], args=(index, reader.stdout)
        )
        for index, reader in enumerate(readers)
    ]
    for listener in listeners:
        listener.start()
    try:
        # Both at the notice (the race lost), or one there while the other waits for its claim.
        holding: set[int] = set()
        deadline = time.monotonic() + 60
        while len(holding) < 2 and not (holding and _waiting_on_a_lock(database)):
            assert time.monotonic() < deadline, "the readers never met"
            with contextlib.suppress(queue.Empty):
                index, line = lines.get(timeout=0.05)
                assert line == "about to make a notice", line
                holding.add(index)
        for reader in readers:
            assert reader.stdin is not None
            reader.stdin.write("go\n")
            reader.stdin.flush()
        for reader in readers:
            assert reader.wait(60) == 0
    finally:
        for reader in readers:
            if reader.poll() is None:
                reader.kill()
                reader.wait()
        for listener in listeners:
            listener.join(10)
        for reader in readers:
            for pipe in (reader.stdin, reader.stdout):
                if pipe is not None:
                    pipe.close()
    with database.reader() as session:
        rows = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
        notices = session.scalar(select(func.count()).select_from(Notice))
    assert sorted(row.status for row in rows) == [InboundStatus.duplicate, InboundStatus.notice]
    assert notices == 1
    first, second = sorted(rows, key=lambda row: row.status is InboundStatus.duplicate)
    assert second.duplicate_of_id == first.id
    assert (
        second.reason
        == f"the same ACNS Case ID RACE-1 as inbound message #{first.id} (notice #{first.notice_id})"
    )
