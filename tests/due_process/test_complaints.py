"""Internal complaints (DSA Art. 20) over HTTP: another agent decides, a well-founded complaint
reverses the decision through the same workflow, and the six-month window is enforced."""

from __future__ import annotations

from typing import Any

import pytest

from staydown.worker import send_outbox, transports
from tests.conftest import Api
from tests.due_process.support import actioned_notice, feed, item_statuses, outbox, strikes
from tests.enforcement.test_outbox import smtp as smtp_sink
from tests.support import active_zone, notice_body


def test_a_complaint_reverses_a_wrong_block_end_to_end(api: Api) -> None:
    case = actioned_notice(api, "wrong.example.test", ["/own-photo.jpg"], role="submitter")
    notice_id, items = case["notice"]["id"], case["item_ids"]
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {case['key']}"
    [statement] = customer.get("/v1/statements", params={"notice_id": notice_id}).json()
    assert statement["status"] == "in_force"

    api.clock.advance(days=20)
    r = customer.post(
        "/v1/complaints",
        json={"notice_id": notice_id, "items": items, "explanation": "I took this photograph myself."},
    )
    assert r.status_code == 201, r.text
    complaint = r.json()
    assert complaint["status"] == "open" and complaint["complainant"] == "customer"
    assert complaint["open_until"].startswith("2027-05-02")  # six months after the decision
    assert any(m["kind"] == "complaint_receipt" for m in customer.get("/v1/outbox").json())

    # The agent who blocked the item cannot decide the complaint about it.
    same = api.as_("agent").post(
        f"/v1/complaints/{complaint['id']}/decision", json={"outcome": "upheld", "reason": "on reflection"}
    )
    assert same.status_code == 403
    assert same.json()["error"]["code"] == "same_decision_maker"
    assert "another agent" in same.json()["error"]["message"]
    # A customer cannot decide it either.
    assert (
        customer.post(
            f"/v1/complaints/{complaint['id']}/decision", json={"outcome": "upheld", "reason": "mine"}
        ).status_code
        == 403
    )

    api.clock.advance(days=2)
    r = api.as_("agent2").post(
        f"/v1/complaints/{complaint['id']}/decision",
        json={
            "outcome": "upheld",
            "reason": "The customer's EXIF data and originals show it is their photo.",
        },
    )
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["status"] == "upheld"
    assert decided["answer"].startswith("The customer's EXIF")

    unblocks = [rec for rec in feed(api) if rec["kind"] == "unblock"]
    assert [rec["item_id"] for rec in unblocks] == items
    assert "internal complaint" in unblocks[0]["reason"]
    assert set(item_statuses(api, notice_id).values()) == {"restored"}
    [strike] = strikes(api, case["customer_id"])
    assert strike["status"] == "voided"
    [statement] = customer.get("/v1/statements", params={"notice_id": notice_id}).json()
    assert statement["status"] == "reversed"
    assert "internal complaint" in statement["end_reason"]
    kinds = {m["kind"]: m for m in outbox(api, notice_id=notice_id)}
    assert "EXIF" in kinds["complaint_decision"]["body"]
    assert kinds["complaint_decision"]["recipient"] == "wrong@example.com"
    assert kinds["complaint_reversal"]["recipient"] == "agent@rights.example"

    again = api.as_("agent2").post(
        f"/v1/complaints/{complaint['id']}/decision", json={"outcome": "dismissed", "reason": "changed mind"}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "complaint_decided"
    trail = api.as_("agent").get(f"/v1/audit/complaint/{complaint['id']}").json()
    assert [e["action"] for e in trail] == ["complaint.received", "complaint.upheld"]


def test_a_complaint_after_six_months_is_refused_with_the_reason(api: Api) -> None:
    case = actioned_notice(api, "late.example.test", ["/x.jpg"])
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {case['key']}"
    body = {"notice_id": case["notice"]["id"], "items": case["item_ids"], "explanation": "not infringing"}
    api.clock.advance(days=182)  # 2 November → 3 May: past 2 May
    r = customer.post("/v1/complaints", json=body)
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "complaint_window_closed"
    assert "within 6 months" in error["message"] and "Art. 20" in error["message"]
    assert error["details"]["open_until"].startswith("2027-05-02")


def test_a_notifier_complaint_against_a_rejection_blocks_through_the_same_workflow(api: Api) -> None:
    zone = active_zone(api, "missed.example.test")
    notice = (
        api.as_("submitter")
        .post("/v1/notices", json=notice_body(["http://missed.example.test/p.jpg"]))
        .json()
    )
    item = notice["items"][0]["id"]
    rejected = api.as_("agent").post(
        f"/v1/notices/{notice['id']}/decision",
        json={"items": {str(item): "reject"}, "reason": "looks licensed"},
    )
    assert rejected.json()["status"] == "rejected"
    assert not [rec for rec in feed(api) if rec["kind"] == "block"]

    # A customer cannot complain about a rejection; another notifier cannot see the notice.
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"
    body = {"notice_id": notice["id"], "items": [item], "explanation": "The licence expired in 2025."}
    assert customer.post("/v1/complaints", json=body).json()["error"]["code"] == "decision_not_contestable"
    assert api.as_("trusted_flagger").post("/v1/complaints", json=body).status_code == 404

    complaint = api.as_("submitter").post("/v1/complaints", json=body).json()
    assert complaint["complainant"] == "notifier"
    mine = api.as_("submitter").get("/v1/complaints").json()
    assert [c["id"] for c in mine] == [complaint["id"]]
    r = api.as_("agent2").post(
        f"/v1/complaints/{complaint['id']}/decision",
        json={"outcome": "upheld", "reason": "The licence did expire; the copy is unauthorised."},
    )
    assert r.status_code == 200, r.text
    assert item_statuses(api, notice["id"]) == {item: "actioned"}
    assert [rec["item_id"] for rec in feed(api) if rec["kind"] == "block"] == [item]
    assert strikes(api, zone["customer_id"])[0]["status"] == "active"
    [statement] = customer.get("/v1/statements", params={"notice_id": notice["id"]}).json()
    assert statement["status"] == "in_force"
    assert statement["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"


def test_a_dismissed_complaint_leaves_the_decision_and_answers_with_reasons(api: Api) -> None:
    case = actioned_notice(api, "stands.example.test", ["/y.jpg"])
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {case['key']}"
    body = {"notice_id": case["notice"]["id"], "items": case["item_ids"], "explanation": "fair use"}
    complaint = customer.post("/v1/complaints", json=body).json()
    duplicate = customer.post("/v1/complaints", json=body)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "complaint_open"
    # The trusted flagger's notice was actioned automatically: any agent may decide.
    api.clock.advance(hours=3)
    r = api.as_("agent").post(
        f"/v1/complaints/{complaint['id']}/decision",
        json={"outcome": "dismissed", "reason": "A full page copied verbatim is not fair use."},
    )
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    assert set(item_statuses(api, case["notice"]["id"]).values()) == {"actioned"}
    assert not [rec for rec in feed(api) if rec["kind"] == "unblock"]
    letters = [m for m in customer.get("/v1/outbox").json() if m["kind"] == "complaint_decision"]
    assert letters and "not fair use" in letters[0]["body"] and "out-of-court" in letters[0]["body"]
    assert (
        api.as_("agent").get("/v1/complaints", params={"status": "dismissed"}).json()[0]["id"]
        == complaint["id"]
    )


def test_a_complaint_lifts_a_wrong_repeat_infringer_suspension(api: Api) -> None:
    zone = active_zone(api, "struck.example.test")
    for n in range(3):  # three strikes within 90 days suspend the customer (default policy)
        api.clock.advance(hours=1)
        r = api.as_("trusted_flagger").post(
            "/v1/notices", json=notice_body([f"http://struck.example.test/{n}.jpg"])
        )
        assert r.status_code == 201
    ledger = api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/strikes").json()
    assert ledger["standing"] == "suspended"
    [suspension] = [step for step in ledger["steps"] if step["kind"] == "suspension"]
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"
    other = active_zone(api, "bystander.example.test", phone="+1 202 555 0177", address="2 Side St")
    stranger = api.client()
    stranger.headers["authorization"] = f"Bearer {other['key']}"
    body = {"policy_step_id": suspension["id"], "explanation": "Two of the three notices named my own work."}
    assert stranger.post("/v1/complaints", json=body).status_code == 404
    assert customer.post("/v1/complaints", json={**body, "notice_id": 1, "items": [1]}).status_code == 422

    complaint = customer.post("/v1/complaints", json=body)
    assert complaint.status_code == 201, complaint.text
    assert complaint.json()["subject"] == "policy_step"
    r = api.as_("agent").post(
        f"/v1/complaints/{complaint.json()['id']}/decision",
        json={"outcome": "upheld", "reason": "The strikes rest on notices we should not have actioned."},
    )
    assert r.status_code == 200, r.text
    assert api.as_("agent").get(f"/v1/customers/{zone['customer_id']}").json()["standing"] == "warned"
    assert api.as_("agent").get(f"/v1/zones/{zone['zone_id']}").json()["status"] == "active"
    zone_records = [rec for rec in feed(api) if rec["kind"] == "zone" and rec["zone_id"] == zone["zone_id"]]
    assert [rec["status"] for rec in zone_records][-2:] == ["suspended", "active"]
    statements = customer.get("/v1/statements", params={"zone_id": zone["zone_id"]}).json()
    assert [s["status"] for s in statements if s["restriction"] == "zone_suspended"] == ["lifted"]
    letters = [m for m in customer.get("/v1/outbox").json() if m["kind"] == "complaint_decision"]
    assert letters and "suspension, lifted," in letters[0]["body"]


def test_a_notifier_complaint_reverses_a_wrong_suspension_of_its_notices(api: Api) -> None:
    active_zone(api, "noisy.example.test", service_type="platform")
    found = []
    for n in range(4):
        api.clock.advance(hours=1)
        notice = (
            api.as_("submitter")
            .post("/v1/notices", json=notice_body([f"http://noisy.example.test/{n}.jpg"], regime="dsa"))
            .json()
        )
        found.append(
            api.as_("agent")
            .post(
                f"/v1/notices/{notice['id']}/manifestly-unfounded", json={"reason": "not the notifier's work"}
            )
            .json()
        )
    suspension = found[-1]["measure"]
    assert suspension["kind"] == "suspension"
    url = "http://noisy.example.test/again.jpg"
    assert api.as_("submitter").post("/v1/notices", json=notice_body([url], regime="dsa")).status_code == 403

    body = {
        "measure_id": suspension["id"],
        "explanation": "Those works are licensed to us; see the contracts.",
    }
    assert api.as_("trusted_flagger").post("/v1/complaints", json=body).status_code == 404
    complaint = api.as_("submitter").post("/v1/complaints", json=body).json()
    assert complaint["subject"] == "notifier_measure" and complaint["complainant"] == "notifier"
    # The agent who found the notices unfounded (and so suspended the notifier) may not decide.
    same = api.as_("agent").post(
        f"/v1/complaints/{complaint['id']}/decision", json={"outcome": "upheld", "reason": "ok"}
    )
    assert same.status_code == 403 and same.json()["error"]["code"] == "same_decision_maker"
    r = api.as_("agent2").post(
        f"/v1/complaints/{complaint['id']}/decision",
        json={"outcome": "upheld", "reason": "The licences cover the works; the findings were wrong."},
    )
    assert r.status_code == 200, r.text
    assert api.as_("submitter").post("/v1/notices", json=notice_body([url], regime="dsa")).status_code == 201
    standing = api.as_("submitter").get(f"/v1/notifiers/{found[-1]['submitter_key_id']}").json()
    assert standing["suspended_until"] is None
    assert [m["kind"] for m in standing["measures"]] == ["warning", "suspension", "reversed"]
    letters = [m for m in outbox(api) if m["kind"] == "complaint_decision"]
    assert letters and letters[0]["recipient"] == "agent@rights.example"


def test_a_complaint_upheld_during_a_counter_notice_leaves_the_timer_nothing_to_do(api: Api) -> None:
    from staydown.worker import run_timers
    from tests.due_process.support import counter_notice_body
    from tests.due_process.test_counter_notices import RESTORE_AT

    case = actioned_notice(api, "both.example.test", ["/z.jpg"])
    notice_id, items = case["notice"]["id"], case["item_ids"]
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {case['key']}"
    counter = customer.post("/v1/counter-notices", json=counter_notice_body(notice_id, items)).json()
    complaint = customer.post(
        "/v1/complaints", json={"notice_id": notice_id, "items": items, "explanation": "my own drawing"}
    ).json()
    api.as_("agent").post(
        f"/v1/complaints/{complaint['id']}/decision", json={"outcome": "upheld", "reason": "it is theirs"}
    )
    assert [rec["item_id"] for rec in feed(api) if rec["kind"] == "unblock"] == items
    assert run_timers(api.database, as_of=RESTORE_AT, settings=api.settings) == 1
    assert [rec["item_id"] for rec in feed(api) if rec["kind"] == "unblock"] == items  # no second unblock
    assert customer.get(f"/v1/counter-notices/{counter['id']}").json()["status"] == "restored"
    assert not [m for m in customer.get("/v1/outbox").json() if m["kind"] == "counter_notice_restored"]


def test_a_terminated_customer_contests_its_termination_before_a_person(api: Api) -> None:
    from staydown.due_process import service as due_process
    from staydown.due_process.flows import DueProcessError

    zone = active_zone(api, "ended.example.test")
    r = api.as_("agent").post(
        f"/v1/customers/{zone['customer_id']}/terminate", json={"reason": "three notices"}
    )
    assert r.status_code == 200, r.text
    ledger = api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/strikes").json()
    [termination] = [step for step in ledger["steps"] if step["kind"] == "termination"]
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"
    body = {"policy_step_id": termination["id"], "explanation": "The notices named works I licensed."}
    complaint = customer.post("/v1/complaints", json=body)
    assert complaint.status_code == 201, complaint.text
    complaint_id = complaint.json()["id"]

    # No timer, system or intake step may decide it: only a person.
    with api.database.writer() as session:
        row = due_process.get_complaint(session, complaint_id)
        assert row is not None
        try:
            due_process.decide_complaint(
                session, row, upheld=False, answer="x", actor="timer", now=api.clock(), settings=api.settings
            )
        except DueProcessError as exc:
            assert exc.code == "not_a_person"
        else:
            raise AssertionError("an automated actor decided a complaint")
        session.rollback()
    same = api.as_("agent").post(
        f"/v1/complaints/{complaint_id}/decision", json={"outcome": "upheld", "reason": "licensed"}
    )
    assert same.status_code == 403 and same.json()["error"]["code"] == "same_decision_maker"
    r = api.as_("agent2").post(
        f"/v1/complaints/{complaint_id}/decision",
        json={"outcome": "upheld", "reason": "the licence covers it"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["decided_by"].startswith("key:")
    assert api.as_("agent").get(f"/v1/customers/{zone['customer_id']}").json()["standing"] == "warned"
    letters = [m for m in customer.get("/v1/outbox").json() if m["kind"] == "complaint_decision"]
    assert letters and "termination, set aside" in letters[0]["body"]


mail = pytest.fixture(smtp_sink.__wrapped__, name="mail")  # type: ignore[attr-defined]


def test_the_complaint_window_runs_from_when_the_customer_was_informed(api: Api, mail: Any) -> None:
    """Art. 20(2): the six months start when the recipient is informed, here when the letter that
    carried the decision was delivered, 200 days after the decision."""
    controller, _inbox = mail
    case = actioned_notice(api, "slowmail.example.test", ["/x.jpg"])
    decided = api.clock()
    api.clock.advance(days=200)
    settings = api.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": controller.port})
    assert send_outbox(api.database, now=api.clock(), available=transports(settings)) >= 1
    api.clock.advance(days=10)  # 210 days after the decision, 10 after being told of it
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {case['key']}"
    body = {"notice_id": case["notice"]["id"], "items": case["item_ids"], "explanation": "mine"}
    r = customer.post("/v1/complaints", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["decision_taken_at"].startswith(decided.date().isoformat())
    assert r.json()["open_until"].startswith("2027-11-21")  # six months from delivery on 21 May 2027
