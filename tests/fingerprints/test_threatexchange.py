"""ThreatExchange PDQ hash lists: the parser on hostile text, and export and import over HTTP."""

from __future__ import annotations

import time

from staydown.demo.pages import render_page
from staydown.fingerprints import threatexchange
from tests.conftest import Api
from tests.support import jpeg

# From python-threatexchange's PdqSignal examples (pdq/data/bridge-mods).
BRIDGE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
OCTOCAT = "62c9789627838f69f23cf98c29e37836d61c87c31c59587c4b49a783f496725c"


def test_a_hash_list_is_read_line_by_line_reporting_what_it_skips() -> None:
    text = "\n".join(
        [
            "# exported 2026-12-01",
            f"pdq {BRIDGE}",
            "",
            OCTOCAT.upper(),  # a bare hash, where the list is known to be PDQ
            f"pdq {BRIDGE}",  # twice is once
            "md5 d41d8cd98f00b204e9800998ecf8427e",
            "pdq 1234",
            f"pdq {BRIDGE[:-1]}g",
        ]
    )
    found = threatexchange.parse(text)
    assert [h.hex() for h in found.hashes] == [BRIDGE, OCTOCAT]
    assert [s["line"] for s in found.skipped] == [6, 7, 8]
    assert "md5" in str(found.skipped[0]["reason"])
    assert threatexchange.render(found.hashes) == f"pdq {BRIDGE}\npdq {OCTOCAT}\n"
    assert threatexchange.parse(threatexchange.render(found.hashes)).hashes == found.hashes


def test_the_parser_is_linear_on_hostile_input() -> None:
    started = time.process_time()
    found = threatexchange.parse(("pdq " + "a" * 200_000 + "\n") * 20 + " " * 1_000_000 + "x" * 1_000_000)
    assert len(found.hashes) == 0 and len(found.skipped) == 21
    assert time.process_time() - started < 10  # a bound against blow-ups, not a benchmark


def test_the_bank_is_exported_and_a_list_imported_as_a_work(api: Api) -> None:
    flagger = api.as_("trusted_flagger")
    work = flagger.post(
        "/v1/works",
        data={"description": "Chapter 6"},
        files=[("images", ("p.jpg", jpeg(render_page(56)), "image/jpeg"))],
    )
    assert work.status_code == 201, work.text
    agent = api.as_("agent")
    (entry,) = agent.get(f"/v1/works/{work.json()['id']}").json()["entries"]
    exported = agent.get("/v1/staydown/hashes")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/plain")
    lines = exported.text.splitlines()
    assert lines == [f"pdq {h}" for h in dict.fromkeys(entry["pdq"])]
    assert api.as_("submitter").get("/v1/staydown/hashes").status_code == 403

    imported = flagger.post(
        "/v1/works/import",
        params={"description": "Shared list: chapter 7"},
        content=f"pdq {BRIDGE}\n{OCTOCAT}\nmd5 d41d8cd98f00b204e9800998ecf8427e\n",
        headers={"content-type": "text/plain"},
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["hashes"] == 2 and [s["line"] for s in imported.json()["skipped"]] == [3]
    added = [
        r
        for r in api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["records"]
        if r["kind"] == "hash_add" and r["work_id"] == imported.json()["id"]
    ]
    assert sorted(r["pdq"][0] for r in added) == sorted([BRIDGE, OCTOCAT])
    assert all(r["scope"] == "network" and len(r["pdq"]) == 1 for r in added)
    both = agent.get("/v1/staydown/hashes").text.splitlines()
    assert f"pdq {BRIDGE}" in both and len(both) == len(lines) + 2
    only = agent.get("/v1/staydown/hashes", params={"work_id": imported.json()["id"]}).text
    assert sorted(only.splitlines()) == sorted([f"pdq {BRIDGE}", f"pdq {OCTOCAT}"])

    empty = flagger.post("/v1/works/import", params={"description": "Nothing"}, content="md5 00\n")
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "missing_hashes"
