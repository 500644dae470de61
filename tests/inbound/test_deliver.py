"""`staydown mail deliver` as a Postfix or Exim pipe transport runs it: one message on stdin, the
exit status per sysexits (0 stored, 65 data error, 75 try again later)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from staydown.db.engine import Database
from staydown.inbound import service
from staydown.inbound.models import InboundStatus
from tests.inbound import samples
from tests.processes import STAYDOWN


def deliver(data_dir: Path, raw: bytes, **env: str) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "STAYDOWN_DATA_DIR": str(data_dir), **env}
    if "STAYDOWN_DATABASE_URL" not in env:
        environment.pop("STAYDOWN_DATABASE_URL", None)
    return subprocess.run(
        [*STAYDOWN, "mail", "deliver", "--from", "sender@example.org", "--to", "abuse@staydown.invalid"],
        input=raw,
        capture_output=True,
        env=environment,
        timeout=60,
        check=False,
    )


def test_delivered_letters_become_notices_or_statuses(data_dir: Path) -> None:
    japanese = deliver(data_dir, samples.japanese("http://manga.demo.test/p1.jpg", charset="shift_jis"))
    assert japanese.returncode == 0, japanese.stderr
    assert json.loads(japanese.stdout)["status"] == "notice"
    refused = deliver(
        data_dir,
        samples.message(
            samples.acns_letter(
                samples.acns_xml(entities='<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>')
            )
        ),
    )
    assert refused.returncode == 0  # stored, answered: the MTA has nothing to bounce
    assert json.loads(refused.stdout)["status"] == "refused"
    garbage = deliver(data_dir, b"\x00\xff\xfe not a message at all \x1b$B")
    assert garbage.returncode == 0 and json.loads(garbage.stdout)["status"] in ("triage", "refused")
    database = Database.from_url(f"sqlite:///{data_dir / 'staydown.db'}")
    try:
        with database.reader() as session:
            rows, total = service.list_page(session, status=None, page=1, per_page=10)
            assert total == 3
            first = rows[-1]
            assert first.via == "pipe" and first.envelope_from == "sender@example.org"
            assert first.recipients == ["abuse@staydown.invalid"]
            assert rows[1].status is InboundStatus.refused and "entities" in (rows[1].reason or "")
    finally:
        database.dispose()


def test_empty_and_oversized_messages_are_data_errors(data_dir: Path) -> None:
    assert deliver(data_dir, b"").returncode == 65
    big = deliver(data_dir, samples.message("x" * 5000), STAYDOWN_MAIL_MAX_BYTES="2048")
    assert big.returncode == 65 and b"over the limit" in big.stderr


def test_database_down_is_a_temporary_failure(data_dir: Path) -> None:
    down = deliver(
        data_dir,
        samples.message("http://manga.demo.test/a.jpg"),
        STAYDOWN_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2",
    )
    assert down.returncode == 75, down.stderr
    assert b"could not be stored now" in down.stderr
