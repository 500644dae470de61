"""The Japanese sender inquiry over HTTP and ``staydown timers run --as-of`` as a process: an item
answered by ``inquire`` waits 7 days (2 for election content) for an objection, is blocked when the
period ends without one, and an objection with reasons returns it to the agent."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Api
from tests.due_process.support import feed, item_statuses, outbox
from tests.notices.test_deadline import timers_run
from tests.support import active_zone, notice_body

HOST = "jp.example.test"


def _inquire(api: Api, *, regime: str = "jp", election: bool = False) -> tuple[dict[str, Any], int]:
    notice = (
        api.as_("submitter")
        .post("/v1/notices", json=notice_body([f"http://{HOST}/p1.jpg"], regime=regime))
        .json()
    )
    item = notice["items"][0]["id"]
    r = api.as_("agent").post(
        f"/v1/notices/{notice['id']}/decision",
        json={
            "items": {str(item): "inquire"},
            "reason": "the sender may hold a licence",
            "election": election,
        },
    )
    return r.json(), item


def _blocked(api: Api) -> list[int]:
    return [record["item_id"] for record in feed(api) if record["kind"] == "block"]


def test_an_inquired_item_is_blocked_by_the_timer_seven_days_later_and_not_before(api: Api) -> None:
    active_zone(api, HOST)
    asked_at = api.clock()
    notice, item = _inquire(api)
    assert notice["status"] == "accepted"
    assert notice["items"][0]["status"] == "inquiry"
    due = datetime.fromisoformat(notice["items"][0]["inquiry_due_at"])
    assert due == asked_at + timedelta(days=7)
    letters = [m for m in outbox(api, notice_id=notice["id"]) if m["kind"] == "notice_inquiry"]
    assert len(letters) == 1
    assert letters[0]["recipient"] == "jp@example.com"
    assert "送信防止措置" in letters[0]["body"] and f"http://{HOST}/p1.jpg" in letters[0]["body"]
    assert "Unauthorised copies" in letters[0]["body"]  # the reasons given
    assert _blocked(api) == []

    timers_run(api, (due - timedelta(minutes=1)).isoformat())
    assert item_statuses(api, notice["id"])[item] == "inquiry"
    assert _blocked(api) == []
    timers_run(api, due.isoformat())
    assert item_statuses(api, notice["id"])[item] == "actioned"
    assert _blocked(api) == [item]
    final = api.as_("agent").get(f"/v1/notices/{notice['id']}").json()
    assert final["status"] == "actioned"
    assert "did not object within 7 days" in final["items"][0]["decision_reason"]


def test_election_content_waits_two_days(api: Api) -> None:
    active_zone(api, HOST)
    asked_at = api.clock()
    notice, item = _inquire(api, election=True)
    assert datetime.fromisoformat(notice["items"][0]["inquiry_due_at"]) == asked_at + timedelta(days=2)
    timers_run(api, (asked_at + timedelta(days=2)).isoformat())
    assert _blocked(api) == [item]


def test_an_objection_with_reasons_stops_the_removal_and_returns_the_item_to_the_agent(api: Api) -> None:
    zone = active_zone(api, HOST)
    notice, item = _inquire(api)
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"
    r = customer.post(
        f"/v1/notices/{notice['id']}/objection",
        json={"items": [item], "reasons": "I hold a licence from the publisher (contract attached)."},
    )
    assert r.status_code == 200, r.text
    assert r.json()["items"][0]["status"] == "pending_review"
    assert r.json()["submitter"] is None
    timers_run(api, (api.clock() + timedelta(days=8)).isoformat())
    assert item_statuses(api, notice["id"])[item] == "pending_review"
    assert _blocked(api) == []
    assert any(m["kind"] == "notice_inquiry_objection" for m in outbox(api, notice_id=notice["id"]))
    # Back with the agent, who decides on the merits.
    r = api.as_("agent").post(
        f"/v1/notices/{notice['id']}/decision", json={"items": {str(item): "reject"}, "reason": "licensed"}
    )
    assert r.status_code == 200, r.text
    again = customer.post(f"/v1/notices/{notice['id']}/objection", json={"items": [item], "reasons": "x"})
    assert again.status_code == 409


@pytest.mark.parametrize("regime", ["dmca", "dsa"])
def test_only_japanese_notices_allow_an_inquiry(api: Api, regime: str) -> None:
    active_zone(api, HOST)
    answer, _item = _inquire(api, regime=regime)
    assert answer["error"]["code"] == "inquiry_not_available"


def test_the_direct_path_stays_for_clear_cases(api: Api) -> None:
    active_zone(api, HOST)
    notice = (
        api.as_("submitter")
        .post("/v1/notices", json=notice_body([f"http://{HOST}/p1.jpg"], regime="jp"))
        .json()
    )
    item = notice["items"][0]["id"]
    r = api.as_("agent").post(
        f"/v1/notices/{notice['id']}/decision",
        json={"items": {str(item): "action"}, "reason": "a dead copy of the whole volume"},
    )
    assert r.status_code == 200 and r.json()["items"][0]["status"] == "actioned"
