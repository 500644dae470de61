"""Mail over the API as a gateway and an agent meet it: POST /v1/inbound, the list and detail, the
triage queue's two ways out, duplicates, answers in the outbox, and trust for bound senders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from staydown.api.app import create_app
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.inbound import service as inbound
from tests.conftest import Api, Clock, ServerThread, make_keys
from tests.inbound import samples
from tests.support import active_zone, notice_body

URL = "http://manga.demo.test/chapter-1/page-01.jpg"
AUTHSERV = "mx.staydown.test"


@pytest.fixture
def mail_api(database: Database, clock: Clock, settings: Settings) -> Iterator[Api]:
    settings = settings.model_copy(update={"mail_trust_authserv_id": AUTHSERV, "mail_max_bytes": 2_000_000})
    app = create_app(settings, database, clock=clock)
    keys = make_keys(database, clock)
    with ServerThread(app) as server:
        app.state.origin_guard.serving(*server.sock.getsockname()[:2])
        api = Api(server.url, keys, database, clock, settings)
        api.keys["gateway"] = api.as_("admin").post("/v1/keys", json={"role": "mail_gateway"}).json()["key"]
        yield api
        api.close()


def post(api: Api, raw: bytes, role: str = "gateway") -> httpx.Response:
    return api.as_(role).post("/v1/inbound", content=raw, headers={"content-type": "message/rfc822"})


def outbox_to(api: Api, recipient: str) -> list[dict[str, Any]]:
    messages = api.as_("agent").get("/v1/outbox", params={"limit": 1000}).json()
    return [m for m in messages if m["recipient"] == recipient]


def test_acns_by_gateway_becomes_a_notice_with_receipt_naming_the_case_id(mail_api: Api) -> None:
    active_zone(mail_api, "manga.demo.test")
    r = post(mail_api, samples.message(samples.acns_letter(samples.acns_xml())))
    assert r.status_code == 202, r.text
    message = r.json()
    assert set(message) >= {"id", "received_at", "from", "subject", "format", "status", "notice_id", "reason"}
    assert (message["format"], message["status"], message["from"]) == (
        "acns",
        "notice",
        "antipiracy@studios.example",
    )
    notice = mail_api.as_("agent").get(f"/v1/notices/{message['notice_id']}").json()
    assert notice["regime"] == "dmca" and notice["status"] == "accepted" and notice["missing_elements"] == []
    assert [item["url"] for item in notice["items"]] == [URL]
    assert notice["items"][0]["status"] == "pending_review"
    letters = outbox_to(mail_api, "antipiracy@studios.example")
    receipt = [m for m in letters if m["kind"] == "inbound_notice"]
    assert receipt and "ACNS Case ID A1234567" in receipt[0]["subject"]
    assert any(m["kind"] == "notice_receipt" for m in letters)  # the notice's own letters follow
    detail = mail_api.as_("agent").get(f"/v1/inbound/{message['id']}").json()
    assert detail["extracted"]["draft"]["urls"] == [URL]
    listed = mail_api.as_("agent").get("/v1/inbound", params={"status": "notice"}).json()
    assert [m["id"] for m in listed["messages"]] == [message["id"]] and listed["total"] == 1


def test_duplicates_by_case_id_message_id_and_content(mail_api: Api) -> None:
    first = post(
        mail_api, samples.message(samples.acns_letter(samples.acns_xml()), message_id="<a@x>")
    ).json()
    again = post(
        mail_api, samples.message(samples.acns_letter(samples.acns_xml()), message_id="<a@x>")
    ).json()
    same_case = post(mail_api, samples.message(samples.acns_letter(samples.acns_xml()) + "\n(resent)")).json()
    letter = samples.ENGLISH.format(urls=URL)
    text = post(mail_api, samples.message(letter, sender="a@rights.example")).json()
    copy = post(mail_api, samples.message(letter, sender="a@rights.example")).json()
    assert first["status"] == "notice" and text["status"] == "notice"
    assert again["status"] == "duplicate" and "Message-ID <a@x>" in again["reason"]
    assert same_case["status"] == "duplicate" and "ACNS Case ID A1234567" in same_case["reason"]
    assert copy["status"] == "duplicate" and "same content" in copy["reason"]
    assert f"#{first['id']}" in again["reason"] and f"notice #{first['notice_id']}" in again["reason"]
    assert mail_api.as_("agent").get("/v1/notices").json()["total"] == 2


def test_p2p_notice_is_not_applicable_and_the_sender_told_why(mail_api: Api) -> None:
    r = post(mail_api, samples.message(samples.acns_letter(samples.acns_xml(p2p=True, case_id="P2P-1"))))
    message = r.json()
    assert message["status"] == "not_applicable" and message["notice_id"] is None
    letter = outbox_to(mail_api, "antipiracy@studios.example")[0]
    assert "P2P-1" in letter["subject"] and "peer-to-peer" in letter["body"]


def test_incomplete_letter_names_missing_elements_as_the_api_does(mail_api: Api) -> None:
    active_zone(mail_api, "manga.demo.test")
    r = post(mail_api, samples.message(f"Please take down {URL}", sender="Jo <jo@example.org>"))
    message = r.json()
    assert message["status"] == "notice" and message["reason"].startswith("missing elements: ")
    notice = mail_api.as_("agent").get(f"/v1/notices/{message['notice_id']}").json()
    api_notice = (
        mail_api.as_("submitter")
        .post(
            "/v1/notices",
            json={
                "regime": "dmca",
                "submitter": {"name": "Jo", "email": "jo@example.org"},
                "items": [{"url": URL}],
                "explanation": f"Please take down {URL}",
            },
        )
        .json()
    )
    assert notice["missing_elements"] == api_notice["missing_elements"]
    assert notice["status"] == api_notice["status"]


def test_triage_to_notice_and_answer(mail_api: Api) -> None:
    active_zone(mail_api, "manga.demo.test")
    one = post(
        mail_api, samples.message("Your customer copies our manga. Call me.", sender="a@pub.example")
    ).json()
    two = post(mail_api, samples.message("Is this the abuse desk?", sender="b@pub.example")).json()
    assert one["status"] == two["status"] == "triage" and "no URL" in one["reason"]
    queue = mail_api.as_("agent").get("/v1/inbound", params={"status": "triage"}).json()
    assert {m["id"] for m in queue["messages"]} == {one["id"], two["id"]}
    made = mail_api.as_("agent").post(f"/v1/inbound/{one['id']}/notice", json=notice_body([URL]))
    assert made.status_code == 200, made.text
    assert made.json()["status"] == "notice" and made.json()["notice_id"]
    answered = mail_api.as_("agent").post(f"/v1/inbound/{two['id']}/answer", json={"text": "Yes, it is."})
    assert answered.status_code == 200 and answered.json()["answered_at"]
    assert outbox_to(mail_api, "b@pub.example")[0]["body"] == "Yes, it is."
    again = mail_api.as_("agent").post(f"/v1/inbound/{two['id']}/answer", json={"text": "Twice?"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_in_triage"


def test_a_letter_read_late_counts_as_received_when_it_arrived(mail_api: Api) -> None:
    """The notice's receipt and deadline run from the message's arrival (stored and acknowledged),
    not from when a process got round to reading it or a person to taking it up."""
    active_zone(mail_api, "manga.demo.test")
    arrived = mail_api.clock()
    stored = inbound.receive(
        mail_api.database,
        samples.message(samples.acns_letter(samples.acns_xml())),
        via="smtp",
        now=arrived,
        settings=mail_api.settings,
    )
    triaged = post(
        mail_api, samples.message("Your customer copies our manga.", sender="a@pub.example")
    ).json()
    mail_api.clock.advance(hours=30)  # the readers were down past the whole action deadline
    inbound.process_due(mail_api.database, now=mail_api.clock(), settings=mail_api.settings, claimant="late")
    agent = mail_api.as_("agent")
    read = agent.get(f"/v1/inbound/{stored}").json()
    made = agent.post(f"/v1/inbound/{triaged['id']}/notice", json=notice_body([URL.replace("1", "2")])).json()
    deadline = timedelta(hours=mail_api.settings.action_deadline_hours)
    for message in (read, made):
        notice = agent.get(f"/v1/notices/{message['notice_id']}").json()
        received = datetime.fromisoformat(message["received_at"])
        assert datetime.fromisoformat(notice["received_at"]) == received
        assert datetime.fromisoformat(notice["deadline_at"]) == received + deadline
    assert datetime.fromisoformat(read["received_at"]) == arrived


def test_roles(mail_api: Api) -> None:
    raw = samples.message(f"Remove {URL}")
    assert post(mail_api, raw, "submitter").status_code == 403
    assert post(mail_api, raw, "agent").status_code == 403
    assert post(mail_api, raw, "admin").status_code == 202
    assert mail_api.as_("submitter").get("/v1/inbound").status_code == 403
    assert mail_api.as_("gateway").get("/v1/inbound").status_code == 403
    assert mail_api.as_("agent").get("/v1/inbound/999999").status_code == 404


def test_over_the_size_limit_is_refused_and_not_stored(mail_api: Api) -> None:
    r = post(mail_api, samples.message("x" * 2_100_000))
    assert r.status_code == 413 and r.json()["error"]["code"] == "message_too_large"
    assert mail_api.as_("agent").get("/v1/inbound").json()["total"] == 0


def _authenticated(raw: bytes, result: str) -> bytes:
    return f"Authentication-Results: {AUTHSERV}; {result}\r\n".encode() + raw


def test_bound_trusted_sender_is_trusted_only_when_its_from_is_authenticated(mail_api: Api) -> None:
    active_zone(mail_api, "manga.demo.test")
    keys = mail_api.as_("admin").get("/v1/keys").json()
    trusted = next(k for k in keys if k["name"] == "trusted_flagger")
    bound = mail_api.as_("admin").post(
        "/v1/inbound/senders", json={"address": "AntiPiracy@studios.example", "key_id": trusted["id"]}
    )
    assert bound.status_code == 201, bound.text
    letter = samples.acns_letter(samples.acns_xml(case_id="T-1"))
    forged = post(mail_api, _authenticated(samples.message(letter), "dmarc=fail header.from=studios.example"))
    notice = mail_api.as_("agent").get(f"/v1/notices/{forged.json()['notice_id']}").json()
    assert notice["trusted"] is False and notice["items"][0]["status"] == "pending_review"
    letter = samples.acns_letter(samples.acns_xml(case_id="T-2"))
    good = post(mail_api, _authenticated(samples.message(letter), "dmarc=pass header.from=studios.example"))
    notice = mail_api.as_("agent").get(f"/v1/notices/{good.json()['notice_id']}").json()
    assert notice["trusted"] is True and notice["items"][0]["status"] == "actioned"
    # A field some other server wrote says nothing.
    letter = samples.acns_letter(samples.acns_xml(case_id="T-3"))
    other = post(
        mail_api,
        b"Authentication-Results: mx.attacker.example; dmarc=pass header.from=studios.example\r\n"
        + samples.message(letter),
    )
    assert mail_api.as_("agent").get(f"/v1/notices/{other.json()['notice_id']}").json()["trusted"] is False


def test_a_letter_of_ten_thousand_urls_becomes_one_notice(mail_api: Api) -> None:
    urls = "\n".join(f"http://manga.demo.test/p/{n}.jpg" for n in range(10_000))
    r = post(mail_api, samples.message(samples.ENGLISH.format(urls=urls)))
    message = r.json()
    assert message["status"] == "notice", message
    notice = mail_api.as_("agent").get(f"/v1/notices/{message['notice_id']}").json()
    assert notice["item_count"] == 10_000 and notice["missing_elements"] == []
