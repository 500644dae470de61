"""Counter-notices over HTTP: §512(g)(3) elements, forwarding, restoration on the business-day
calendar as of chosen instants (``staydown timers run --as-of`` as a process), court actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import Api
from tests.due_process.support import (
    actioned_notice,
    counter_notice_body,
    feed,
    item_statuses,
    outbox,
    strikes,
)
from tests.notices.test_deadline import timers_run

# The clock starts on Monday 2 November 2026, 09:00 UTC. Ten full business days in New York,
# skipping Veterans Day (Wednesday 11 November), end on Tuesday 17 November: restoration at 00:00
# New York time on Wednesday 18 November, 05:00 UTC.
RESTORE_AT = datetime(2026, 11, 18, 5, 0, tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.isoformat()


def test_counter_notice_restores_exactly_on_the_computed_business_day(api: Api) -> None:
    case = actioned_notice(api, "shop.example.test", ["/a.jpg", "/b.jpg"])
    notice_id, items = case["notice"]["id"], case["item_ids"]
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {case['key']}"
    assert strikes(api, case["customer_id"])[0]["status"] == "active"

    r = customer.post("/v1/counter-notices", json=counter_notice_body(notice_id, items))
    assert r.status_code == 201, r.text
    counter = r.json()
    assert counter["status"] == "pending"
    assert counter["missing_elements"] == []
    assert datetime.fromisoformat(counter["restore_at"]) == RESTORE_AT
    assert set(item_statuses(api, notice_id).values()) == {"counter_noticed"}

    forwarded = [m for m in outbox(api, notice_id=notice_id) if m["kind"] == "counter_notice_forward"]
    assert len(forwarded) == 1 and forwarded[0]["recipient"] == "agent@rights.example"
    assert "Shop Owner" in forwarded[0]["body"] and "court-action" in forwarded[0]["body"]
    # The letter states the instant as its reader writes it (English: ISO date and time, in UTC).
    assert f"before {RESTORE_AT.astimezone(UTC):%Y-%m-%d %H:%M} UTC" in forwarded[0]["body"]
    mine = customer.get("/v1/outbox").json()
    assert any(m["kind"] == "counter_notice_receipt" for m in mine)

    # One instant before: nothing runs, nothing is restored.
    assert timers_run(api, _iso(RESTORE_AT - timedelta(microseconds=1)))["ran"] == 0
    assert set(item_statuses(api, notice_id).values()) == {"counter_noticed"}
    assert not [r for r in feed(api) if r["kind"] == "unblock"]

    # At the instant: the timer runs and restores both items.
    assert timers_run(api, _iso(RESTORE_AT))["ran"] == 1
    assert set(item_statuses(api, notice_id).values()) == {"restored"}
    unblocks = [r for r in feed(api) if r["kind"] == "unblock"]
    assert sorted(r["item_id"] for r in unblocks) == sorted(items)
    assert all(r["zone_id"] == case["zone_id"] and "counter-notice" in r["reason"] for r in unblocks)
    [strike] = strikes(api, case["customer_id"])
    assert strike["status"] == "voided" and "counter-notice" in strike["void_reason"]
    restored = [
        m for m in outbox(api, notice_id=notice_id) if m["kind"].startswith("counter_notice_restored")
    ]
    assert {m["recipient"] for m in restored} == {"owner@shop.example", "agent@rights.example"}
    assert customer.get(f"/v1/counter-notices/{counter['id']}").json()["status"] == "restored"

    listed = api.as_("agent").get("/v1/counter-notices", params={"status": "restored"}).json()
    assert [c["id"] for c in listed] == [counter["id"]]
    assert [c["id"] for c in customer.get("/v1/counter-notices").json()] == [counter["id"]]
    assert api.as_("submitter").get("/v1/counter-notices").json() == []

    # Later runs find nothing more to do.
    assert timers_run(api, _iso(RESTORE_AT + timedelta(days=30)))["ran"] == 0
    trail = api.as_("agent").get(f"/v1/audit/counter_notice/{counter['id']}").json()
    assert [e["action"] for e in trail] == ["counter_notice.received", "counter_notice.restored"]


COURT = {"court": "N.D. Cal.", "case_number": "3:26-cv-09999"}


def test_court_action_reported_in_time_keeps_the_items_blocked(api: Api) -> None:
    case = actioned_notice(api, "court.example.test", ["/c.jpg"])
    notice_id, items = case["notice"]["id"], case["item_ids"]
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {case['key']}"
    counter = customer.post("/v1/counter-notices", json=counter_notice_body(notice_id, items)).json()
    assert counter["status"] == "pending"

    # Only the complainant (or staff) may report it; another submitter does not even see the notice.
    assert api.as_("submitter").post(f"/v1/notices/{notice_id}/court-action", json=COURT).status_code == 404
    assert customer.post(f"/v1/notices/{notice_id}/court-action", json=COURT).status_code == 403

    # A report that names nothing cannot be checked and would stop the restoration for good.
    empty = api.as_("trusted_flagger").post(f"/v1/notices/{notice_id}/court-action", json={})
    assert empty.status_code == 422, empty.text
    blank = {"court": "", "case_number": " ", "description": None}
    assert (
        api.as_("trusted_flagger").post(f"/v1/notices/{notice_id}/court-action", json=blank).status_code
        == 422
    )
    assert customer.get(f"/v1/counter-notices/{counter['id']}").json()["status"] == "pending"

    api.clock.advance(days=5)
    r = api.as_("trusted_flagger").post(
        f"/v1/notices/{notice_id}/court-action",
        json={"court": "N.D. Cal.", "case_number": "3:26-cv-01234", "filed_on": "2026-11-06"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["items_kept_blocked"] == items
    assert body["counter_notices"][0]["status"] == "court_action"
    assert "3:26-cv-01234" in body["counter_notices"][0]["court_case"]

    assert timers_run(api, _iso(RESTORE_AT + timedelta(days=1)))["ran"] == 0
    assert set(item_statuses(api, notice_id).values()) == {"actioned"}
    assert not [r for r in feed(api) if r["kind"] == "unblock"]
    assert strikes(api, case["customer_id"])[0]["status"] == "active"
    told = [m for m in customer.get("/v1/outbox").json() if m["kind"] == "counter_notice_court_action"]
    assert told and "N.D. Cal." in told[0]["body"]

    again = api.as_("trusted_flagger").post(f"/v1/notices/{notice_id}/court-action", json=COURT)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "no_pending_counter_notice"


def test_incomplete_counter_notice_names_what_is_missing_and_sets_no_timer(api: Api) -> None:
    case = actioned_notice(api, "partial.example.test", ["/d.jpg"])
    notice_id, items = case["notice"]["id"], case["item_ids"]
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {case['key']}"
    body = counter_notice_body(
        notice_id,
        items,
        phone=None,
        signature="",
        statements={"good_faith_mistake": True, "consent_to_jurisdiction": False, "accept_service": True},
    )
    r = customer.post("/v1/counter-notices", json=body)
    assert r.status_code == 201, r.text
    counter = r.json()
    assert counter["status"] == "incomplete"
    assert counter["restore_at"] is None
    assert counter["missing_elements"] == [
        "512(g)(3)(A) signature",
        "512(g)(3)(D) name, address and telephone number",
        "512(g)(3)(D) consent to jurisdiction",
    ]
    assert set(counter["missing_element_explanations"]) == set(counter["missing_elements"])
    assert set(item_statuses(api, notice_id).values()) == {"actioned"}
    assert timers_run(api, _iso(RESTORE_AT + timedelta(days=30)))["ran"] == 0
    assert not [m for m in outbox(api, notice_id=notice_id) if m["kind"] == "counter_notice_forward"]
    letter = [m for m in customer.get("/v1/outbox").json() if m["kind"] == "counter_notice_incomplete"]
    assert letter and "512(g)(3)(A) signature" in letter[0]["body"]

    # Once complete it is accepted for the same items.
    assert customer.post("/v1/counter-notices", json=counter_notice_body(notice_id, items)).json()[
        "status"
    ] == ("pending")


def test_a_customer_counter_notices_only_its_own_blocked_items(api: Api) -> None:
    mine = actioned_notice(api, "mine.example.test", ["/e.jpg"])
    theirs = actioned_notice(api, "theirs.example.test", ["/f.jpg"])
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {mine['key']}"

    # Someone else's item, under someone else's notice or mine: 404 either way, so ids do not leak.
    other = counter_notice_body(theirs["notice"]["id"], theirs["item_ids"])
    r = customer.post("/v1/counter-notices", json=other)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    mixed = counter_notice_body(mine["notice"]["id"], [*mine["item_ids"], *theirs["item_ids"]])
    assert customer.post("/v1/counter-notices", json=mixed).status_code == 404
    assert customer.post("/v1/counter-notices", json=counter_notice_body(999_999, [1])).status_code == 404
    # Roles without a customer cannot file one for themselves; a submitter is refused outright.
    assert api.as_("submitter").post("/v1/counter-notices", json=other).status_code == 403

    ok = customer.post(
        "/v1/counter-notices", json=counter_notice_body(mine["notice"]["id"], mine["item_ids"])
    )
    assert ok.status_code == 201
    twice = customer.post(
        "/v1/counter-notices", json=counter_notice_body(mine["notice"]["id"], mine["item_ids"])
    )
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "items_not_blocked"


def test_counter_notices_answer_dmca_notices_only(api: Api) -> None:
    from tests.support import active_zone, notice_body

    zone = active_zone(api, "eu.example.test")
    notice = (
        api.as_("trusted_flagger")
        .post("/v1/notices", json=notice_body(["http://eu.example.test/g.jpg"], regime="dsa"))
        .json()
    )
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"
    r = customer.post(
        "/v1/counter-notices", json=counter_notice_body(notice["id"], [notice["items"][0]["id"]])
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "not_a_dmca_notice"
    assert "/v1/complaints" in r.json()["error"]["message"]


def test_a_court_action_racing_the_timer_has_one_outcome(api: Api) -> None:
    import threading

    from staydown.worker import run_timers

    outcomes = []
    for n in range(3):
        case = actioned_notice(api, f"race{n}.example.test", ["/r.jpg"])
        customer = api.client()
        customer.headers["authorization"] = f"Bearer {case['key']}"
        counter = customer.post(
            "/v1/counter-notices", json=counter_notice_body(case["notice"]["id"], case["item_ids"])
        ).json()
        results: dict[str, object] = {}

        def fire(results: dict[str, object] = results, due: str = counter["restore_at"]) -> None:
            results["ran"] = run_timers(
                api.database, as_of=datetime.fromisoformat(due), settings=api.settings
            )

        def report(results: dict[str, object] = results, notice_id: int = case["notice"]["id"]) -> None:
            results["court"] = (
                api.as_("trusted_flagger")
                .post(f"/v1/notices/{notice_id}/court-action", json=COURT)
                .status_code
            )

        threads = [threading.Thread(target=fire), threading.Thread(target=report)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        status = customer.get(f"/v1/counter-notices/{counter['id']}").json()["status"]
        unblocks = [r for r in feed(api) if r["kind"] == "unblock" and r["item_id"] in case["item_ids"]]
        items = set(item_statuses(api, case["notice"]["id"]).values())
        if results["court"] == 200:
            assert status == "court_action" and not unblocks and items == {"actioned"}
        else:
            assert results["court"] == 409
            assert status == "restored" and len(unblocks) == 1 and items == {"restored"}
        outcomes.append(status)
    assert set(outcomes) <= {"court_action", "restored"}
