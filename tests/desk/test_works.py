"""Works in the rightsholder portal over HTTP: registration through the works service (each bad file
named, nothing banked), the work's images and entries, and only one's own works."""

from __future__ import annotations

import re
from typing import Any

from staydown.demo.pages import render_page
from staydown.desk.service import create_user
from staydown.types import Role
from tests.conftest import Api
from tests.desk.support import DeskClient
from tests.support import jpeg


def _hash_adds(api: Api) -> list[dict[str, Any]]:
    records = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["records"]
    return [r for r in records if r["kind"] == "hash_add"]


def test_a_rightsholder_registers_a_work_and_sees_its_images_and_entries(api: Api) -> None:
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["submitter"])
    page = desk.get("/desk/works")
    assert page.status_code == 200 and 'href="/desk/works"' in page.text  # in the navigation
    first = jpeg(render_page(51))
    created = desk.post(
        "/desk/works",
        {"description": "Demo Manga, chapter 3, pages 1-2"},
        files=[
            ("images", ("p1.jpg", first, "image/jpeg")),
            ("images", ("p2.jpg", jpeg(render_page(52)), "image/jpeg")),
            ("images", ("p1-again.jpg", first, "image/jpeg")),
        ],
    )
    assert created.status_code == 303, created.text
    work_id = int(created.headers["location"].rsplit("/", 1)[1])
    detail = desk.get(created.headers["location"])
    assert "3 reference image(s)" in detail.text  # the flash
    assert "Demo Manga, chapter 3, pages 1-2" in detail.text
    assert detail.text.count("PDQ hashes") == 2 and "same file as another image" in detail.text
    assert "No copies found so far" in detail.text
    added = _hash_adds(api)
    assert len(added) == 2 and {r["work_id"] for r in added} == {work_id}
    assert {r["scope"] for r in added} == {"network"}
    listing = desk.get("/desk/works")
    assert f"Work {work_id}" in listing.text
    via_api = api.as_("submitter").get(f"/v1/works/{work_id}").json()
    assert len(via_api["images"]) == 3 and len(via_api["entries"]) == 2


def test_each_bad_file_is_named_and_nothing_is_banked(api: Api) -> None:
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["submitter"])
    good = jpeg(render_page(53))
    refused = desk.post(
        "/desk/works",
        {"description": "Volume 2"},
        files=[
            ("images", ("good.jpg", good, "image/jpeg")),
            ("images", ("broken.jpg", good[: len(good) // 3], "image/jpeg")),
            ("images", ("notes.txt", b"not an image", "text/plain")),
        ],
    )
    assert refused.status_code == 422
    problems = re.findall(r"<li><strong>([^<]+)</strong>", refused.text)
    assert problems == ["broken.jpg", "notes.txt"]
    assert "Volume 2" in refused.text  # the description is kept
    short = desk.post("/desk/works", {"description": "x"}, files=[("images", ("a.jpg", good, "image/jpeg"))])
    assert short.status_code == 422 and "3 to 5000 characters" in short.text
    none = desk.post("/desk/works", {"description": "Volume 3"})
    assert none.status_code == 422 and "at least one reference image" in none.text
    assert _hash_adds(api) == []


def test_a_rightsholder_sees_only_their_own_works(api: Api) -> None:
    with api.database.transaction() as session:
        create_user(
            session,
            email="other@rights.example",
            password="a long enough passphrase",
            role=Role.submitter,
            now=api.clock(),
            actor="test",
        )
    mine = DeskClient(api)
    mine.sign_in_with_key(api.keys["submitter"])
    created = mine.post(
        "/desk/works",
        {"description": "My own chapter"},
        files=[("images", ("p.jpg", jpeg(render_page(54)), "image/jpeg"))],
    )
    work_path = created.headers["location"]
    other = DeskClient(api)
    assert other.sign_in("other@rights.example", "a long enough passphrase").status_code == 303
    assert other.get(work_path).status_code == 404
    assert "My own chapter" not in other.get("/desk/works").text
    agent = DeskClient(api)
    agent.sign_in_with_key(api.keys["agent"])
    assert agent.get(work_path).status_code == 403  # the portal is the rightsholders'
    legal = DeskClient(api)
    legal.sign_in_with_key(api.keys["legal"])
    assert legal.post("/desk/works", {"description": "sneaky"}).status_code == 403
