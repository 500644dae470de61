"""Several processes reading received mail at once on PostgreSQL: each message is claimed by one of
them and read once (one notice, one audit entry, one receipt), however the claims interleave."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from staydown.audit.models import AuditEntry
from staydown.db.engine import Database
from staydown.enforcement.models import OutboxMessage
from staydown.inbound import service
from staydown.inbound.models import InboundMessage, InboundStatus
from tests.inbound import samples
from tests.processes import eventually

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

MESSAGES = 120


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
    service.receive_many(database, arrivals, now=datetime.now(UTC))
    env = {**os.environ, "STAYDOWN_DATA_DIR": str(tmp_path), "STAYDOWN_DATABASE_URL": database_url}
    readers = [
        subprocess.Popen(
            [sys.executable, "-m", "staydown.cli", "mail", "serve", "--port", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]

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
    assert len(claimants) == 2, claimants  # both readers took batches (50 at a time) of the 120
