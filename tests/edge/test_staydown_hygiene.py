"""Bank hygiene end to end over real sockets: a reference that matches copies at too many distinct
URLs (a logo registered by mistake) is quarantined — it stops blocking at the edge, the blocks it
already made are held for an agent, who releases the entry or removes it and lifts them."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from staydown.config import Settings
from staydown.demo.pages import render_page
from staydown.fingerprints.hashing import ImageLimits, fingerprint
from tests.conftest import Api
from tests.edge.harness import EdgeThread, Route, ScriptedOrigin, eventually, get, live_zone
from tests.edge.test_staydown import bannered, metric
from tests.support import jpeg

ZONE = "logos.example.test"
OTHER = "forum.example.test"
JPEG = {"Content-Type": "image/jpeg", "Cache-Control": "public, max-age=300"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"staydown_flood_urls": 3})


def test_a_reference_matching_too_many_urls_is_quarantined_and_stops_blocking(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    logo = jpeg(render_page(51))
    for n in range(1, 8):
        origin.routes[f"/img/{n}.jpg"] = Route(logo, headers=JPEG)
    origin.routes["/img/other.jpg"] = Route(jpeg(render_page(52)), headers=JPEG)
    zone = live_zone(api, origin, ZONE)
    other = live_zone(api, origin, OTHER)  # another customer: the count is across customers
    edge = edge_factory()
    work = api.as_("trusted_flagger").post(
        "/v1/works",
        data={"description": "Our logo (by mistake)"},
        files=[("images", ("l.jpg", logo, "image/jpeg"))],
    )
    assert work.status_code == 201, work.text
    eventually(lambda: metric(edge, "staydown_edge_bank_entries") == 1)
    agent = api.as_("agent")

    def matches() -> list[dict[str, object]]:
        return list(agent.get("/v1/staydown/matches").json()["matches"])

    # Up to the limit, every copy is blocked as usual, on both customers' zones.
    for n, host in ((1, ZONE), (2, OTHER), (3, ZONE)):
        assert get(edge, f"/img/{n}.jpg", host).status_code == 451
        eventually(lambda n=n: len(matches()) == n)
    assert agent.get("/v1/staydown/quarantines").json()["total"] == 0

    # One distinct URL more and the entry is paused: it leaves every edge's bank.
    get(edge, "/img/4.jpg", OTHER)
    eventually(lambda: agent.get("/v1/staydown/quarantines").json()["total"] == 1)
    eventually(lambda: metric(edge, "staydown_edge_bank_entries") == 0)
    assert get(edge, "/img/5.jpg", ZONE).status_code == 200
    assert get(edge, "/img/4.jpg", OTHER).status_code == 200
    assert get(edge, "/img/other.jpg", ZONE).status_code == 200

    (item,) = agent.get("/v1/staydown/quarantines", params={"status": "open"}).json()["quarantines"]
    assert item["urls"] == 4 and item["entry"]["status"] == "quarantined"
    assert item["entry"]["work_id"] == work.json()["id"]
    # The blocks it made before are held for review, not silently kept nor silently lifted.
    assert item["matches"] == {"blocked": 3, "pending_review": 1}
    assert get(edge, "/img/1.jpg", ZONE).status_code == 451
    held = agent.get("/v1/staydown/matches", params={"entry_id": item["entry"]["id"], "status": "blocked"})
    assert {m["target"] for m in held.json()["matches"]} == {"/img/1.jpg", "/img/2.jpg", "/img/3.jpg"}
    fourth = next(m for m in matches() if m["target"] == "/img/4.jpg")
    assert fourth["status"] == "pending_review" and fourth["zone_id"] == other["zone_id"]

    # Only an agent decides; removing the entry lifts every block it made alone.
    refused = api.as_("trusted_flagger").post(
        f"/v1/staydown/quarantines/{item['id']}/decision", json={"decision": "remove", "reason": "a logo"}
    )
    assert refused.status_code == 403
    removed = agent.post(
        f"/v1/staydown/quarantines/{item['id']}/decision",
        json={"decision": "remove", "reason": "the rightsholder's own logo, not a work"},
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["status"] == "removed" and removed.json()["entry"]["status"] == "removed"
    assert removed.json()["matches"] == {"dismissed": 4}
    eventually(lambda: get(edge, "/img/1.jpg", ZONE).status_code == 200)
    assert get(edge, "/img/2.jpg", OTHER).status_code == 200
    assert get(edge, "/img/3.jpg", ZONE).status_code == 200
    again = agent.post(
        f"/v1/staydown/quarantines/{item['id']}/decision", json={"decision": "release", "reason": "oops"}
    )
    assert again.status_code == 409
    assert zone["zone_id"] != other["zone_id"]


def test_a_released_entry_blocks_again_at_the_edge(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    page = jpeg(render_page(53))
    for n in range(1, 7):
        origin.routes[f"/p/{n}.jpg"] = Route(page, headers=JPEG)
    live_zone(api, origin, ZONE)
    edge = edge_factory()
    work = api.as_("trusted_flagger").post(
        "/v1/works",
        data={"description": "A much-pirated page"},
        files=[("images", ("p.jpg", page, "image/jpeg"))],
    )
    assert work.status_code == 201, work.text
    eventually(lambda: metric(edge, "staydown_edge_bank_entries") == 1)
    agent = api.as_("agent")
    for n in (1, 2, 3, 4):
        assert get(edge, f"/p/{n}.jpg", ZONE).status_code == 451
    eventually(lambda: agent.get("/v1/staydown/quarantines").json()["total"] == 1)
    eventually(lambda: metric(edge, "staydown_edge_bank_entries") == 0)
    (item,) = agent.get("/v1/staydown/quarantines").json()["quarantines"]

    api.clock.advance(minutes=10)  # the agent looks at it a while later, within the hour
    released = agent.post(
        f"/v1/staydown/quarantines/{item['id']}/decision",
        json={"decision": "release", "reason": "a real work, pirated widely"},
    )
    assert released.status_code == 200, released.text
    assert released.json()["entry"]["status"] == "active"
    eventually(lambda: metric(edge, "staydown_edge_bank_entries") == 1)
    assert get(edge, "/p/5.jpg", ZONE).status_code == 451
    # The blocks made before the pause stand; the copies counted then do not count again.
    assert get(edge, "/p/1.jpg", ZONE).status_code == 451
    eventually(lambda: len(agent.get("/v1/staydown/matches").json()["matches"]) == 5)
    assert agent.get("/v1/staydown/quarantines", params={"status": "open"}).json()["total"] == 0


def test_an_allowlisted_image_and_its_near_copies_are_served_and_only_reviewed(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    page = render_page(54)
    licensed = live_zone(api, origin, ZONE)  # this customer holds a licence for the page
    live_zone(api, origin, OTHER)
    for path in ("/early.jpg", "/copy.jpg", "/later.jpg"):
        origin.routes[path] = Route(jpeg(page, quality=70), headers=JPEG)
    origin.routes["/exact.jpg"] = Route(jpeg(page), headers=JPEG)
    edge = edge_factory()
    agent = api.as_("agent")
    refused = api.as_("trusted_flagger").post(
        "/v1/staydown/allowlist",
        data={"note": "licensed", "scope": "network"},
        files=[("images", ("p.jpg", jpeg(page), "image/jpeg"))],
    )
    assert refused.status_code == 403
    allowed = agent.post(
        "/v1/staydown/allowlist",
        data={
            "note": "licence 2026-114 for this customer",
            "scope": "customer",
            "customer_id": licensed["customer_id"],
        },
        files=[("images", ("p.jpg", jpeg(page), "image/jpeg"))],
    )
    assert allowed.status_code == 201, allowed.text
    (entry,) = allowed.json()["entries"]
    assert entry["source"] == "allowlist" and entry["scope"] == "customer"
    assert agent.get("/v1/staydown/allowlist").json()["total"] == 1

    # A copy cached before the work is registered is not purged by the new entry's sweep.
    head = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["head"]
    eventually(lambda: metric(edge, "staydown_edge_feed_seq") >= head)
    assert get(edge, "/early.jpg", ZONE).status_code == 200
    work = api.as_("trusted_flagger").post(
        "/v1/works",
        data={"description": "Chapter 4, page 1"},
        files=[("images", ("p.jpg", jpeg(page), "image/jpeg"))],
    )
    assert work.status_code == 201, work.text
    eventually(lambda: metric(edge, "staydown_edge_bank_entries") == 1)
    assert get(edge, "/early.jpg", ZONE).headers["staydown-cache"] == "hit"

    # On the licensed customer's zone, the exact file and a re-encoded copy are served ...
    assert get(edge, "/exact.jpg", ZONE).status_code == 200
    assert get(edge, "/copy.jpg", ZONE).status_code == 200
    assert get(edge, "/copy.jpg", ZONE).status_code == 200
    # ... and go to review at most; elsewhere the same copy is blocked.
    assert get(edge, "/copy.jpg", OTHER).status_code == 451

    def matches() -> dict[tuple[object, object], dict[str, object]]:
        return {(m["zone_id"], m["target"]): m for m in agent.get("/v1/staydown/matches").json()["matches"]}

    eventually(lambda: (licensed["zone_id"], "/copy.jpg") in matches(), timeout=30)
    eventually(lambda: (licensed["zone_id"], "/exact.jpg") in matches(), timeout=30)
    for target in ("/copy.jpg", "/exact.jpg"):
        assert matches()[(licensed["zone_id"], target)]["status"] == "pending_review"
    assert get(edge, "/exact.jpg", ZONE).status_code == 200

    # Off the allowlist, copies on that zone are blocked again.
    removed = agent.post(f"/v1/staydown/allowlist/{entry['id']}/remove", json={"reason": "licence ended"})
    assert removed.status_code == 200 and removed.json()["status"] == "removed"
    assert agent.get("/v1/staydown/allowlist").json()["total"] == 0
    head = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["head"]
    eventually(lambda: metric(edge, "staydown_edge_feed_seq") >= head)
    assert get(edge, "/later.jpg", ZONE).status_code == 451


def test_a_work_with_a_tighter_distance_blocks_only_near_exact_copies(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    page = render_page(55)
    origin.routes["/same.jpg"] = Route(jpeg(page, quality=40), headers=JPEG)
    origin.routes["/banner.jpg"] = Route(jpeg(bannered(page), quality=55), headers=JPEG)  # 6 bits away
    zone = live_zone(api, origin, ZONE)
    edge = edge_factory()
    flagger = api.as_("trusted_flagger")

    def register(distance: int, who: str = "trusted_flagger") -> httpx.Response:
        return api.as_(who).post(
            "/v1/works",
            data={"description": "Chapter 5, page 1", "auto_block_distance": str(distance)},
            files=[("images", ("p.jpg", jpeg(page), "image/jpeg"))],
        )

    # Looser than the global distance needs an agent, and never past the review distance.
    loose = register(40)
    assert loose.status_code == 403 and loose.json()["error"]["code"] == "distance_too_loose"
    assert register(60, "agent").status_code == 422
    assert (
        api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["records"][-1]["kind"] != "hash_add"
    )

    work = register(4)
    assert work.status_code == 201, work.text
    assert flagger.get(f"/v1/works/{work.json()['id']}").json()["auto_block_distance"] == 4
    eventually(lambda: metric(edge, "staydown_edge_bank_entries") == 1)
    assert get(edge, "/same.jpg", ZONE).status_code == 451
    assert get(edge, "/banner.jpg", ZONE).status_code == 200
    agent = api.as_("agent")

    def matches() -> dict[object, dict[str, object]]:
        return {m["target"]: m for m in agent.get("/v1/staydown/matches").json()["matches"]}

    eventually(lambda: "/banner.jpg" in matches(), timeout=30)
    assert matches()["/banner.jpg"]["status"] == "pending_review"
    assert matches()["/banner.jpg"]["zone_id"] == zone["zone_id"]
    assert get(edge, "/banner.jpg", ZONE).status_code == 200
    # The edge's verdict stands at the control plane too: a report of it as a block is review only.
    report = api.as_("edge").post(
        "/v1/edge/matches",
        json={
            "entry_id": matches()["/banner.jpg"]["entry_id"],
            "zone_id": zone["zone_id"],
            "target": "/other-banner.jpg",
            "url": f"http://{ZONE}/other-banner.jpg",
            "distance": 6,
            "copy_sha256": "ab" * 32,
        },
    )
    assert report.status_code == 201 and report.json()["status"] == "pending_review"


def test_copies_of_an_imported_threatexchange_hash_are_blocked(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    page = render_page(57)
    shared = fingerprint(jpeg(page), limits=ImageLimits()).pdq[0].hex()  # what another provider shares
    small = page.resize((page.width * 6 // 10, page.height * 6 // 10))
    origin.routes["/copy.jpg"] = Route(jpeg(small, quality=60), headers=JPEG)
    origin.routes["/other.jpg"] = Route(jpeg(render_page(58)), headers=JPEG)
    live_zone(api, origin, ZONE)
    edge = edge_factory()
    imported = api.as_("agent").post(
        "/v1/works/import", params={"description": "Shared list"}, content=f"pdq {shared}\n"
    )
    assert imported.status_code == 201, imported.text
    eventually(lambda: metric(edge, "staydown_edge_bank_entries") == 1)
    assert get(edge, "/copy.jpg", ZONE).status_code == 451
    assert get(edge, "/other.jpg", ZONE).status_code == 200
