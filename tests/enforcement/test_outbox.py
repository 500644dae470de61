"""Notifications leave through the outbox: real SMTP (aiosmtpd) and signed webhooks, with retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from staydown.worker import send_outbox, transports
from tests.conftest import Api
from tests.support import ChallengeOrigin, active_zone, customer_body, notice_body


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=default)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    with socket.socket() as probe:  # the controller needs a concrete port to check it started
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, inbox
    controller.stop()


class Hook:
    def __init__(self, status: int = 204) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        received, self.status = self.received, status
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append((dict(self.headers), body))
                self.send_response(hook.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def test_notice_mail_goes_out_over_smtp(api: Api, smtp: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp
    zone = active_zone(api, "mail.example.test")
    notice = api.as_("trusted_flagger").post(
        "/v1/notices", json=notice_body(["http://mail.example.test/a.jpg"])
    )
    settings = api.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": controller.port})
    sent = send_outbox(api.database, now=api.clock(), available=transports(settings))
    assert sent >= 4
    by_recipient = {tuple(rcpt): msg for rcpt, msg in inbox.messages}
    assert set(by_recipient) >= {
        ("agent@rights.example",),
        ("abuse@host.example",),
        (f"{zone['hostname'].split('.')[0]}@example.com",),
    }
    # Each letter's Message-ID is stable (a resend after a crash carries the same one) and unique.
    ids = [msg["Message-ID"] for _, msg in inbox.messages]
    assert len(set(ids)) == len(ids) and all(i.endswith("@staydown.invalid>") for i in ids)
    forwarded = by_recipient[("abuse@host.example",)]
    text = forwarded.get_body(("plain",)).get_content()
    assert "http://mail.example.test/a.jpg" in text
    # The host is told who complains and how to reach them, not their telephone or postal address.
    assert "Rights Agent" in text and "agent@rights.example" in text and "+81 3 1111 2222" not in text
    assert forwarded["Staydown-Outbox-Id"]
    attachment = next(part for part in forwarded.iter_attachments())
    assert json.loads(attachment.get_content())["notice_id"] == notice.json()["id"]
    outbox = api.as_("agent").get("/v1/outbox").json()
    assert {m["status"] for m in outbox} == {"sent"}


def test_undeliverable_mail_is_retried_then_given_up(api: Api) -> None:
    active_zone(api, "retry.example.test")
    api.as_("trusted_flagger").post("/v1/notices", json=notice_body(["http://retry.example.test/a.jpg"]))
    settings = api.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": 9, "smtp_timeout_seconds": 1}
    )
    send_outbox(api.database, now=api.clock(), available=transports(settings))
    outbox = api.as_("agent").get("/v1/outbox").json()
    assert {m["status"] for m in outbox} == {"pending"}
    assert all(m["attempts"] == 1 and "failed" in m["last_error"] for m in outbox)
    assert send_outbox(api.database, now=api.clock(), available=transports(settings)) == 0  # backing off
    for _ in range(10):
        api.clock.advance(hours=2)
        send_outbox(api.database, now=api.clock(), available=transports(settings))
    assert {m["status"] for m in api.as_("agent").get("/v1/outbox").json()} == {"failed"}


def test_without_smtp_mail_is_kept_for_the_desk(api: Api) -> None:
    active_zone(api, "desk.example.test")
    api.as_("trusted_flagger").post("/v1/notices", json=notice_body(["http://desk.example.test/a.jpg"]))
    send_outbox(api.database, now=api.clock(), available=transports(api.settings))
    outbox = api.as_("agent").get("/v1/outbox").json()
    assert {m["status"] for m in outbox} == {"stored"}
    kinds = {m["kind"] for m in outbox}
    assert {"notice_receipt", "notice_forward_customer", "notice_forward_host", "notice_decision"} <= kinds


def test_customer_webhook_is_signed(api: Api) -> None:
    hook = Hook()
    try:
        agent = api.as_("agent")
        customer = agent.post("/v1/customers", json=customer_body("Hooked", webhook_url=hook.url)).json()
        active = active_zone(api, "hook.example.test")  # another customer's zone: gets no webhook
        assert active["customer_id"] != customer["id"]
        settings = api.settings.model_copy(update={"webhook_secret": "s3cret"})
        agent.post(
            f"/v1/customers/{customer['id']}/verification/decision",
            json={"level": "identity", "reason": "ok"},
        )
        with ChallengeOrigin() as origin:
            zone = agent.post(
                "/v1/zones",
                json={"customer_id": customer["id"], "hostname": "hooked.example.test", "origin": origin.url},
            ).json()
            origin.files[zone["challenge"]["http_path"]] = zone["challenge"]["token"]
            agent.post(f"/v1/zones/{zone['id']}/validate", json={"method": "http"})
        api.as_("trusted_flagger").post("/v1/notices", json=notice_body(["http://hooked.example.test/a.jpg"]))
        send_outbox(api.database, now=api.clock(), available=transports(settings))
        [(headers, body)] = hook.received
        expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert headers["staydown-signature"] == expected
        # The key a receiver drops a resent copy by: the same on every attempt, unique per letter.
        [letter] = [m for m in api.as_("agent").get("/v1/outbox").json() if m["channel"] == "webhook"]
        assert headers["idempotency-key"].startswith(f"outbox-{letter['id']}-")
        assert json.loads(body)["urls"] == ["http://hooked.example.test/a.jpg"]
    finally:
        hook.close()
