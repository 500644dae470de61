"""The SMTP and LMTP receiver as a mail server meets it: `staydown mail serve` as a process, smtplib
over a socket. A message acknowledged with 250 survives a kill -9 of the receiver and is read by
the next process; a message over the limit gets 552 and is not stored."""

from __future__ import annotations

import signal
import smtplib
import socket
from pathlib import Path

import pytest

from staydown.cli.mail import lingering
from staydown.db.engine import Database
from staydown.inbound import service
from staydown.inbound.models import InboundStatus
from tests.inbound import samples
from tests.processes import Staydown, eventually


def _statuses(data_dir: Path) -> list[tuple[InboundStatus, int | None, str | None]]:
    database = Database.from_url(f"sqlite:///{data_dir / 'staydown.db'}")
    try:
        with database.reader() as session:
            rows, _total = service.list_page(session, status=None, page=1, per_page=500)
            return [(row.status, row.notice_id, row.external_id) for row in reversed(rows)]
    finally:
        database.dispose()


def _serve(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> tuple[Staydown, int]:
    server = Staydown("mail", "serve", "--port", "0", *args, data_dir=data_dir, env=env)
    port = int(server.printed(r"(?:smtp|lmtp)\s+127\.0\.0\.1:(\d+)").group(1))
    return server, port


def _stop(server: Staydown) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGINT)
        try:
            server.proc.wait(15)
        except Exception:
            server.proc.kill()
            server.proc.wait(5)
    server.log.close()


def test_acknowledged_message_survives_kill_9_and_is_read_by_the_next_start(data_dir: Path) -> None:
    server, port = _serve(data_dir, "--no-process")
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            raw = samples.message(samples.acns_letter(samples.acns_xml(case_id="KILL-9")))
            reply = client.sendmail("antipiracy@studios.example", ["abuse@staydown.invalid"], raw)
            assert reply == {}  # 250 for the only recipient
            server.proc.kill()  # SIGKILL right after the acknowledgement
            server.proc.wait(10)
    finally:
        _stop(server)
    assert _statuses(data_dir) == [(InboundStatus.pending, None, None)]
    second, _port = _serve(data_dir)
    try:
        eventually(lambda: _statuses(data_dir)[0][0] is not InboundStatus.pending, "never read", 30)
    finally:
        _stop(second)
    status, notice_id, case_id = _statuses(data_dir)[0]
    assert status is InboundStatus.notice and notice_id is not None and case_id == "KILL-9"


def test_receives_reads_and_refuses_over_the_limit(data_dir: Path) -> None:
    server, port = _serve(data_dir, env={"STAYDOWN_MAIL_MAX_BYTES": "20000"})
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo()
            assert client.has_extn("size") and client.esmtp_features["size"] == "20000"
            for charset in ("iso-2022-jp", "shift_jis"):
                raw = samples.japanese("http://manga.demo.test/p1.jpg", charset=charset)
                client.sendmail("yamada@publisher.example.jp", ["abuse@staydown.invalid"], raw)
            big = samples.message("x" * 30_000)
            with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPSenderRefused)) as refused:
                client.sendmail("big@example.org", ["abuse@staydown.invalid"], big)
            assert refused.value.smtp_code == 552
        eventually(
            lambda: [s for s, _n, _e in _statuses(data_dir)] == [InboundStatus.notice, InboundStatus.notice],
            "the two letters were not read into notices",
            30,
        )
    finally:
        _stop(server)


def test_lmtp(data_dir: Path) -> None:
    server, port = _serve(data_dir, "--lmtp")
    try:
        client = smtplib.LMTP("127.0.0.1", port, timeout=10)
        try:
            raw = samples.xarf(url="http://manga.demo.test/x.jpg")
            assert client.sendmail("xarf@rights.example", ["abuse@staydown.invalid"], raw) == {}
        finally:
            client.quit()
        report_id = "f4b4d4a0-3c3b-4b8e-9d55-6c1b2a7e9f10"
        eventually(lambda: _statuses(data_dir)[:1] == [(InboundStatus.notice, 1, report_id)], "unread")
        # RFC 2033: after DATA, one reply per accepted recipient.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            reader = sock.makefile("rb")
            reader.readline()
            commands = [b"LHLO test", b"MAIL FROM:<a@rights.example>", b"RCPT TO:<abuse@x.example>"]
            for command in [*commands, b"RCPT TO:<dmca@x.example>", b"DATA"]:
                sock.sendall(command + b"\r\n")
                line = reader.readline()
                while line[3:4] == b"-":
                    line = reader.readline()
            sock.sendall(samples.message(f"Remove http://manga.demo.test/{port}.jpg") + b".\r\n")
            replies = [reader.readline(), reader.readline()]
            assert all(r.startswith(b"250 ") for r in replies), replies
            assert replies[0] == replies[1]  # both recipients' replies name the one stored message
            reader.close()
    finally:
        _stop(server)


def test_the_reader_waits_for_a_batch_of_stored_messages_but_not_past_its_linger() -> None:
    assert not lingering(0.0, 0, linger=0.25, batch=50)  # nothing stored: nothing to wait for
    assert lingering(0.01, 3, linger=0.25, batch=50)  # a few stored: more are likely coming
    assert not lingering(0.01, 50, linger=0.25, batch=50)  # a batch's worth: read it now
    assert not lingering(0.25, 3, linger=0.25, batch=50)  # the first waited long enough
