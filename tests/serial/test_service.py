"""The serial-infringer review end to end: a site noticed for enough works by enough rightsholders
opens a review with its dossier; the agent's termination reaches a running edge; a review left
open past its deadline is reported; keeping a customer is a step with reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from staydown import worker
from staydown.demo.pages import render_page
from staydown.fingerprints import service as fingerprints
from staydown.serial import service as serial
from tests.conftest import Api
from tests.due_process.support import outbox
from tests.edge.harness import EdgeThread, Route, ScriptedOrigin, eventually, live_zone
from tests.support import jpeg, notice_body

HOST = "serial-site.example.test"


def notice_from(api: Api, principal: str, titles: list[str], *, first: int = 0) -> dict[str, Any]:
    """A trusted flagger's notice for ``principal``: one page of each title."""
    body = notice_body(
        [],
        submitter={
            "name": f"Agent of {principal}",
            "email": "agent@rights.example",
            "address": "2-1 Otemachi, Tokyo",
            "phone": "+81 3 1111 2222",
            "organization": "Rights Agency",
            "on_behalf_of": principal,
        },
        works=[
            {
                "description": t,
                "reference_urls": [f"https://{principal.lower().replace(' ', '-')}.example/{t}"],
            }
            for t in titles
        ],
        items=[{"url": f"http://{HOST}/{t}/page-{first + i}.jpg", "work": i} for i, t in enumerate(titles)],
    )
    r = api.as_("trusted_flagger").post("/v1/notices", json=body)
    assert r.status_code == 201 and r.json()["status"] == "actioned", r.text
    notice: dict[str, Any] = r.json()
    return notice


def open_reviews(api: Api) -> list[dict[str, Any]]:
    reviews: list[dict[str, Any]] = (
        api.as_("agent").get("/v1/serial-reviews", params={"status": "open"}).json()
    )
    return reviews


def test_a_serial_site_gets_a_review_with_its_dossier_and_termination_reaches_the_edge(
    api: Api, tmp_path: Path
) -> None:
    with ScriptedOrigin() as origin:
        origin.routes["/index.html"] = Route(b"<h1>free manga</h1>")
        zone = live_zone(api, origin, HOST)
        edge = EdgeThread(
            control_plane=api.url, key=api.keys["edge"], data_dir=tmp_path / "edge", settings=api.settings
        )
        with edge:
            eventually(lambda: httpx.get(edge.url + "/index.html", headers={"host": HOST}).status_code == 200)
            first = notice_from(api, "Publisher A", ["alpha", "beta", "gamma"])
            assert open_reviews(api) == []  # three works, one rightsholder
            api.clock.advance(days=20)
            notice_from(api, "Publisher B", ["delta"])
            [review] = open_reviews(api)
            assert review["customer_id"] == zone["customer_id"]
            assert "4 distinct works from 2 rightsholders noticed within 30 days" in review["trigger"]
            figures = review["evidence"]["figures"]
            assert (figures["works"], figures["rightsholders"], figures["notices"]) == (4, 2, 2)
            assert review["due_at"].startswith("2026-11-29")  # opened on 22 November, seven days to decide
            assert any(m["kind"] == "serial_review_opened" for m in outbox(api))

            dossier = api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/dossier").json()
            assert dossier["figures"]["first_notice_at"].startswith("2026-11-02")
            assert dossier["figures"]["urls_actioned"] == 4 and dossier["figures"]["disclosure_orders"] == 0
            assert dossier["figures"]["oldest_unresolved_notice_id"] is None
            assert dossier["figures"]["served_share_later_blocked"] is None and dossier["served_share_note"]
            [site] = dossier["zones"]
            assert (site["hostname"], site["figures"]["works"]) == (HOST, 4)
            assert [d["notices"] for d in dossier["timeline"]] == [1, 1]
            assert dossier["reviews"][0]["id"] == review["id"]
            assert first["id"] in review["evidence"]["notices"]

            r = api.as_("agent").post(
                f"/v1/serial-reviews/{review['id']}/decision",
                json={"decision": "terminate", "reason": "a site built on other people's works"},
            )
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "decided" and r.json()["policy_step_id"]
            eventually(
                lambda: (
                    httpx.get(edge.url + "/index.html", headers={"host": HOST}).headers.get("staydown-reason")
                    == "zone-terminated"
                )
            )
            assert origin.hits("/index.html") == 1  # served once, then never fetched again
    steps = api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/strikes").json()["steps"]
    assert steps[-1]["kind"] == "termination" and "serial-infringer review" in steps[-1]["reason"]
    again = api.as_("agent").post(
        f"/v1/serial-reviews/{review['id']}/decision", json={"decision": "keep", "reason": "changed my mind"}
    )
    assert again.status_code == 409


def test_an_undecided_review_is_reported_at_its_deadline_and_keeping_is_a_step(api: Api) -> None:
    with ScriptedOrigin() as origin:
        zone = live_zone(api, origin, HOST)
    notice_from(api, "Publisher A", ["alpha", "beta"])
    notice_from(api, "Publisher B", ["gamma", "delta"])
    [review] = open_reviews(api)
    api.clock.advance(days=7, minutes=1)
    worker.run_timers(api.database, as_of=api.clock(), settings=api.settings)
    assert any(m["kind"] == "serial_review_overdue" for m in outbox(api))
    trail = api.as_("legal").get(f"/v1/audit/customer/{zone['customer_id']}").json()
    assert "serial.review_overdue" in [e["action"] for e in trail]

    r = api.as_("agent").post(
        f"/v1/serial-reviews/{review['id']}/decision",
        json={"decision": "keep", "reason": "the works were licensed after all"},
    )
    assert r.status_code == 200
    ledger = api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/strikes").json()
    assert ledger["steps"][-1]["kind"] == "review_kept" and ledger["standing"] == "warned"
    assert api.as_("agent").get(f"/v1/zones/{zone['zone_id']}").json()["status"] == "active"
    # A decided review lets a new one open when the record crosses the thresholds again.
    notice_from(api, "Publisher C", ["epsilon"], first=10)
    assert len(open_reviews(api)) == 1


def test_the_dossier_is_for_staff_only(api: Api) -> None:
    with ScriptedOrigin() as origin:
        zone = live_zone(api, origin, HOST)
    assert api.as_("submitter").get(f"/v1/customers/{zone['customer_id']}/dossier").status_code == 403
    assert api.as_("legal").get(f"/v1/customers/{zone['customer_id']}/dossier").status_code == 200
    assert api.as_("agent").get("/v1/customers/999999/dossier").status_code == 404


def test_stay_down_matches_reported_by_edges_open_a_review_on_the_sweep(api: Api) -> None:
    with ScriptedOrigin() as origin:
        zone = live_zone(api, origin, HOST)
        origin.routes["/a.jpg"] = Route(jpeg(render_page(81)), headers={"Content-Type": "image/jpeg"})
        notice = (
            api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/a.jpg"])).json()
        )
        assert fingerprints.run_captures(api.database, now=api.clock(), settings=api.settings) == 1
    (entry,) = api.as_("agent").get(f"/v1/notices/{notice['id']}").json()["staydown"]["entries"]
    for n in range(3):
        body = {
            "entry_id": entry["id"],
            "zone_id": zone["zone_id"],
            "target": f"/copy-{n}.jpg",
            "url": f"http://{HOST}/copy-{n}.jpg",
            "distance": 4,
            "copy_sha256": f"{n:02d}" * 32,
        }
        assert api.as_("edge").post("/v1/edge/matches", json=body).status_code == 201
        assert serial.sweep(api.database, now=api.clock(), settings=api.settings) == (1 if n == 2 else 0)
    [review] = open_reviews(api)
    assert "3 stay-down matches within 30 days (threshold 3)" in review["trigger"]
    assert review["evidence"]["figures"]["staydown_matches"] == 3
    assert serial.sweep(api.database, now=api.clock(), settings=api.settings) == 0  # one open review


def test_a_review_of_a_customer_terminated_meanwhile_is_closed_by_terminate_only(api: Api) -> None:
    with ScriptedOrigin() as origin:
        zone = live_zone(api, origin, HOST)
    notice_from(api, "Publisher A", ["alpha", "beta"])
    notice_from(api, "Publisher B", ["gamma", "delta"])
    [review] = open_reviews(api)
    r = api.as_("agent").post(f"/v1/customers/{zone['customer_id']}/terminate", json={"reason": "obvious"})
    assert r.status_code == 200
    kept = api.as_("agent").post(
        f"/v1/serial-reviews/{review['id']}/decision", json={"decision": "keep", "reason": "too late"}
    )
    assert kept.status_code == 409 and kept.json()["error"]["code"] == "terminated"
    closed = api.as_("agent").post(
        f"/v1/serial-reviews/{review['id']}/decision",
        json={"decision": "terminate", "reason": "done already"},
    )
    assert closed.status_code == 200 and closed.json()["policy_step_id"] == r.json()["id"]
