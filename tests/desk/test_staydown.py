"""Stay-down in the desk over HTTP: the matches page (pending review first, original beside copy),
decisions through the same workflow as the API, the notice's stay-down section, and previews that
are fetched from the zone's own origin and nowhere else."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator

import pytest
from PIL import Image

from staydown.desk import images
from staydown.desk.staydown import copy_hostname, decisions_for
from staydown.fingerprints.flows import MatchEvent
from staydown.fingerprints.models import MatchStatus
from staydown.netguard import OriginAccess, OriginGuard
from staydown.netpolicy import OriginPolicy, parse_networks
from tests.conftest import Api
from tests.desk.scenes import HOST, staydown_scene
from tests.desk.support import DeskClient
from tests.edge.harness import Route, ScriptedOrigin

# --- pure decisions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "target", "expected"),
    [
        ("http://127.0.0.1:8080", "/p/1.jpg", "http://127.0.0.1:8080/p/1.jpg"),
        ("https://origin.example/", "/p/1.jpg?w=2", "https://origin.example/p/1.jpg?w=2"),
        ("http://127.0.0.1:8080", "//evil.example/x.jpg", None),  # another host by spelling
        ("http://127.0.0.1:8080", "/a/../../x.jpg", None),  # not canonical
        ("http://127.0.0.1:8080", "/x.jpg#frag", None),
        ("http://127.0.0.1:8080", "http://evil.example/x.jpg", None),
        ("http://127.0.0.1:8080", "@evil.example/x.jpg", None),
        ("http://127.0.0.1:8080", "/x y.jpg", None),
        ("ftp://127.0.0.1", "/x.jpg", None),
        ("http://127.0.0.1:8080?q=1", "/x.jpg", None),
    ],
)
def test_previews_are_fetched_only_from_the_origin_at_a_canonical_target(
    origin: str, target: str, expected: str | None
) -> None:
    assert images.origin_url(origin, "shop.example", target) == expected


def test_only_images_are_taken_and_within_their_pixel_limit() -> None:
    png = io.BytesIO()
    Image.new("RGB", (400, 300), (10, 120, 200)).save(png, "PNG")
    assert images.looks_like_image("image/png", png.getvalue())
    assert not images.looks_like_image("text/html", png.getvalue())
    assert not images.looks_like_image("image/png", b"<html>not an image</html>")
    small = images.shrink(png.getvalue(), images.PreviewLimits())
    assert small is not None
    with Image.open(io.BytesIO(small)) as shrunk:
        assert shrunk.size == (240, 180) and shrunk.format == "PNG"
    assert images.shrink(png.getvalue(), images.PreviewLimits(max_pixels=100_000)) is None
    assert images.shrink(b"\x89PNG\r\n\x1a\n broken", images.PreviewLimits()) is None


def test_decisions_and_hosts_follow_the_workflow_and_the_zone() -> None:
    assert decisions_for(MatchStatus.pending_review) == [MatchEvent.confirm, MatchEvent.dismiss]
    assert decisions_for(MatchStatus.confirmed) == [MatchEvent.dismiss]
    assert decisions_for(MatchStatus.dismissed) == []
    hosts = ["a.example", "www.a.example"]
    assert copy_hostname("http://WWW.a.example/p.jpg", hosts, "a.example") == "www.a.example"
    assert copy_hostname("http://evil.example/p.jpg", hosts, "a.example") == "a.example"
    assert copy_hostname("not a url", hosts, "a.example") == "a.example"


# --- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def origin() -> Iterator[ScriptedOrigin]:
    with ScriptedOrigin() as scripted:
        yield scripted


def _agent(api: Api) -> DeskClient:
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["agent"])
    return desk


def test_agents_see_matches_pending_first_beside_their_originals(api: Api, origin: ScriptedOrigin) -> None:
    scene = staydown_scene(api, origin)
    desk = _agent(api)
    page = desk.get("/desk/matches")
    assert page.status_code == 200
    order = [int(n) for n in re.findall(r'<h2 id="match-(\d+)-h"', page.text)]
    assert order[:2] == sorted([scene["review"]["id"], scene["of_work"]["id"]], reverse=True)
    assert order[2] == scene["blocked"]["id"]
    assert "2 waiting for review" in page.text
    assert f"/desk/items/{scene['notice']['items'][0]['id']}/thumbnail" in page.text  # the original
    assert f"/desk/matches/{scene['review']['id']}/copy" in page.text
    assert "PDQ distance 40 of 256" in page.text
    assert "Demo Manga, chapter 7" in page.text  # a work's original is its description
    only_blocked = desk.get("/desk/matches?status=blocked")
    assert re.findall(r'<h2 id="match-(\d+)-h"', only_blocked.text) == [str(scene["blocked"]["id"])]

    origin.seen.clear()
    copy = desk.get(f"/desk/matches/{scene['review']['id']}/copy")
    assert copy.status_code == 200 and copy.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(copy.content)) as shown:
        assert max(shown.size) <= 240
    assert [(path, headers["host"]) for path, headers in origin.seen] == [("/copy.jpg", HOST)]
    original = desk.get(f"/desk/items/{scene['notice']['items'][0]['id']}/thumbnail")
    assert original.headers["content-type"] == "image/png"

    notice_page = desk.get(f"/desk/notices/{scene['notice']['id']}")
    assert "Stay-down" in notice_page.text and f"Entry {scene['entry']['id']}" in notice_page.text
    assert "1 banked" in notice_page.text
    assert f"Match {scene['review']['id']}" in notice_page.text and "/copy.jpg" in notice_page.text


def test_a_confirmed_match_goes_through_the_stay_down_workflow(api: Api, origin: ScriptedOrigin) -> None:
    scene = staydown_scene(api, origin)
    desk = _agent(api)
    desk.get("/desk/matches")
    match_id = scene["review"]["id"]
    short = desk.post(f"/desk/matches/{match_id}/decision", {"decision": "confirm", "reason": "x"})
    assert short.status_code == 422 and "reason" in short.text
    odd = desk.post(f"/desk/matches/{match_id}/decision", {"decision": "approve", "reason": "same page"})
    assert odd.status_code == 422
    done = desk.post(
        f"/desk/matches/{match_id}/decision",
        {"decision": "confirm", "reason": "same page, slightly rotated", "next": "/desk/matches"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/desk/matches"
    assert f"Match {match_id} confirmed." in desk.get("/desk/matches").text
    read = api.as_("agent").get(f"/v1/staydown/matches/{match_id}").json()
    assert read["status"] == "confirmed" and read["decision_reason"] == "same page, slightly rotated"
    assert read["decided_by"].startswith("key:")
    feed = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["records"]
    assert any(r["kind"] == "block" and r["target"] == "/copy.jpg" for r in feed)
    strikes = api.as_("agent").get(f"/v1/customers/{scene['zone']['customer_id']}/strikes").json()
    assert strikes["active_strikes"] == 2  # the notice's item and the confirmed copy
    # The statements of reasons tell the two blocks apart: both copies were found by automated
    # means, the automatic one was decided by them too, the confirmed one by the agent.
    statements = {s["url"]: s for s in api.as_("agent").get("/v1/statements", params={"limit": 1000}).json()}
    confirmed, automatic = statements[f"http://{HOST}/copy.jpg"], statements[f"http://{HOST}/same.jpg"]
    assert confirmed["automated_detection"] == automatic["automated_detection"] == "Yes"
    assert confirmed["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
    assert "confirmed by an agent: same page, slightly rotated" in confirmed["decision_facts"]
    assert automatic["automated_decision"] == "AUTOMATED_DECISION_FULLY"
    again = desk.post(f"/desk/matches/{match_id}/decision", {"decision": "confirm", "reason": "twice"})
    assert again.status_code == 409
    dismissed = desk.post(
        f"/desk/matches/{scene['blocked']['id']}/decision",
        {"decision": "dismiss", "reason": "licensed reprint"},
    )
    assert dismissed.status_code == 303
    assert api.as_("admin").get("/v1/audit/verify").json()["ok"] is True


def test_previews_never_leave_the_zones_origin(api: Api, origin: ScriptedOrigin) -> None:
    scene = staydown_scene(api, origin)
    origin.routes["/page.html"] = Route(b"<html>a page</html>", headers={"Content-Type": "text/html"})
    origin.routes["/moved.jpg"] = Route(b"", status=302, headers={"Location": "http://169.254.169.254/"})
    desk = _agent(api)
    edge = api.as_("edge")
    ids = {}
    for target in ("/page.html", "/moved.jpg", "//evil.example/x.jpg"):
        body = {
            "entry_id": scene["entry"]["id"],
            "zone_id": scene["zone"]["zone_id"],
            "target": target,
            "url": f"http://{HOST}{target}",
            "distance": 10,
            "copy_sha256": "ef" * 32,
        }
        ids[target] = edge.post("/v1/edge/matches", json=body).json()["id"]
    origin.seen.clear()
    for target, match_id in ids.items():
        shown = desk.get(f"/desk/matches/{match_id}/copy")
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/svg+xml", target
    assert sorted(path for path, _ in origin.seen) == ["/moved.jpg", "/page.html"]  # no redirect taken


def test_matches_are_for_agents_and_customers_see_their_own(api: Api, origin: ScriptedOrigin) -> None:
    scene = staydown_scene(api, origin)
    for role in ("legal", "submitter"):
        desk = DeskClient(api)
        desk.sign_in_with_key(api.keys[role])
        assert desk.get("/desk/matches").status_code == 403
        assert desk.post(
            f"/desk/matches/{scene['review']['id']}/decision", {"decision": "confirm", "reason": "mine"}
        ).status_code in (403, 404)
    key = api.as_("admin").post(
        "/v1/keys", json={"role": "customer", "customer_id": scene["zone"]["customer_id"]}
    )
    customer = DeskClient(api)
    customer.sign_in_with_key(key.json()["key"])
    page = customer.get(f"/desk/notices/{scene['notice']['id']}")
    assert page.status_code == 200
    assert f"Match {scene['review']['id']}" in page.text and "/copy.jpg" in page.text
    assert f"Entry {scene['entry']['id']}" not in page.text  # the bank is not the customer's to see
    assert customer.get(f"/desk/matches/{scene['review']['id']}/copy").status_code == 403
    assert api.as_("agent").get(f"/v1/staydown/matches/{scene['review']['id']}").json()["status"] == (
        "pending_review"
    )


# Previews connect as the control plane does: here with the loopback allowance the tests' origins need.
LOOPBACK = OriginGuard(OriginAccess(OriginPolicy(allow=parse_networks(["127.0.0.0/8"]))))


def test_a_preview_is_given_up_when_slow_or_large(origin: ScriptedOrigin) -> None:
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(png, "PNG")
    image = {"Content-Type": "image/png"}
    origin.routes["/ok.png"] = Route(png.getvalue(), headers=image)
    origin.routes["/slow.png"] = Route(png.getvalue(), headers=image, delay=3.0)
    origin.routes["/big.png"] = Route(png.getvalue() * 40, headers=image)
    limits = images.PreviewLimits(timeout=0.3, max_bytes=len(png.getvalue()) * 4)

    def preview(target: str) -> bytes | None:
        return images.preview(origin.url, hostname=HOST, target=target, limits=limits, guard=LOOPBACK)

    assert preview("/ok.png") is not None
    started = time.monotonic()
    assert preview("/slow.png") is None
    assert time.monotonic() - started < 2.0  # not the origin's 3 s
    assert preview("/big.png") is None
    assert {headers["host"] for _, headers in origin.seen} == {HOST}


def test_a_preview_never_reaches_an_origin_the_policy_refuses(origin: ScriptedOrigin) -> None:
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(png, "PNG")
    origin.routes["/ok.png"] = Route(png.getvalue(), headers={"Content-Type": "image/png"})
    limits = images.PreviewLimits(timeout=2)
    strict = OriginGuard()  # public addresses only: the origin is on loopback
    assert images.preview(origin.url, hostname=HOST, target="/ok.png", limits=limits, guard=strict) is None
    assert origin.seen == []
    assert (
        images.preview(origin.url, hostname=HOST, target="/ok.png", limits=limits, guard=LOOPBACK) is not None
    )


def test_matches_are_listed_per_customer(api: Api, origin: ScriptedOrigin) -> None:
    scene = staydown_scene(api, origin)
    other = api.as_("agent").post("/v1/customers", json={"name": "Other", "email": "o@example.com"}).json()
    desk = _agent(api)
    customer_page = desk.get(f"/desk/customers/{scene['zone']['customer_id']}")
    link = f"/desk/matches?customer_id={scene['zone']['customer_id']}"
    assert link in customer_page.text
    theirs = desk.get(link)
    assert len(re.findall(r'<h2 id="match-(\d+)-h"', theirs.text)) == 3
    assert "2 waiting for review" in theirs.text
    none = desk.get(f"/desk/matches?customer_id={other['id']}&status=pending_review")
    assert "No matches." in none.text and "on Other's zones" in none.text
