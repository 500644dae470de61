"""Stay-down end to end over real sockets: a noticed page is banked from its zone's origin, and its
re-encoded, resized, bannered or mirrored copies elsewhere on the same customer's zones are never
served from the cache — while unrelated pages, and other customers' zones, are served normally."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from PIL import Image, ImageDraw, ImageOps

from staydown.demo.pages import render_page
from staydown.fingerprints import service as fingerprints
from tests.conftest import Api
from tests.edge.harness import EdgeThread, Route, ScriptedOrigin, eventually, get, live_zone
from tests.support import image_bytes, jpeg, notice_body

ZONE_A = "scans.example.test"
ZONE_B = "mirror.example.test"
ZONE_C = "elsewhere.example.test"
JPEG = {"Content-Type": "image/jpeg", "Cache-Control": "public, max-age=300"}


def bannered(page: Image.Image) -> Image.Image:
    """What a pirate site does: shrink, add its banner on top, re-encode."""
    small = page.resize((page.width * 7 // 10, page.height * 7 // 10), Image.Resampling.LANCZOS).convert(
        "RGB"
    )
    out = Image.new("RGB", (small.width, small.height + 90), (200, 30, 40))
    ImageDraw.Draw(out).text((20, 30), "READ MANGA FREE - FASTEST UPDATES", fill=(255, 255, 255))
    out.paste(small, (0, 90))
    return out


def metric(edge: EdgeThread, name: str) -> float:
    text = httpx.get(edge.metrics_url, timeout=5).text
    found = re.search(rf"^{name}\{{[^}}]*\}} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_copies_of_a_noticed_page_stay_down_on_the_customers_zones(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    page = render_page(11)
    origin.routes["/ch1/p1.jpg"] = Route(jpeg(page), headers=JPEG)
    origin.routes["/mirror/banner.jpg"] = Route(jpeg(bannered(page), quality=55), headers=JPEG)
    origin.routes["/mirror/flipped.webp"] = Route(
        image_bytes(ImageOps.mirror(page), "WEBP", quality=80), headers={**JPEG, "Content-Type": "image/webp"}
    )
    origin.routes["/mirror/other.jpg"] = Route(jpeg(render_page(12)), headers=JPEG)
    a = live_zone(api, origin, ZONE_A)
    b = live_zone(api, origin, ZONE_B, customer_id=a["customer_id"])
    live_zone(api, origin, ZONE_C)  # another customer: the notice's content is not banked for it
    edge = edge_factory()
    head = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["head"]
    eventually(lambda: metric(edge, "staydown_edge_feed_seq") >= head)  # the zones have arrived

    # A mirrored copy cached before the notice is purged when the hash arrives.
    assert get(edge, "/mirror/flipped.webp", ZONE_B).status_code == 200
    assert get(edge, "/mirror/flipped.webp", ZONE_B).headers["staydown-cache"] == "hit"

    notice = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{ZONE_A}/ch1/p1.jpg"]))
    assert notice.status_code == 201, notice.text
    assert fingerprints.run_captures(api.database, now=api.clock(), settings=api.settings) == 1
    eventually(lambda: metric(edge, "staydown_edge_bank_entries") == 1)

    eventually(lambda: get(edge, "/mirror/flipped.webp", ZONE_B).status_code == 451)
    hits = origin.hits("/mirror/flipped.webp")
    assert get(edge, "/mirror/flipped.webp?page=2", ZONE_B).status_code == 451
    assert origin.hits("/mirror/flipped.webp") == hits

    # The bannered, shrunk, re-encoded copy at a new URL: 451 on its very first fetch, and after.
    first = get(edge, "/mirror/banner.jpg", ZONE_B)
    assert first.status_code == 451, first.headers
    assert 'rel="blocked-by"' in first.headers["link"]
    assert str(notice.json()["id"]) in first.text
    assert get(edge, "/mirror/banner.jpg", ZONE_B).status_code == 451
    assert origin.hits("/mirror/banner.jpg") == 1

    # Unrelated content is served and cached; the same copy on another customer's zone is served.
    assert get(edge, "/mirror/other.jpg", ZONE_B).status_code == 200
    assert get(edge, "/mirror/other.jpg", ZONE_B).headers["staydown-cache"] == "hit"
    assert get(edge, "/mirror/banner.jpg", ZONE_C).status_code == 200

    # Both copies reach the control plane as matches of the notice, each blocked for every edge.
    agent = api.as_("agent")

    def matches() -> list[dict[str, object]]:
        return list(agent.get("/v1/staydown/matches").json()["matches"])

    eventually(lambda: len(matches()) == 2)
    found = {m["target"]: m for m in matches()}
    assert set(found) == {"/mirror/flipped.webp", "/mirror/banner.jpg"}
    for match in found.values():
        assert match["notice_id"] == notice.json()["id"]
        assert match["zone_id"] == b["zone_id"]
        assert match["status"] == "blocked"
        assert int(str(match["distance"])) <= 31
    feed = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["records"]
    blocked = {(r["zone_id"], r["target"]) for r in feed if r["kind"] == "block"}
    assert (b["zone_id"], "/mirror/banner.jpg") in blocked
    detail = agent.get(f"/v1/notices/{notice.json()['id']}").json()
    assert {m["target"] for m in detail["staydown"]["matches"]} == set(found)
    assert detail["staydown"]["captures"] == {"banked": 1}

    # No strike until an agent confirms (the default policy); a dismissal lifts the block for good.
    strikes = agent.get(f"/v1/customers/{a['customer_id']}/strikes").json()["strikes"]
    assert all(s["match_id"] is None for s in strikes)
    confirmed = agent.post(
        f"/v1/staydown/matches/{found['/mirror/banner.jpg']['id']}/decision",
        json={"decision": "confirm", "reason": "same page with a banner"},
    )
    assert confirmed.json()["status"] == "confirmed"
    strikes = agent.get(f"/v1/customers/{a['customer_id']}/strikes").json()["strikes"]
    assert [s["match_id"] for s in strikes if s["match_id"]] == [found["/mirror/banner.jpg"]["id"]]

    dismissed = agent.post(
        f"/v1/staydown/matches/{found['/mirror/flipped.webp']['id']}/decision",
        json={"decision": "dismiss", "reason": "licensed mirror edition"},
    )
    assert dismissed.json()["status"] == "dismissed"
    eventually(lambda: get(edge, "/mirror/flipped.webp", ZONE_B).status_code == 200)
    assert get(edge, "/mirror/flipped.webp", ZONE_B).status_code == 200
    again = agent.post(
        f"/v1/staydown/matches/{found['/mirror/flipped.webp']['id']}/decision",
        json={"decision": "confirm", "reason": "changed my mind"},
    )
    assert again.status_code == 409


def test_a_registered_works_copies_are_blocked_across_the_network(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    page = render_page(21)
    origin.routes["/c/cropped.png"] = Route(
        image_bytes(page.crop((30, 40, page.width - 30, page.height - 40)), "PNG"),
        headers={**JPEG, "Content-Type": "image/png"},
    )
    origin.routes["/c/unrelated.jpg"] = Route(jpeg(render_page(22)), headers=JPEG)
    live_zone(api, origin, ZONE_C)
    edge = edge_factory()
    work = api.as_("trusted_flagger").post(
        "/v1/works",
        data={"description": "Volume 3, chapter 1"},
        files=[("images", ("p1.jpg", jpeg(page), "image/jpeg"))],
    )
    assert work.status_code == 201, work.text
    assert work.json()["fingerprints"] == 1
    eventually(lambda: metric(edge, "staydown_edge_bank_entries") == 1)
    assert get(edge, "/c/cropped.png", ZONE_C).status_code == 451
    assert get(edge, "/c/unrelated.jpg", ZONE_C).status_code == 200
    agent = api.as_("agent")
    eventually(lambda: agent.get(f"/v1/works/{work.json()['id']}").json()["matches"] != [])
    (match,) = agent.get(f"/v1/works/{work.json()['id']}").json()["matches"]
    assert match["target"] == "/c/cropped.png"
    assert match["notice_id"] is None


def site_template(page: Image.Image) -> Image.Image:
    """A pirate reader's page: header, menu, a sidebar of links, the page at 65% of the width."""
    canvas = Image.new("RGB", (1366, 1250), (22, 22, 26))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, 1366, 70), fill=(200, 30, 40))
    draw.text((20, 28), "READ MANGA FREE - FASTEST UPDATES", fill=(255, 255, 255))
    for row in range(100, 1200, 26):
        draw.text((960, row), "Chapter 12 - 4 comments - next >>", fill=(220, 220, 220))
    shown = page.convert("RGB").resize((888, 1243 - 90))
    canvas.paste(shown, (40, 90))
    return canvas


def two_page_spread(left: Image.Image, right: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (left.width + right.width, left.height), (255, 255, 255))
    canvas.paste(left.convert("RGB"), (0, 0))
    canvas.paste(right.convert("RGB"), (left.width, 0))
    return canvas.resize((canvas.width * 6 // 10, canvas.height * 6 // 10), Image.Resampling.LANCZOS)


def test_copies_only_local_features_follow_are_blocked_and_purged(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    page = render_page(31)
    w, h = page.size
    copies = {
        "/m/spread.jpg": two_page_spread(render_page(32), page),
        "/m/turned.jpg": page.convert("RGB").rotate(
            3, Image.Resampling.BICUBIC, expand=True, fillcolor="white"
        ),
        "/m/cropped.jpg": page.crop((w * 8 // 100, h * 8 // 100, w - w * 8 // 100, h - h * 8 // 100)),
        "/m/site.jpg": site_template(page),
    }
    origin.routes["/ch2/p1.jpg"] = Route(jpeg(page), headers=JPEG)
    for path, copy in copies.items():
        origin.routes[path] = Route(jpeg(copy), headers=JPEG)
    origin.routes["/m/unrelated.jpg"] = Route(jpeg(render_page(33)), headers=JPEG)
    a = live_zone(api, origin, ZONE_A)
    b = live_zone(api, origin, ZONE_B, customer_id=a["customer_id"])
    edge = edge_factory()
    head = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["head"]
    eventually(lambda: metric(edge, "staydown_edge_feed_seq") >= head)

    notice = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{ZONE_A}/ch2/p1.jpg"]))
    assert notice.status_code == 201, notice.text
    assert fingerprints.run_captures(api.database, now=api.clock(), settings=api.settings) == 1
    eventually(lambda: metric(edge, "staydown_edge_bank_entries") == 1)

    for path in copies:
        # PDQ may let the copy through on its first fetch; the second stage, run once it is
        # served, blocks it and purges it from the cache.
        assert get(edge, path, ZONE_B).status_code in (200, 451), path
        eventually(lambda path=path: get(edge, path, ZONE_B).status_code == 451, timeout=60)
        hits = origin.hits(path)
        blocked = get(edge, path, ZONE_B)
        assert blocked.status_code == 451 and 'rel="blocked-by"' in blocked.headers["link"]
        assert origin.hits(path) == hits  # not fetched again: blocked before any cache or origin
    assert get(edge, "/m/unrelated.jpg", ZONE_B).status_code == 200
    assert get(edge, "/m/unrelated.jpg", ZONE_B).headers["staydown-cache"] == "hit"

    agent = api.as_("agent")

    def matches() -> dict[str, dict[str, object]]:
        return {m["target"]: m for m in agent.get("/v1/staydown/matches").json()["matches"]}

    eventually(lambda: set(matches()) == set(copies), timeout=30)
    for target, match in matches().items():
        assert match["notice_id"] == notice.json()["id"], target
        assert match["zone_id"] == b["zone_id"]
        assert match["status"] == "blocked", target
    feed = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["records"]
    blocked_targets = {r["target"] for r in feed if r["kind"] == "block" and r["zone_id"] == b["zone_id"]}
    assert set(copies) <= blocked_targets
