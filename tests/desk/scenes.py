"""Scenes several desk tests start from: a noticed page banked from its origin and the copies
edges found of it and of a registered work."""

from __future__ import annotations

from typing import Any

from staydown.demo.pages import render_page
from staydown.fingerprints import service as fingerprints
from tests.conftest import Api
from tests.edge.harness import Route, ScriptedOrigin, live_zone
from tests.support import jpeg, notice_body

HOST = "pages.example.test"
IMAGE = {"Content-Type": "image/jpeg", "Cache-Control": "public, max-age=60"}


def staydown_scene(api: Api, origin: ScriptedOrigin) -> dict[str, Any]:
    """A noticed page banked from its origin, and two copies edges reported: one blocked at once,
    one in the review band; plus a copy of a registered work."""
    zone = live_zone(api, origin, HOST)
    origin.routes["/a.jpg"] = Route(jpeg(render_page(61)), headers=IMAGE)
    origin.routes["/copy.jpg"] = Route(jpeg(render_page(61).rotate(1)), headers=IMAGE)
    origin.routes["/same.jpg"] = Route(jpeg(render_page(61)), headers=IMAGE)
    notice = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/a.jpg"])).json()
    fingerprints.run_captures(api.database, now=api.clock(), settings=api.settings)
    (entry,) = api.as_("agent").get(f"/v1/notices/{notice['id']}").json()["staydown"]["entries"]
    work = api.as_("trusted_flagger").post(
        "/v1/works",
        data={"description": "Demo Manga, chapter 7"},
        files=[("images", ("p.jpg", jpeg(render_page(62)), "image/jpeg"))],
    )
    (work_entry,) = api.as_("agent").get(f"/v1/works/{work.json()['id']}").json()["entries"]
    origin.routes["/work-copy.jpg"] = Route(jpeg(render_page(62)), headers=IMAGE)
    edge = api.as_("edge")

    def report(entry_id: int, target: str, distance: int) -> dict[str, Any]:
        body = {
            "entry_id": entry_id,
            "zone_id": zone["zone_id"],
            "target": target,
            "url": f"http://{HOST}{target}",
            "distance": distance,
            "copy_sha256": "cd" * 32,
        }
        response = edge.post("/v1/edge/matches", json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    blocked = report(entry["id"], "/same.jpg", 6)
    review = report(entry["id"], "/copy.jpg", 40)
    of_work = report(work_entry["id"], "/work-copy.jpg", 38)
    assert (blocked["status"], review["status"]) == ("blocked", "pending_review")
    return {
        "zone": zone,
        "notice": notice,
        "entry": entry,
        "work_id": work.json()["id"],
        "blocked": blocked,
        "review": review,
        "of_work": of_work,
    }
