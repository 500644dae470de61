"""Several holders of one block, over HTTP: lifting one of them (a counter-notice restoration, a
dismissed stay-down match) unblocks the resource only when no other holder still holds it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from staydown.demo.pages import render_page
from staydown.fingerprints import service as fingerprints
from tests.conftest import Api
from tests.due_process.support import counter_notice_body, feed, item_statuses
from tests.edge.harness import Route, ScriptedOrigin, live_zone
from tests.notices.test_deadline import timers_run
from tests.support import active_zone, jpeg, notice_body

HOST = "manga.example.test"
URL = f"http://{HOST}/chapter-2/page-03.jpg"
TARGET = "/chapter-2/page-03.jpg"
IMAGE = {"Content-Type": "image/jpeg", "Cache-Control": "public, max-age=60"}


def resource_records(api: Api, target: str = TARGET) -> list[tuple[str, int | None]]:
    """The block and unblock records of ``target``: (kind, item id)."""
    return [
        (record["kind"], record.get("item_id"))
        for record in feed(api)
        if record["kind"] in ("block", "unblock") and record.get("target") == target
    ]


def blocked_at_edge(api: Api, target: str = TARGET) -> bool:
    """Whether an edge applying the feed in order holds the resource blocked."""
    blocked = False
    for kind, _item in resource_records(api, target):
        blocked = kind == "block"
    return blocked


def restore(api: Api, zone: dict[str, Any], notice_id: int, item_id: int) -> None:
    """Counter-notice the item as the zone's customer and let the restoration timer run."""
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"
    r = customer.post("/v1/counter-notices", json=counter_notice_body(notice_id, [item_id]))
    assert r.status_code == 201, r.text
    assert timers_run(api, r.json()["restore_at"])["ran"] >= 1
    assert item_statuses(api, notice_id)[item_id] == "restored"


def trail(api: Api, entity: str, entity_id: int) -> list[dict[str, Any]]:
    r = api.as_("agent").get(f"/v1/audit/{entity}/{entity_id}")
    assert r.status_code == 200, r.text
    entries: list[dict[str, Any]] = r.json()
    return entries


def withheld(api: Api, entity: str, entity_id: int) -> list[dict[str, Any]]:
    return [e for e in trail(api, entity, entity_id) if e["action"].endswith("unblock_withheld")]


def statement_status(api: Api, item_id: int) -> str:
    statements = api.as_("agent").get("/v1/statements", params={"limit": 1000}).json()
    [status] = [s["status"] for s in statements if s["item_id"] == item_id]
    return str(status)


def test_two_notices_on_one_url_keep_it_blocked_until_both_are_restored(api: Api) -> None:
    zone = active_zone(api, HOST)
    # A notice waiting for review blocks nothing, so a second rightsholder's notice blocks on its own.
    reviewed = api.as_("submitter").post("/v1/notices", json=notice_body([URL])).json()
    trusted = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([URL])).json()
    first = trusted["items"][0]["id"]
    second = reviewed["items"][0]["id"]
    r = api.as_("agent").post(
        f"/v1/notices/{reviewed['id']}/decision",
        json={"items": {str(second): "action"}, "reason": "compared with the work"},
    )
    assert r.status_code == 200, r.text
    assert resource_records(api) == [("block", first), ("block", second)]

    restore(api, zone, trusted["id"], first)
    assert resource_records(api) == [("block", first), ("block", second)]
    assert blocked_at_edge(api)
    assert item_statuses(api, reviewed["id"]) == {second: "actioned"}
    [entry] = withheld(api, "notice", trusted["id"])
    assert entry["data"]["item_id"] == first
    assert entry["data"]["holder"] == {"kind": "item", "id": second, "notice_id": reviewed["id"]}
    # The restored item's statement of reasons ends; the one of the item that keeps the block stands.
    assert statement_status(api, first) == "lifted"
    assert statement_status(api, second) == "in_force"

    restore(api, zone, reviewed["id"], second)
    assert resource_records(api)[-1] == ("unblock", second)
    assert not blocked_at_edge(api)
    assert withheld(api, "notice", reviewed["id"]) == []


def test_a_copy_carries_the_block_when_its_original_is_restored(api: Api) -> None:
    zone = active_zone(api, HOST)
    original = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([URL])).json()
    original_item = original["items"][0]["id"]
    copy = api.as_("submitter").post("/v1/notices", json=notice_body([URL])).json()
    copy_item = copy["items"][0]["id"]
    assert copy["items"][0]["duplicate_of"] == original_item
    assert copy["items"][0]["status"] == "actioned"
    assert resource_records(api) == [("block", original_item)]

    restore(api, zone, original["id"], original_item)
    # The copy's notice still stands: the resource stays blocked, now under the copy's own record.
    assert resource_records(api) == [("block", original_item), ("block", copy_item)]
    assert blocked_at_edge(api)
    carried = api.as_("agent").get(f"/v1/notices/{copy['id']}").json()["items"][0]
    assert (carried["status"], carried["duplicate_of"]) == ("actioned", None)
    [entry] = withheld(api, "notice", original["id"])
    assert entry["data"]["holder"]["id"] == copy_item

    # A later notice on the resource is a copy of the item that carries the block now.
    later = api.as_("submitter").post("/v1/notices", json=notice_body([URL])).json()
    assert later["items"][0]["duplicate_of"] == copy_item
    assert later["items"][0]["status"] == "actioned"

    restore(api, zone, copy["id"], copy_item)
    assert blocked_at_edge(api)  # the later copy holds it now
    restore(api, zone, later["id"], later["items"][0]["id"])
    assert resource_records(api)[-1] == ("unblock", later["items"][0]["id"])
    assert not blocked_at_edge(api)


@pytest.fixture
def origin() -> Iterator[ScriptedOrigin]:
    with ScriptedOrigin() as scripted:
        yield scripted


def zone_on(api: Api, origin: ScriptedOrigin) -> dict[str, Any]:
    """An active zone served from ``origin``, with a key for its customer."""
    zone = live_zone(api, origin, HOST)
    r = api.as_("admin").post("/v1/keys", json={"role": "customer", "customer_id": zone["customer_id"]})
    assert r.status_code in (200, 201), r.text
    return zone | {"key": r.json()["key"]}


def test_a_stay_down_match_and_a_notice_item_on_one_copy(api: Api, origin: ScriptedOrigin) -> None:
    zone = zone_on(api, origin)
    origin.routes["/a.jpg"] = Route(jpeg(render_page(61)), headers=IMAGE)
    noticed = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/a.jpg"]))
    assert noticed.status_code == 201, noticed.text
    fingerprints.run_captures(api.database, now=api.clock(), settings=api.settings)
    (entry,) = api.as_("agent").get(f"/v1/notices/{noticed.json()['id']}").json()["staydown"]["entries"]
    copy_target = "/same.jpg"
    r = api.as_("edge").post(
        "/v1/edge/matches",
        json={
            "entry_id": entry["id"],
            "zone_id": zone["zone_id"],
            "target": copy_target,
            "url": f"http://{HOST}{copy_target}",
            "distance": 6,
            "copy_sha256": "cd" * 32,
        },
    )
    assert r.status_code == 201, r.text
    match = r.json()
    assert match["status"] == "blocked"
    # A second rightsholder names the same copy in a notice.
    other = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}{copy_target}"]))
    assert other.status_code == 201, other.text
    item = other.json()["items"][0]["id"]
    assert [kind for kind, _item in resource_records(api, copy_target)] == ["block", "block"]

    r = api.as_("agent").post(
        f"/v1/staydown/matches/{match['id']}/decision", json={"decision": "dismiss", "reason": "not a copy"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "dismissed"
    assert [kind for kind, _item in resource_records(api, copy_target)] == ["block", "block"]
    assert blocked_at_edge(api, copy_target)
    [kept] = withheld(api, "staydown_match", match["id"])
    assert kept["data"]["holder"] == {"kind": "item", "id": item, "notice_id": other.json()["id"]}

    restore(api, zone, other.json()["id"], item)
    assert resource_records(api, copy_target)[-1] == ("unblock", item)
    assert not blocked_at_edge(api, copy_target)


def test_a_notice_item_restored_while_a_match_blocks_its_copy(api: Api, origin: ScriptedOrigin) -> None:
    zone = zone_on(api, origin)
    origin.routes["/a.jpg"] = Route(jpeg(render_page(61)), headers=IMAGE)
    noticed = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/a.jpg"]))
    fingerprints.run_captures(api.database, now=api.clock(), settings=api.settings)
    (entry,) = api.as_("agent").get(f"/v1/notices/{noticed.json()['id']}").json()["staydown"]["entries"]
    r = api.as_("edge").post(
        "/v1/edge/matches",
        json={
            "entry_id": entry["id"],
            "zone_id": zone["zone_id"],
            "target": "/same.jpg",
            "url": f"http://{HOST}/same.jpg",
            "distance": 6,
            "copy_sha256": "cd" * 32,
        },
    )
    match = r.json()
    other = (
        api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/same.jpg"])).json()
    )
    item = other["items"][0]["id"]

    restore(api, zone, other["id"], item)
    assert [kind for kind, _item in resource_records(api, "/same.jpg")] == ["block", "block"]
    assert blocked_at_edge(api, "/same.jpg")
    [kept] = withheld(api, "notice", other["id"])
    assert kept["data"]["holder"] == {"kind": "match", "id": match["id"], "notice_id": noticed.json()["id"]}
