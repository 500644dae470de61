"""Copies of one resource in a notice, or across notices, over HTTP: a copy is "already blocked" only
while another item really blocks the resource; otherwise it waits for review with its original."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.due_process.support import counter_notice_body, feed, item_statuses, outbox, strikes
from tests.notices.test_deadline import timers_run
from tests.support import active_zone, notice_body

URL = "http://manga.example.test/chapter-2/page-03.jpg"
OTHER_SPELLING = "http://MANGA.example.test/chapter-2/./page-03.jpg"


@pytest.fixture
def zone(api: Api) -> dict[str, Any]:
    return active_zone(api, "manga.example.test")


def blocks(api: Api) -> list[dict[str, Any]]:
    return [record for record in feed(api) if record["kind"] == "block"]


def forwarded(api: Api, notice_id: int) -> list[dict[str, Any]]:
    return [m for m in outbox(api, notice_id=notice_id) if m["kind"] == "notice_forward_customer"]


def decide(api: Api, notice_id: int, items: dict[int, str]) -> Any:
    return api.as_("agent").post(
        f"/v1/notices/{notice_id}/decision",
        json={"items": {str(k): v for k, v in items.items()}, "reason": "compared with the work"},
    )


def test_copies_in_an_untrusted_notice_wait_for_review_and_are_rejected_together(
    api: Api, zone: dict[str, Any]
) -> None:
    r = api.as_("submitter").post("/v1/notices", json=notice_body([URL, OTHER_SPELLING]))
    assert r.status_code == 201, r.text
    notice = r.json()
    first, second = notice["items"]
    assert notice["status"] == "accepted"
    assert [first["status"], second["status"]] == ["pending_review", "pending_review"]
    assert second["duplicate_of"] == first["id"]
    assert blocks(api) == []
    assert forwarded(api, notice["id"]) == []
    queue = api.as_("agent").get("/v1/notices", params={"status": "accepted"}).json()
    assert [n["id"] for n in queue["notices"]] == [notice["id"]]

    r = decide(api, notice["id"], {first["id"]: "reject"})
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["status"] == "rejected"
    assert [i["status"] for i in decided["items"]] == ["rejected", "rejected"]
    assert blocks(api) == []
    assert forwarded(api, notice["id"]) == []
    assert strikes(api, zone["customer_id"]) == []
    again = decide(api, notice["id"], {second["id"]: "reject"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "illegal_transition"


def test_copies_in_an_untrusted_notice_are_actioned_with_their_original(
    api: Api, zone: dict[str, Any]
) -> None:
    notice = api.as_("submitter").post("/v1/notices", json=notice_body([URL, URL])).json()
    first = notice["items"][0]["id"]

    r = decide(api, notice["id"], {first: "action"})
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["status"] == "actioned"
    assert [i["status"] for i in decided["items"]] == ["actioned", "actioned"]
    assert [(b["item_id"], b["target"]) for b in blocks(api)] == [(first, "/chapter-2/page-03.jpg")]
    assert len(strikes(api, zone["customer_id"])) == 1
    [letter] = forwarded(api, notice["id"])
    assert letter["body"].count(URL) == 1


def test_naming_a_copy_decides_its_original_and_contradictions_are_refused(
    api: Api, zone: dict[str, Any]
) -> None:
    notice = api.as_("submitter").post("/v1/notices", json=notice_body([URL, URL])).json()
    first, second = (item["id"] for item in notice["items"])

    r = decide(api, notice["id"], {first: "action", second: "reject"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "conflicting_decisions"
    assert set(item_statuses(api, notice["id"]).values()) == {"pending_review"}
    assert blocks(api) == []

    r = decide(api, notice["id"], {second: "action"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "actioned"
    assert set(item_statuses(api, notice["id"]).values()) == {"actioned"}
    assert [b["item_id"] for b in blocks(api)] == [first]


def test_copies_in_a_trusted_notice_are_blocked_once_and_restored_together(
    api: Api, zone: dict[str, Any]
) -> None:
    notice = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([URL, URL])).json()
    first, second = (item["id"] for item in notice["items"])
    assert notice["status"] == "actioned"
    assert [i["status"] for i in notice["items"]] == ["actioned", "actioned"]
    assert notice["items"][1]["duplicate_of"] == first
    assert [b["item_id"] for b in blocks(api)] == [first]
    assert len(strikes(api, zone["customer_id"])) == 1
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"

    r = customer.post("/v1/counter-notices", json=counter_notice_body(notice["id"], [second]))
    assert r.status_code == 201, r.text
    assert set(item_statuses(api, notice["id"]).values()) == {"counter_noticed"}
    assert timers_run(api, r.json()["restore_at"])["ran"] == 1
    assert set(item_statuses(api, notice["id"]).values()) == {"restored"}
    assert [u["item_id"] for u in feed(api) if u["kind"] == "unblock"] == [first]
    assert [s["status"] for s in strikes(api, zone["customer_id"])] == ["voided"]


def test_a_copy_from_another_notice_is_actioned_only_while_that_one_blocks(
    api: Api, zone: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The incomplete notice below must outlive two restorations (the timers run as processes).
    monkeypatch.setenv("STAYDOWN_INCOMPLETE_NOTICE_DAYS", "90")
    # An earlier notice still under review blocks nothing: a later copy is reviewed on its own.
    submitter = api.as_("submitter")
    earlier = submitter.post("/v1/notices", json=notice_body([URL])).json()
    later = submitter.post("/v1/notices", json=notice_body([URL])).json()
    assert later["status"] == "accepted"
    assert later["items"][0]["status"] == "pending_review"
    assert later["items"][0]["duplicate_of"] is None
    assert blocks(api) == []
    assert forwarded(api, later["id"]) == []
    assert decide(api, earlier["id"], {earlier["items"][0]["id"]: "reject"}).status_code == 200
    assert item_statuses(api, later["id"]) == {later["items"][0]["id"]: "pending_review"}

    blocked = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([URL])).json()
    original = blocked["items"][0]["id"]

    # Complete, while the block stands: nothing is left to decide.
    live = api.as_("submitter").post("/v1/notices", json=notice_body([URL])).json()
    assert live["status"] == "actioned"
    assert live["items"][0]["status"] == "actioned"
    assert live["items"][0]["duplicate_of"] == original
    # Incomplete while the block stands, completed after it was lifted: reviewed like any other item.
    incomplete = api.as_("submitter").post("/v1/notices", json=notice_body([URL], signature=None)).json()
    assert incomplete["status"] == "incomplete"

    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"
    r = customer.post("/v1/counter-notices", json=counter_notice_body(blocked["id"], [original]))
    assert r.status_code == 201, r.text
    assert timers_run(api, r.json()["restore_at"])["ran"] >= 1  # the restoration, and overdue reviews
    # The copy still holds the resource: it stays blocked, now under the copy's own block record.
    copy = live["items"][0]["id"]
    assert [u["item_id"] for u in feed(api) if u["kind"] == "unblock"] == []
    assert [b["item_id"] for b in blocks(api)] == [original, copy]
    r = customer.post("/v1/counter-notices", json=counter_notice_body(live["id"], [copy]))
    assert r.status_code == 201, r.text
    assert timers_run(api, r.json()["restore_at"])["ran"] >= 1
    assert [u["item_id"] for u in feed(api) if u["kind"] == "unblock"] == [copy]

    r = api.as_("submitter").post(
        f"/v1/notices/{incomplete['id']}/supplement", json={"signature": "Rights Agent"}
    )
    assert r.status_code == 200, r.text
    completed = r.json()
    assert completed["status"] == "accepted"
    assert completed["items"][0]["status"] == "pending_review"
    assert completed["items"][0]["duplicate_of"] is None
    assert forwarded(api, incomplete["id"]) == []
    assert [b["item_id"] for b in blocks(api)] == [original, copy]

    r = decide(api, incomplete["id"], {completed["items"][0]["id"]: "action"})
    assert r.status_code == 200, r.text
    assert [b["item_id"] for b in blocks(api)] == [original, copy, completed["items"][0]["id"]]
