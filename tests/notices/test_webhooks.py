"""Submitter webhooks over HTTP: a key registers a URL and gets a secret; received, decided,
counter-noticed and restored events reach a real local HTTP server through the outbox, signed
``t=<unix>,v1=<hmac>``; non-public addresses are refused at registration and at delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest

from staydown.worker import run_timers, send_outbox, transports
from tests.conftest import Api
from tests.due_process.support import counter_notice_body
from tests.processes import STAYDOWN, eventually
from tests.support import active_zone, notice_body

HOST = "hooked.example.test"
RESTORE_AT = datetime(2026, 11, 18, 5, 0, tzinfo=UTC)  # ten New York business days after the clock's start


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every delivery and answers ``status``."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/staydown/events"
        self.thread = Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self, secret: str) -> list[dict[str, Any]]:
        """Every delivery's body, after checking its signature as a receiver would."""
        found = []
        for headers, body in self.deliveries:
            assert verified(secret, headers["x-staydown-signature"], body), headers
            found.append(json.loads(body) | {"_key": headers["idempotency-key"]})
        return found


def verified(secret: str, header: str, body: bytes, *, tolerance: float = 300) -> bool:
    """A receiver's check: ``t`` is recent and ``v1`` is HMAC-SHA256 of ``"<t>." + body``."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return abs(time.time() - int(fields["t"])) < tolerance and hmac.compare_digest(expected, fields["v1"])


def deliver(api: Api) -> int:
    return send_outbox(
        api.database, now=api.clock(), available=transports(api.settings, database=api.database)
    )


def test_events_reach_the_submitters_webhook_signed_with_its_secret(api: Api) -> None:
    zone = active_zone(api, HOST)
    submitter = api.as_("submitter")
    with Receiver() as receiver:
        r = submitter.put("/v1/submitter/webhook", json={"url": receiver.url})
        assert r.status_code == 200, r.text
        secret = r.json()["secret"]
        assert secret.startswith("whsec_") and len(secret) > 40
        assert set(r.json()["events"]) == {
            "notice.received",
            "notice.decided",
            "notice.restored",
            "notice.counter_noticed",
        }
        assert submitter.get("/v1/submitter/webhook").json()["secret"] is None
        assert api.as_("trusted_flagger").get("/v1/submitter/webhook").status_code == 404

        body = notice_body([f"http://{HOST}/a.jpg", f"http://{HOST}/b.jpg"], external_id="SND-1")
        body["items"][0]["external_id"] = "a"
        notice = submitter.post("/v1/notices", json=body).json()
        a, b = (item["id"] for item in notice["items"])
        decided = api.as_("agent").post(
            f"/v1/notices/{notice['id']}/decision", json={"items": {str(a): "action"}, "reason": "copy"}
        )
        assert decided.status_code == 200
        api.as_("agent").post(
            f"/v1/notices/{notice['id']}/decision", json={"items": {str(b): "reject"}, "reason": "licensed"}
        )
        customer = api.client()
        customer.headers["authorization"] = f"Bearer {zone['key']}"
        counter = customer.post("/v1/counter-notices", json=counter_notice_body(notice["id"], [a]))
        assert counter.status_code == 201, counter.text
        api.clock.now = RESTORE_AT
        assert run_timers(api.database, as_of=RESTORE_AT, settings=api.settings) == 1

        # Another submitter's notice sends nothing to this webhook.
        api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/c.jpg"]))
        deliver(api)
        events = receiver.events(secret)

    assert [(e["event"], [(i["id"], i["status"]) for i in e["items"]]) for e in events] == [
        ("notice.received", [(a, "pending_review"), (b, "pending_review")]),
        ("notice.decided", [(a, "actioned")]),
        ("notice.decided", [(b, "rejected")]),
        ("notice.counter_noticed", [(a, "counter_noticed")]),
        ("notice.restored", [(a, "restored")]),
    ]
    # Each item is named with its state when the event happened.
    assert {e["notice_id"] for e in events} == {notice["id"]}
    assert {e["external_id"] for e in events} == {"SND-1"}
    assert events[1]["items"][0]["external_id"] == "a" and events[1]["items_total"] == 1
    assert events[2]["notice_status"] == "actioned"
    assert len({e["_key"] for e in events}) == 5
    # The secret is what signs: another secret does not verify.
    assert not verified(
        "whsec_other", receiver.deliveries[0][0]["x-staydown-signature"], receiver.deliveries[0][1]
    )
    outbox = api.as_("agent").get("/v1/outbox", params={"notice_id": notice["id"]}).json()
    assert {m["status"] for m in outbox if m["kind"] == "submitter_webhook"} == {"sent"}


def test_a_failed_delivery_is_retried_under_the_same_key_and_a_removed_webhook_gets_nothing(
    api: Api,
) -> None:
    active_zone(api, HOST)
    submitter = api.as_("submitter")
    with Receiver() as receiver:
        secret = submitter.put("/v1/submitter/webhook", json={"url": receiver.url}).json()["secret"]
        receiver.statuses = [503]
        submitter.post("/v1/notices", json=notice_body([f"http://{HOST}/a.jpg"]))
        deliver(api)
        api.clock.advance(minutes=5)
        deliver(api)
        first, second = receiver.deliveries
        assert first[0]["idempotency-key"] == second[0]["idempotency-key"]
        assert (first[0]["staydown-attempt"], second[0]["staydown-attempt"]) == ("1", "2")
        assert first[1] == second[1] and receiver.events(secret)[1]["event"] == "notice.received"

        # A secret renewed is the one that signs from then on.
        renewed = submitter.put("/v1/submitter/webhook", json={"url": receiver.url}).json()["secret"]
        assert renewed != secret
        submitter.post("/v1/notices", json=notice_body([f"http://{HOST}/b.jpg"]))
        deliver(api)
        headers, raw = receiver.deliveries[-1]
        assert verified(renewed, headers["x-staydown-signature"], raw)
        assert not verified(secret, headers["x-staydown-signature"], raw)

        # Removed: what is still in the outbox is not sent, and nothing new is written.
        submitter.post("/v1/notices", json=notice_body([f"http://{HOST}/c.jpg"]))
        assert submitter.delete("/v1/submitter/webhook").status_code == 204
        assert submitter.delete("/v1/submitter/webhook").status_code == 404
        submitter.post("/v1/notices", json=notice_body([f"http://{HOST}/d.jpg"]))
        count = len(receiver.deliveries)
        deliver(api)
        assert len(receiver.deliveries) == count
    hooks = [m for m in api.as_("agent").get("/v1/outbox").json() if m["kind"] == "submitter_webhook"]
    assert len(hooks) == 3
    assert [m["status"] for m in hooks if m["status"] == "failed"] == ["failed"]
    assert "removed" in next(m["last_error"] for m in hooks if m["status"] == "failed")


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://10.1.2.3/hook", "webhook_not_allowed"),
        ("http://169.254.169.254/latest/meta-data", "webhook_not_allowed"),
        ("http://[::1]:8080/hook", "webhook_not_allowed"),
        ("http://0x7f000001.example/hook", None),  # a name: checked again at every delivery
        ("ftp://hooks.example/x", "invalid_webhook_url"),
        ("http://user:pw@hooks.example/x", "invalid_webhook_url"),
        ("/relative", "invalid_webhook_url"),
    ],
)
def test_webhooks_never_point_at_non_public_addresses(api: Api, url: str, code: str | None) -> None:
    r = api.as_("submitter").put("/v1/submitter/webhook", json={"url": url})
    if code is None:
        assert r.status_code == 200, r.text
        return
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code


def test_a_delivery_to_an_address_no_longer_allowed_is_refused_without_connecting(api: Api) -> None:
    active_zone(api, HOST)
    submitter = api.as_("submitter")
    with Receiver() as receiver:
        submitter.put("/v1/submitter/webhook", json={"url": receiver.url})
        submitter.post("/v1/notices", json=notice_body([f"http://{HOST}/a.jpg"]))
        strict = api.settings.model_copy(update={"origin_allow": []})
        send_outbox(api.database, now=api.clock(), available=transports(strict, database=api.database))
        assert receiver.deliveries == []
    [hook] = [m for m in api.as_("agent").get("/v1/outbox").json() if m["kind"] == "submitter_webhook"]
    assert hook["status"] == "failed" and "refused" in hook["last_error"]


def test_the_worker_process_signs_and_delivers(api: Api) -> None:
    """``staydown worker`` as a process: the assembly gives its webhook transport the signer."""
    active_zone(api, HOST)
    submitter = api.as_("submitter")
    with Receiver() as receiver:
        secret = submitter.put("/v1/submitter/webhook", json={"url": receiver.url}).json()["secret"]
        notice = submitter.post("/v1/notices", json=notice_body([f"http://{HOST}/a.jpg"])).json()
        env = {
            **os.environ,
            "STAYDOWN_DATA_DIR": str(api.settings.data_dir),
            "STAYDOWN_DATABASE_URL": api.database.engine.url.render_as_string(hide_password=False),
            "STAYDOWN_ORIGIN_ALLOW": "127.0.0.0/8",
        }
        log = (api.settings.data_dir.parent / "worker.log").open("w")
        worker = subprocess.Popen([*STAYDOWN, "worker"], stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            eventually(lambda: bool(receiver.deliveries), "the worker never delivered the webhook", 60)
        finally:
            worker.terminate()
            worker.wait(20)
            log.close()
        [event] = receiver.events(secret)
    assert event["event"] == "notice.received" and event["notice_id"] == notice["id"]
