"""The hash bank's page for agents over HTTP: a quarantined entry is listed with its held blocks and
released or removed there; conflicts and the allowlist are shown."""

from __future__ import annotations

import pytest

from staydown.config import Settings
from staydown.demo.pages import render_page
from tests.conftest import Api
from tests.desk.support import DeskClient
from tests.edge.harness import ScriptedOrigin, live_zone
from tests.support import jpeg


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"staydown_flood_urls": 2})


def test_an_agent_removes_a_quarantined_entry_from_the_desk(api: Api) -> None:
    with ScriptedOrigin() as origin:
        zone = live_zone(api, origin, "desk-bank.example.test")
    logo = jpeg(render_page(62))
    work = api.as_("trusted_flagger").post(
        "/v1/works", data={"description": "A logo"}, files=[("images", ("l.jpg", logo, "image/jpeg"))]
    )
    api.as_("submitter").post(
        "/v1/works",
        data={"description": "The same logo, elsewhere"},
        files=[("images", ("l.jpg", logo, "image/jpeg"))],
    )
    (entry,) = api.as_("agent").get(f"/v1/works/{work.json()['id']}").json()["entries"]
    for n in range(3):
        reported = api.as_("edge").post(
            "/v1/edge/matches",
            json={
                "entry_id": entry["id"],
                "zone_id": zone["zone_id"],
                "target": f"/l/{n}.jpg",
                "url": f"http://desk-bank.example.test/l/{n}.jpg",
                "distance": 0,
                "exact": True,
                "copy_sha256": entry["sha256"],
            },
        )
        assert reported.status_code == 201, reported.text

    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["agent"])
    page = desk.get("/desk/bank")
    assert page.status_code == 200 and 'href="/desk/bank"' in page.text
    assert "Quarantined entries (1)" in page.text and f"Entry {entry['id']}" in page.text
    assert "2 blocked, 1 pending review" in page.text
    assert "The same image in two rightsholders' works (1)" in page.text
    (item,) = api.as_("agent").get("/v1/staydown/quarantines").json()["quarantines"]

    removed = desk.post(
        f"/desk/bank/quarantines/{item['id']}/decision",
        {"decision": "remove", "reason": "a logo, not a work"},
    )
    assert removed.status_code == 303, removed.text
    after = desk.get("/desk/bank")
    assert "Quarantined entries (0)" in after.text and "removed." in after.text
    assert api.as_("agent").get(f"/v1/staydown/quarantines/{item['id']}").json()["matches"] == {
        "dismissed": 3
    }
