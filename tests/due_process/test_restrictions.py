"""A customer sees every restriction on its zones with its statement of reasons and how to contest
it (``GET /v1/restrictions``), and contests a stay-down block with an internal complaint that,
upheld by another person, lifts the block at the edges."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from staydown.demo.pages import render_page
from staydown.fingerprints import service as fingerprints
from tests.conftest import Api
from tests.edge.harness import Route, ScriptedOrigin, live_zone
from tests.support import jpeg, notice_body

HOST = "restricted.example.test"
IMAGE = {"Content-Type": "image/jpeg", "Cache-Control": "public, max-age=60"}


@pytest.fixture
def origin() -> Iterator[ScriptedOrigin]:
    with ScriptedOrigin() as scripted:
        yield scripted


def _feed(api: Api, kind: str) -> list[dict[str, Any]]:
    records = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["records"]
    return [r for r in records if r["kind"] == kind]


def _customer_key(api: Api, customer_id: int) -> str:
    created = api.as_("admin").post("/v1/keys", json={"role": "customer", "customer_id": customer_id})
    key: str = created.json()["key"]
    return key


def _restricted_zone(api: Api, origin: ScriptedOrigin) -> tuple[dict[str, Any], dict[str, Any], int]:
    """A zone with a noticed image blocked and a copy of it that stay-down blocked."""
    zone = live_zone(api, origin, HOST)
    origin.routes["/a.jpg"] = Route(jpeg(render_page(51)), headers=IMAGE)
    notice = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/a.jpg"]))
    assert notice.json()["status"] == "actioned", notice.text
    fingerprints.run_captures(api.database, now=api.clock(), settings=api.settings)
    (entry,) = _feed(api, "hash_add")
    report = {
        "entry_id": entry["entry_id"],
        "zone_id": zone["zone_id"],
        "target": "/copy.jpg",
        "url": f"http://{HOST}/copy.jpg",
        "distance": 0,
        "copy_sha256": "cd" * 32,
    }
    match = api.as_("edge").post("/v1/edge/matches", json=report)
    assert match.status_code == 201 and match.json()["status"] == "blocked", match.text
    return zone, notice.json(), match.json()["id"]


def test_a_customer_sees_each_restriction_with_its_reasons_and_how_to_contest_it(
    api: Api, origin: ScriptedOrigin
) -> None:
    zone, notice, match_id = _restricted_zone(api, origin)
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {_customer_key(api, zone['customer_id'])}"
    page = customer.get("/v1/restrictions")
    assert page.status_code == 200, page.text
    listed = {r["kind"]: r for r in page.json()["restrictions"]}
    assert page.json()["total"] == 2 and set(listed) == {"notice_item", "staydown_match"}
    item = listed["notice_item"]
    assert item["url"] == f"http://{HOST}/a.jpg" and item["notice_id"] == notice["id"]
    assert item["statement_puid"] and item["facts"]
    ways = {c["how"]: c for c in item["contest"]}
    assert set(ways) == {"counter_notice", "complaint"}  # a DMCA notice: both
    assert ways["counter_notice"]["path"] == "/v1/counter-notices"
    assert ways["counter_notice"]["body"] == {"notice_id": notice["id"], "items": [item["item_id"]]}
    copy = listed["staydown_match"]
    assert copy["url"] == f"http://{HOST}/copy.jpg" and copy["match_id"] == match_id
    assert copy["automated"] is True
    assert copy["contest"] == [
        {"how": "complaint", "method": "POST", "path": "/v1/complaints", "body": {"match_id": match_id}}
    ]
    # Another customer sees none of it; an agent names the customer.
    stranger = live_zone(api, origin, "stranger.example.test")
    other = api.client()
    other.headers["authorization"] = f"Bearer {_customer_key(api, stranger['customer_id'])}"
    assert other.get("/v1/restrictions").json()["restrictions"] == []
    agent = api.as_("agent")
    assert agent.get("/v1/restrictions").status_code == 422
    assert agent.get("/v1/restrictions", params={"customer_id": zone["customer_id"]}).json()["total"] == 2
    assert api.as_("submitter").get("/v1/restrictions").status_code == 403


def test_a_stay_down_block_is_contested_and_lifted_by_an_upheld_complaint(
    api: Api, origin: ScriptedOrigin
) -> None:
    zone, _notice, match_id = _restricted_zone(api, origin)
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {_customer_key(api, zone['customer_id'])}"
    filed = customer.post(
        "/v1/complaints", json={"match_id": match_id, "explanation": "This is my own photograph."}
    )
    assert filed.status_code == 201, filed.text
    assert filed.json()["subject"] == "staydown_match" and filed.json()["match_id"] == match_id
    again = customer.post("/v1/complaints", json={"match_id": match_id, "explanation": "Again."})
    assert again.status_code == 409 and again.json()["error"]["code"] == "complaint_open"
    # Nobody else's match, and no match that is not a block in force.
    stranger = live_zone(api, origin, "stranger2.example.test")
    other = api.client()
    other.headers["authorization"] = f"Bearer {_customer_key(api, stranger['customer_id'])}"
    refused = other.post("/v1/complaints", json={"match_id": match_id, "explanation": "mine"})
    assert refused.status_code == 404
    decided = api.as_("agent").post(
        f"/v1/complaints/{filed.json()['id']}/decision",
        json={"outcome": "upheld", "reason": "The customer holds the rights; the copy is licensed."},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "upheld"
    unblocked = [r for r in _feed(api, "unblock") if r["target"] == "/copy.jpg"]
    assert unblocked and unblocked[-1]["staydown_exempt"] is True
    kinds = [r["kind"] for r in customer.get("/v1/restrictions").json()["restrictions"]]
    assert kinds == ["notice_item"]
    match = api.as_("agent").get(f"/v1/staydown/matches/{match_id}").json()
    assert match["status"] == "dismissed"
