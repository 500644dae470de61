"""The hash bank over HTTP: registering works, capturing noticed content from the zone's own origin
(and only from there), and the checks on what edges report."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from staydown.demo.pages import render_page
from staydown.fingerprints import service as fingerprints
from staydown.fingerprints.models import CaptureStatus, ContentCapture
from tests.conftest import Api
from tests.edge.harness import Route, ScriptedOrigin, live_zone
from tests.support import image_bytes, jpeg, notice_body

HOST = "pages.example.test"
IMAGE = {"Content-Type": "image/jpeg", "Cache-Control": "public, max-age=60"}


@pytest.fixture
def origin() -> Iterator[ScriptedOrigin]:
    with ScriptedOrigin() as scripted:
        yield scripted


def feed(api: Api, kind: str) -> list[dict[str, Any]]:
    records = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["records"]
    return [r for r in records if r["kind"] == kind]


def test_registering_a_work_banks_each_reference_network_wide(api: Api) -> None:
    page = jpeg(render_page(31))
    flagger = api.as_("trusted_flagger")
    created = flagger.post(
        "/v1/works",
        data={"description": "Chapter 9, pages 1-2"},
        files=[
            ("images", ("p1.jpg", page, "image/jpeg")),
            ("images", ("p2.png", image_bytes(render_page(32), "PNG"), "image/png")),
            ("images", ("p1-again.jpg", page, "image/jpeg")),
        ],
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["fingerprints"] == 3 and body["weak"] == 0 and body["hashes"] >= 2 * 8
    added = feed(api, "hash_add")
    assert len(added) == 2  # the same file twice is one entry
    assert {r["scope"] for r in added} == {"network"}
    assert all(r["work_id"] == body["id"] and len(r["pdq"]) >= 8 for r in added)

    work = flagger.get(f"/v1/works/{body['id']}").json()
    assert len(work["images"]) == 3 and len(work["entries"]) == 2
    assert api.as_("submitter").get(f"/v1/works/{body['id']}").status_code == 404  # not theirs
    assert api.as_("agent").get(f"/v1/works/{body['id']}").status_code == 200
    assert api.as_("edge").post("/v1/works", data={"description": "x"}).status_code == 403


def test_a_work_with_a_bad_image_is_refused_whole_naming_the_file(api: Api) -> None:
    flagger = api.as_("trusted_flagger")
    good = jpeg(render_page(33))
    refused = flagger.post(
        "/v1/works",
        data={"description": "Volume 1"},
        files=[
            ("images", ("good.jpg", good, "image/jpeg")),
            ("images", ("broken.jpg", good[: len(good) // 3], "image/jpeg")),
            ("images", ("notes.txt", b"not an image at all", "text/plain")),
        ],
    )
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "invalid_image"
    assert "broken.jpg" in error["message"] and "notes.txt" in error["message"]
    assert {d["filename"] for d in error["details"]} == {"broken.jpg", "notes.txt"}
    missing = flagger.post("/v1/works", data={"description": "Volume 1"})
    assert missing.status_code == 422
    assert feed(api, "hash_add") == []


def test_noticed_content_is_read_from_the_zones_origin_only(api: Api, origin: ScriptedOrigin) -> None:
    live_zone(api, origin, HOST)
    origin.routes["/a.jpg"] = Route(jpeg(render_page(41)), headers=IMAGE)
    origin.routes["/labelled-wrong"] = Route(jpeg(render_page(42)), headers={"Content-Type": "text/plain"})
    origin.routes["/page.html"] = Route(b"<html>chapter</html>", headers={"Content-Type": "text/html"})
    origin.routes["/broken.jpg"] = Route(b"\xff\xd8\xff\xe0 truncated", headers=IMAGE)
    origin.routes["/flaky.jpg"] = Route(b"busy", status=503, headers={"Content-Type": "text/plain"})
    urls = [
        f"http://{HOST}{p}" for p in ("/a.jpg", "/labelled-wrong", "/page.html", "/broken.jpg", "/flaky.jpg")
    ]
    urls.append(f"http://{HOST}/gone.jpg")
    notice = api.as_("trusted_flagger").post("/v1/notices", json=notice_body(urls))
    assert notice.status_code == 201, notice.text
    assert fingerprints.run_captures(api.database, now=api.clock(), settings=api.settings) == 6

    # Every request went to the zone's registered origin, as the zone's host; none elsewhere.
    assert {path for path, _ in origin.seen} == {
        "/a.jpg",
        "/labelled-wrong",
        "/page.html",
        "/broken.jpg",
        "/flaky.jpg",
        "/gone.jpg",
    }
    assert {headers["host"] for _, headers in origin.seen} == {HOST}
    detail = api.as_("agent").get(f"/v1/notices/{notice.json()['id']}").json()["staydown"]
    assert detail["captures"] == {"banked": 2, "not_image": 1, "rejected": 1, "failed": 1, "pending": 1}
    assert len(detail["entries"]) == 2
    added = feed(api, "hash_add")
    assert {r["scope"] for r in added} == {"customer"}
    assert {r["notice_id"] for r in added} == {notice.json()["id"]}

    # The flaky origin is retried later, then given up on after the configured attempts.
    later = api.clock.advance(hours=1)
    for _ in range(api.settings.staydown_capture_attempts):
        fingerprints.run_captures(api.database, now=later, settings=api.settings)
        later = api.clock.advance(hours=1)
    detail = api.as_("agent").get(f"/v1/notices/{notice.json()['id']}").json()["staydown"]
    assert detail["captures"]["failed"] == 2 and "pending" not in detail["captures"]
    assert origin.hits("/flaky.jpg") == api.settings.staydown_capture_attempts


def test_a_capture_never_reaches_an_origin_the_policy_refuses(api: Api, origin: ScriptedOrigin) -> None:
    live_zone(api, origin, HOST)
    origin.routes["/a.jpg"] = Route(jpeg(render_page(44)), headers=IMAGE)
    api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/a.jpg"]))
    # A worker whose operator does not allow loopback origins (the zone's origin is on 127.0.0.1).
    strict = api.settings.model_copy(update={"origin_allow": []})
    assert fingerprints.run_captures(api.database, now=api.clock(), settings=strict) == 1
    assert origin.seen == []
    with api.database.reader() as session:
        (capture,) = session.scalars(select(ContentCapture)).all()
    assert capture.status is CaptureStatus.failed and capture.http_status is None
    port = origin.url.rsplit(":", 1)[1]
    assert capture.detail == "not read: the origin 127.0.0.1 is a loopback address"
    assert port not in (capture.detail or "")


def test_edges_reports_are_checked(api: Api, origin: ScriptedOrigin) -> None:
    a = live_zone(api, origin, HOST)
    other = live_zone(api, origin, "other.example.test")
    origin.routes["/a.jpg"] = Route(jpeg(render_page(43)), headers=IMAGE)
    api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/a.jpg"]))
    fingerprints.run_captures(api.database, now=api.clock(), settings=api.settings)
    (entry,) = feed(api, "hash_add")
    edge = api.as_("edge")
    report = {
        "entry_id": entry["entry_id"],
        "zone_id": a["zone_id"],
        "target": "/copy.jpg",
        "url": f"http://{HOST}/copy.jpg",
        "distance": 12,
        "copy_sha256": "ab" * 32,
    }
    assert api.as_("agent").post("/v1/edge/matches", json=report).status_code == 403
    assert (
        edge.post("/v1/edge/matches", json={**report, "zone_id": other["zone_id"]}).json()["error"]["code"]
        == "out_of_scope"
    )
    assert (
        edge.post("/v1/edge/matches", json={**report, "distance": 90}).json()["error"]["code"]
        == "not_a_match"
    )
    assert edge.post("/v1/edge/matches", json={**report, "exact": True}).status_code == 422
    assert edge.post("/v1/edge/matches", json={**report, "entry_id": 999_999}).status_code == 404
    assert edge.post("/v1/edge/matches", json={**report, "target": "copy.jpg"}).status_code == 422
    # The noticed item itself is not a copy of itself.
    same = edge.post("/v1/edge/matches", json={**report, "target": "/a.jpg", "distance": 0})
    assert same.status_code == 200 and same.json() is None
    first = edge.post("/v1/edge/matches", json=report)
    assert first.status_code == 201 and first.json()["status"] == "blocked"
    again = edge.post("/v1/edge/matches", json=report)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    review = edge.post("/v1/edge/matches", json={**report, "target": "/near.jpg", "distance": 40})
    assert review.json()["status"] == "pending_review"
    blocks = [r for r in feed(api, "block") if r["zone_id"] == a["zone_id"]]
    assert {r["target"] for r in blocks} == {"/a.jpg", "/copy.jpg"}  # not the one in review
    audit = api.as_("admin").get("/v1/audit/verify").json()
    assert audit["ok"] is True


def test_a_second_stage_report_blocks_on_conclusive_evidence_only(api: Api, origin: ScriptedOrigin) -> None:
    a = live_zone(api, origin, HOST)
    origin.routes["/a.jpg"] = Route(jpeg(render_page(44)), headers=IMAGE)
    api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/a.jpg"]))
    fingerprints.run_captures(api.database, now=api.clock(), settings=api.settings)
    (entry,) = feed(api, "hash_add")
    assert len(base64.b64decode(entry["features"])) > 10_000  # the second stage's features travel too
    edge = api.as_("edge")
    evidence = {
        "inliers": 180,
        "pairs": 200,
        "mirrored": False,
        "scale": 0.61,
        "rotation": -3.1,
        "part": [0.5, 0.0, 1.0, 1.0],
        "correlation": 0.97,
        "precision": 0.93,
    }
    report = {
        "entry_id": entry["entry_id"],
        "zone_id": a["zone_id"],
        "target": "/spread.jpg",
        "url": f"http://{HOST}/spread.jpg",
        "distance": 104,
        "copy_sha256": "cd" * 32,
        "evidence": evidence,
    }
    weak = {**evidence, "inliers": 9}
    assert (
        edge.post("/v1/edge/matches", json={**report, "evidence": weak}).json()["error"]["code"]
        == "not_a_match"
    )
    unlike = {**evidence, "correlation": 0.4}
    assert (
        edge.post("/v1/edge/matches", json={**report, "evidence": unlike}).json()["error"]["code"]
        == "not_a_match"
    )
    blocked = edge.post("/v1/edge/matches", json=report)
    assert blocked.status_code == 201 and blocked.json()["status"] == "blocked"
    assert blocked.json()["distance"] == 104
    assert "/spread.jpg" in {r["target"] for r in feed(api, "block")}
    assert (
        edge.post("/v1/edge/matches", json={**report, "evidence": {**evidence, "extra": 1}}).status_code
        == 422
    )
