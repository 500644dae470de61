"""The share of a zone's served requests that were for content later blocked, end to end: a
running edge serves requests and reports its counts, a notice blocks one resource, and the
dossier over HTTP shows the share; a report sent again is not counted twice."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from staydown.edge.server import EdgeConfig
from staydown.urls import block_key_hash
from tests.conftest import Api
from tests.edge.harness import EdgeThread, Route, ScriptedOrigin, eventually, live_zone
from tests.processes import another_api
from tests.support import notice_body

HOST = "counted-site.example.test"


def _figures(api: Api, customer_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    dossier = api.as_("agent").get(f"/v1/customers/{customer_id}/dossier").json()
    [zone] = dossier["zones"]
    return dossier["figures"], zone["figures"]


def test_the_dossier_shows_the_share_of_served_requests_later_blocked(api: Api, tmp_path: Path) -> None:
    with ScriptedOrigin() as origin:
        for path in ("/manga/one.jpg", "/manga/two.jpg", "/index.html"):
            origin.routes[path] = Route(b"content of " + path.encode())
        zone = live_zone(api, origin, HOST)
        before, _ = _figures(api, zone["customer_id"])
        assert before["served_requests"] is None and before["served_share_later_blocked"] is None
        config = EdgeConfig(legal_url="https://cdn.example/legal", served_report_seconds=0.05)
        edge = EdgeThread(
            control_plane=api.url,
            key=api.keys["edge"],
            data_dir=tmp_path / "edge",
            settings=api.settings,
            config=config,
        )
        served: dict[str, int] = {"all": 0, "one": 0}  # what the edge answered with the zone's content

        def get(client: httpx.Client, target: str) -> int:
            status = client.get(target).status_code
            if status == 200:
                served["all"] += 1
                served["one"] += target.startswith("/manga/one.jpg")
            return status

        with edge, httpx.Client(base_url=edge.url, headers={"host": HOST}) as client:

            def counted() -> dict[str, Any]:
                return _figures(api, zone["customer_id"])[1]

            eventually(lambda: get(client, "/index.html") == 200)
            for _ in range(5):
                assert get(client, "/manga/one.jpg") == 200  # an origin fill, then cache hits
            assert get(client, "/manga/one.jpg?page=2") == 200  # the same path: counted with it
            assert get(client, "/manga/two.jpg") == 200
            eventually(lambda: counted()["served_requests"] == served["all"])
            assert counted()["served_requests_later_blocked"] == 0
            assert counted()["served_share_later_blocked"] == 0

            r = api.as_("trusted_flagger").post(
                "/v1/notices", json=notice_body([f"http://{HOST}/manga/one.jpg"])
            )
            assert r.status_code == 201 and r.json()["status"] == "actioned", r.text
            eventually(lambda: get(client, "/manga/one.jpg") == 451)  # blocked: not counted
            assert get(client, "/index.html") == 200
            eventually(lambda: counted()["served_requests"] == served["all"])
            customer, zone_figures = _figures(api, zone["customer_id"])
    assert served["one"] >= 6 and served["all"] >= served["one"] + 3
    share = round(served["one"] / served["all"], 6)
    assert zone_figures["served_requests_later_blocked"] == served["one"]
    assert zone_figures["served_share_later_blocked"] == share
    assert zone_figures["served_count_error"] == 0  # a handful of resources: counted exactly
    assert zone_figures["served_since"] == zone_figures["served_until"]
    assert customer["served_requests"] == served["all"] and customer["served_share_later_blocked"] == share


def _report(zone_id: int, seq: int, **zone: Any) -> dict[str, Any]:
    return {
        "reporter": "worker-a",
        "seq": seq,
        "edge": "edge-1",
        "zones": [{"zone_id": zone_id, "requests": 10, "error": 0, "resources": [], **zone}],
    }


def test_a_report_is_counted_once_per_reporter_and_sequence(api: Api) -> None:
    with ScriptedOrigin() as origin:
        zone = live_zone(api, origin, "retried.example.test")
    edge = api.as_("edge")
    key = block_key_hash("/a.jpg")
    first = _report(zone["zone_id"], 1, resources=[[key, None, 4]])
    assert edge.post("/v1/edge/served", json=first).json() == {
        "counted": True,
        "zones": 1,
        "unknown_zones": [],
    }
    again = edge.post("/v1/edge/served", json=first).json()  # its answer was lost: sent again
    assert again["counted"] is False
    assert edge.post("/v1/edge/served", json=_report(999_999, 2)).json()["unknown_zones"] == [999_999]
    _, figures = _figures(api, zone["customer_id"])
    assert figures["served_requests"] == 10

    for bad in (
        {**first, "seq": 0},
        {**first, "zones": [{**first["zones"][0], "resources": [["not-a-hash", None, 1]]}]},
        {**first, "zones": [{**first["zones"][0], "requests": -1}]},
        {**first, "zones": [{**first["zones"][0], "error": False}]},  # no lax booleans for numbers
        {**first, "surprise": 1},
    ):
        assert edge.post("/v1/edge/served", json=bad).status_code == 422
    assert api.as_("agent").post("/v1/edge/served", json=_report(zone["zone_id"], 3)).status_code == 403


def test_reports_taken_by_two_api_processes_at_once_are_each_counted_once(api: Api, tmp_path: Path) -> None:
    """Edge workers report to whichever API process the balancer picks, and retry a report whose
    answer was lost: forty reports, each sent to both processes at the same instant, add up to
    exactly their sum on PostgreSQL (the (reporter, seq) claim and the per-day upserts)."""
    if api.database.is_sqlite:
        pytest.skip("one API process writes to SQLite; several processes share PostgreSQL")
    with ScriptedOrigin() as origin:
        zone = live_zone(api, origin, "two-processes.example.test")
    key = block_key_hash("/a.jpg")
    reports = [
        {**_report(zone["zone_id"], seq, requests=seq, resources=[[key, None, seq]]), "reporter": reporter}
        for reporter in ("worker-a", "worker-b")
        for seq in range(1, 21)
    ]
    headers = {"authorization": f"Bearer {api.keys['edge']}"}
    with (
        another_api(api.settings.resolved_database_url, tmp_path / "one") as first,
        another_api(api.settings.resolved_database_url, tmp_path / "two") as second,
        httpx.Client(headers=headers, timeout=30) as client,
    ):
        one, two = first.url, second.url
        start = threading.Barrier(2 * len(reports))
        answers: list[tuple[int, bool]] = []

        def send(url: str, report: dict[str, Any]) -> None:
            start.wait(30)
            answer = client.post(f"{url}/v1/edge/served", json=report)
            assert answer.status_code == 200, answer.text
            answers.append((report["seq"] * 2 + (report["reporter"] == "worker-b"), answer.json()["counted"]))

        senders = [threading.Thread(target=send, args=(url, r)) for r in reports for url in (one, two)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(60)
        agent = {"authorization": f"Bearer {api.keys['agent']}"}  # read by a process on the real clock
        dossier = client.get(f"{one}/v1/customers/{zone['customer_id']}/dossier", headers=agent).json()
    counted = [report for report, taken in answers if taken]
    assert len(answers) == 2 * len(reports)
    assert sorted(counted) == sorted({report for report, _ in answers}), "a report counted twice or never"
    [figures] = [z["figures"] for z in dossier["zones"]]
    assert figures["served_requests"] == 2 * sum(range(1, 21))
