"""A host's reply to a notice forwarded to it, arriving over SMTP, is recorded as its answer on
that forward (reminders stop, the dossier shows it, audited), never turned into a notice or
triage: found by the forward's Message-ID in In-Reply-To/References, or by the reference its
subject carries; a reference with the wrong token names nothing."""

from __future__ import annotations

import asyncio
import email.policy
import smtplib
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select

from staydown.enforcement.models import OutboxMessage
from staydown.enforcement.transport import SmtpTransport
from staydown.hosts import service as hosts
from staydown.inbound import service as inbound
from staydown.inbound import smtp
from staydown.inbound.models import InboundMessage, InboundStatus
from tests.conftest import Api
from tests.support import active_zone, notice_body

HOST = "forwarded-site.example.test"
ABUSE = "abuse@host.example"


@pytest.fixture
def smtp_port(api: Api) -> Iterator[int]:
    """The mail intake's SMTP receiver on a socket, on its own event loop, storing into the API's
    database."""
    sock = smtp.listening_socket("127.0.0.1", 0)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    server: list[asyncio.Server] = []

    async def serve() -> None:
        server.append(await smtp.start(api.database, api.settings, sock, clock=api.clock))
        started.set()

    thread = threading.Thread(
        target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True
    )
    thread.start()
    assert started.wait(10)
    try:
        yield int(sock.getsockname()[1])
    finally:
        loop.call_soon_threadsafe(server[0].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _forward_letters(api: Api) -> list[EmailMessage]:
    """The forwards to the host as the outbox's SMTP transport writes them."""
    transport = SmtpTransport(host="127.0.0.1", port=1, sender="abuse-desk@cdn.example")
    with api.database.reader() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "notice_forward_host")
            .order_by(OutboxMessage.id)
        ).all()
        return [transport.build(row) for row in rows]


def _reply(letter: EmailMessage, text: str, *, threaded: bool = True, subject: str | None = None) -> bytes:
    reply = EmailMessage()
    reply["From"] = f"Host Abuse Team <{ABUSE}>"
    reply["To"] = "abuse-desk@cdn.example"
    reply["Subject"] = subject or f"Re: {letter['Subject']}"
    reply["Message-ID"] = f"<reply-{abs(hash(text))}@host.example>"
    if threaded:
        reply["In-Reply-To"] = letter["Message-ID"]
        reply["References"] = f"<older@host.example> {letter['Message-ID']}"
    quoted = "\n".join(f"> {line}" for line in letter.get_body(("plain",)).get_content().splitlines())  # type: ignore[union-attr]
    reply.set_content(f"{text}\n\nOn Monday you wrote:\n{quoted}\n")
    return reply.as_bytes(policy=email.policy.SMTP)  # CRLF line ends, as a mailer sends them


def _send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        assert client.sendmail(ABUSE, ["abuse-desk@cdn.example"], raw) == {}


def _read_all(api: Api) -> list[InboundMessage]:
    inbound.process_due(api.database, now=api.clock(), settings=api.settings, claimant="test")
    with api.database.reader() as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def _forwards(api: Api, notice_id: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.as_("agent").get(f"/v1/notices/{notice_id}/hosts").json()
    return found


def test_a_hosts_reply_by_mail_is_its_answer_on_the_forward(api: Api, smtp_port: int) -> None:
    zone = active_zone(api, HOST, host_contact=ABUSE)
    notices = []
    for page in ("one", "two", "three"):
        r = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/{page}.jpg"]))
        assert r.status_code == 201 and r.json()["status"] == "actioned", r.text
        notices.append(r.json()["id"])
    first, second, third = _forward_letters(api)
    assert "[ref HF" in str(first["Subject"])

    _send(smtp_port, _reply(first, "We removed the three files and warned the customer."))
    # A mailer that drops the references still keeps the subject's reference.
    _send(smtp_port, _reply(second, "Gone too.", threaded=False))
    # A reference with another token names no forward: read as any other message.
    forged = str(third["Subject"]).rsplit("-", 1)[0] + "-0123456789abcdef]"
    _send(smtp_port, _reply(third, "Not really the host.", threaded=False, subject=f"Re: {forged}"))
    answered, by_subject, other = _read_all(api)

    assert answered.status is InboundStatus.host_answer and by_subject.status is InboundStatus.host_answer
    assert other.status is not InboundStatus.host_answer
    assert answered.notice_id is None  # the quoted notice made no notice
    [forward] = _forwards(api, notices[0])
    assert forward["status"] == "answered" and forward["answered_at"] is not None
    assert _forwards(api, notices[1])[0]["status"] == "answered"
    assert _forwards(api, notices[2])[0]["status"] == "sent"
    total = api.as_("agent").get("/v1/notices", params={"per_page": 100}).json()["total"]
    assert total == 3 + (other.status is InboundStatus.notice)  # none from the hosts' replies

    # Reminders go to the silent host only, with the reference in their subject.
    api.clock.advance(days=api.settings.host_reply_days + 1)
    assert hosts.run_reminders(api.database, now=api.clock(), settings=api.settings) == 1
    with api.database.reader() as session:
        [reminder] = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notice_forward_host_reminder")
        ).all()
        assert reminder.payload["host_forward_id"] == _forwards(api, notices[2])[0]["id"]
        assert "[ref HF" in reminder.subject
        replies = session.scalars(select(OutboxMessage.kind).where(OutboxMessage.recipient == ABUSE)).all()
        # One receipt, for the message that was not an answer; none to the host for its answers.
        assert [k for k in replies if k.startswith("inbound_")] == [f"inbound_{other.status.value}"]

    dossier = api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/dossier").json()
    assert dossier["host"]["answered"] == 2 and dossier["host"]["unanswered"] == 1
    [event] = [
        e for e in dossier["events"] if e["kind"] == "host.answered" and str(notices[0]) in e["detail"]
    ]
    assert "We removed the three files" in event["detail"] and "Monday" not in event["detail"]
    trail = api.as_("legal").get(f"/v1/audit/notice/{notices[0]}").json()
    [entry] = [e for e in trail if e["action"] == "host.answered"]
    assert entry["data"]["via"] == "mail" and entry["data"]["inbound_id"] == answered.id

    # A further reply to an answered forward keeps the first answer and is audited.
    api.clock.advance(hours=1)
    _send(smtp_port, _reply(first, "Also, the customer says hello."))
    again = _read_all(api)[-1]
    assert again.status is InboundStatus.host_answer and "further reply" in (again.reason or "")
    trail = api.as_("legal").get(f"/v1/audit/notice/{notices[0]}").json()
    assert [e["action"] for e in trail].count("host.answered_again") == 1


def test_the_answer_keeps_what_the_host_wrote_less_the_quoted_lines() -> None:
    body = "Done.\n\n> quoted 1\n  > quoted 2\nThanks\n" + "x" * 9000
    text = hosts.answer_text(body)
    assert text.startswith("Done.\n\nThanks") and "quoted" not in text and len(text) == hosts.ANSWER_LIMIT
    for attribution in ("On Mon, 7 Dec 2026, abuse@cdn.example wrote:", "-----Original Message-----"):
        assert hosts.answer_text(f"Removed.\n{attribution}\nthe notice, unquoted") == "Removed."
    assert (
        hosts.answer_text("対応しました。\n2026年12月7日 abuse@cdn.example さんは書きました:\n通知")
        == "対応しました。"
    )
