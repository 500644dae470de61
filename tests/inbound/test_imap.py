"""`staydown mail fetch --imap` against a real Dovecot over IMAPS: every message is stored, read and
moved to the processed folder; a message that cannot be stored is left in the mailbox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from staydown.db.engine import Database
from staydown.inbound import imap, service
from staydown.inbound.models import InboundStatus
from staydown.notices.models import Notice
from staydown.types import as_utc
from tests.inbound import samples
from tests.inbound.dovecot import PASSWORD, USER, Dovecot
from tests.processes import STAYDOWN


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    reason = Dovecot.available()
    if reason:
        pytest.skip(reason)
    # Not under pytest's private temporary directory: Dovecot's mail processes run as its own
    # unprivileged user when the tests run as root, and must reach the mail.
    directory = Path(tempfile.mkdtemp(prefix="staydown-dovecot-"))
    directory.chmod(0o755)
    try:
        with Dovecot(directory) as server:
            yield server
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def fetch(data_dir: Path, server: Dovecot, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "STAYDOWN_DATA_DIR": str(data_dir),
        "STAYDOWN_IMAP_PASSWORD": PASSWORD,
        **env,
    }
    environment.pop("STAYDOWN_DATABASE_URL", None)
    url = f"imaps://{USER}@127.0.0.1:{server.port}/INBOX"
    return subprocess.run(
        [*STAYDOWN, "mail", "fetch", "--imap", url, "--once", "--ca-file", str(server.cert), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def test_fetch_stores_reads_and_moves_after_commit(data_dir: Path, dovecot: Dovecot) -> None:
    dovecot.deliver(samples.message(samples.acns_letter(samples.acns_xml(case_id="IMAP-1"))))
    dovecot.deliver(samples.japanese("http://manga.demo.test/p1.jpg", charset="iso-2022-jp"))
    dovecot.deliver(samples.xarf())  # a P2P report: not applicable, still taken and answered
    dovecot.deliver(samples.message("x" * 6000))  # over the limit set below: left in the mailbox
    result = fetch(data_dir, dovecot, STAYDOWN_MAIL_MAX_BYTES="5000")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(printed["stored"]) == 3 and printed["read"] == 3
    assert dovecot.count() == 1 and dovecot.count("Processed") == 3
    database = Database.from_url(f"sqlite:///{data_dir / 'staydown.db'}")
    try:
        with database.reader() as session:
            rows, _total = service.list_page(session, status=None, page=1, per_page=10)
            got = sorted((row.status.value, row.format.value if row.format else None) for row in rows)
            assert got == [("not_applicable", "xarf"), ("notice", "acns"), ("notice", "text")]
            assert {row.via for row in rows} == {"imap"}
    finally:
        database.dispose()
    again = fetch(data_dir, dovecot, STAYDOWN_MAIL_MAX_BYTES="5000")
    assert json.loads(again.stdout.strip().splitlines()[-1]) == {"stored": [], "read": 0}


def test_a_message_fetched_twice_is_a_duplicate_not_a_second_notice(data_dir: Path, dovecot: Dovecot) -> None:
    raw = samples.message(samples.acns_letter(samples.acns_xml(case_id="TWICE")))
    dovecot.deliver(raw)
    assert fetch(data_dir, dovecot).returncode == 0
    dovecot.deliver(raw)  # as after a crash between the commit and the move
    assert fetch(data_dir, dovecot).returncode == 0
    database = Database.from_url(f"sqlite:///{data_dir / 'staydown.db'}")
    try:
        with database.reader() as session:
            rows, _total = service.list_page(session, status=None, page=1, per_page=10)
            assert [row.status for row in rows] == [InboundStatus.duplicate, InboundStatus.notice]
    finally:
        database.dispose()


def test_a_message_left_in_the_mailbox_counts_as_received_when_it_was_delivered(
    data_dir: Path, dovecot: Dovecot
) -> None:
    """Fetched days late (the poller was down), the message and its notice are received at the
    mailbox's delivery (INTERNALDATE), so the notice's deadline has run since then."""
    delivered = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    dovecot.deliver(
        samples.message(samples.acns_letter(samples.acns_xml(case_id="LATE"))), at=delivered.timestamp()
    )
    assert fetch(data_dir, dovecot).returncode == 0
    database = Database.from_url(f"sqlite:///{data_dir / 'staydown.db'}")
    try:
        with database.reader() as session:
            [row] = service.list_page(session, status=None, page=1, per_page=10)[0]
            assert as_utc(row.received_at) == delivered
            notice = session.get(Notice, row.notice_id)
            assert notice is not None and as_utc(notice.received_at) == delivered
            assert as_utc(notice.deadline_at) < datetime.now(UTC)  # overdue already: the timer says so
    finally:
        database.dispose()


def test_untrusted_certificate_is_refused(data_dir: Path, dovecot: Dovecot, tmp_path: Path) -> None:
    environment = {**os.environ, "STAYDOWN_DATA_DIR": str(data_dir), "STAYDOWN_IMAP_PASSWORD": PASSWORD}
    environment.pop("STAYDOWN_DATABASE_URL", None)
    url = f"imaps://{USER}@127.0.0.1:{dovecot.port}/INBOX"
    result = subprocess.run(
        [*STAYDOWN, "mail", "fetch", "--imap", url, "--once"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1 and "certificate" in result.stderr.lower()


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            b'1 (UID 7 INTERNALDATE "04-Dec-2026 10:00:00 +0900" BODY[] {12}',
            datetime(2026, 12, 4, 1, tzinfo=UTC),
        ),
        (b"1 (UID 7 BODY[] {12}", None),
        (b'1 (UID 7 INTERNALDATE "04-Xyz-2026 10:00:00 +0900" BODY[] {12}', None),
        (b'1 (UID 7 INTERNALDATE "04-Dec-99999 10:00:00 +0900" BODY[] {12}', None),
    ],
)
def test_delivered_at_reads_the_internaldate_or_nothing(response: bytes, expected: datetime | None) -> None:
    assert imap.delivered_at(response) == expected
