"""The edge registry: every edge's applied sequence and state, refused keys included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, generate_latest

from staydown.enforcement import service
from staydown.enforcement.registry import EdgesCollector, EdgeState, edge_id_of, judge, lag_seconds
from tests.conftest import Api
from tests.desk.support import DeskClient
from tests.edge.harness import EdgeThread
from tests.fleet import eventually
from tests.support import active_zone, notice_body

NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def test_judge_names_the_trouble_an_edge_is_in() -> None:
    def state(**kw: object) -> EdgeState:
        args = {"last_contact": ago(1), "refused_at": None, "lag_seconds": 0.0} | kw
        return judge(now=NOW, alert_seconds=60, **args)  # type: ignore[arg-type]

    assert state() is EdgeState.ok
    assert state(lag_seconds=59.9) is EdgeState.ok
    assert state(lag_seconds=60.1) is EdgeState.behind
    assert state(last_contact=ago(61)) is EdgeState.silent
    assert state(last_contact=None) is EdgeState.silent
    assert state(refused_at=ago(0)) is EdgeState.refused
    assert state(last_contact=None, refused_at=ago(5)) is EdgeState.refused
    assert state(refused_at=ago(5)) is EdgeState.ok  # accepted again since


def test_lag_is_the_age_of_the_oldest_record_not_applied() -> None:
    assert lag_seconds(seq=10, head=10, oldest_unapplied=None, now=NOW) == 0
    assert lag_seconds(seq=9, head=10, oldest_unapplied=ago(42), now=NOW) == 42
    assert lag_seconds(seq=9, head=10, oldest_unapplied=ago(-3), now=NOW) == 0


def test_edge_names_are_cut_and_never_empty() -> None:
    assert edge_id_of("pop-1/0", key_id=3) == "pop-1/0"
    assert edge_id_of(None, key_id=3) == "key-3"
    assert edge_id_of("bad\x00name", key_id=None) == "unnamed"
    assert len(edge_id_of("x" * 1000, key_id=None)) == 128


def edges(api: Api) -> list[dict]:
    answer = api.as_("agent").get("/v1/edges")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_revoked_edge_key_shows_as_refused(api: Api, tmp_path: Path) -> None:
    active_zone(api, "reg.example.test")
    key = api.as_("admin").post("/v1/keys", json={"role": "edge", "name": "pop-9"}).json()
    with EdgeThread(control_plane=api.url, key=key["key"], data_dir=tmp_path / "edge", settings=api.settings):
        with api.database.reader() as session:
            head = service.head(session)
        eventually(lambda: [e["seq"] for e in edges(api)] == [head], what="the edge reporting")
        [edge] = edges(api)
        assert edge["state"] == "ok" and edge["lag"] == 0 and edge["lag_records"] == 0
        assert edge["transport"] == "http" and edge["version"]
        created = (
            api.as_("trusted_flagger")
            .post("/v1/notices", json=notice_body(["http://reg.example.test/a.jpg"]))
            .json()
        )
        eventually(lambda: edges(api)[0]["seq"] == head + 1, what="the block applied")
        applied = api.as_("agent").get(f"/v1/notices/{created['id']}/edges").json()
        assert applied == {
            "notice_id": created["id"],
            "seq": head + 1,
            "applied": [edge["id"]],
            "pending": [],
        }

        assert api.as_("admin").delete(f"/v1/keys/{key['id']}").status_code == 204
        eventually(
            lambda: edges(api)[0]["state"] == "refused",
            timeout=api.settings.edge_lag_alert_seconds,
            what="the refusal recorded",
        )
        [refused] = edges(api)
        assert refused["id"] == edge["id"] and refused["refused_status"] == 401
        registry = CollectorRegistry()  # the collector the API registers on its metrics listener
        registry.register(
            EdgesCollector(api.database, api.clock, alert_seconds=api.settings.edge_lag_alert_seconds)
        )
        metrics = generate_latest(registry).decode()
        assert 'staydown_edges{state="refused"} 1.0' in metrics
        assert "staydown_edges_alerting 1.0" in metrics
        assert f'staydown_edge_alert{{edge="{edge["id"]}",state="refused"}} 1.0' in metrics

        desk = DeskClient(api)
        desk.sign_in_with_key(api.keys["agent"])
        page = desk.get("/desk/edges")
        assert page.status_code == 200
        assert "1 edge(s) need attention" in page.text and f"{edge['id']} (refused)" in page.text
        notice_page = desk.get(f"/desk/notices/{created['id']}").text
        assert f"Applied by 1 edge(s): {edge['id']}" in notice_page


def test_edges_are_for_the_desk_only(api: Api) -> None:
    assert api.as_("edge").get("/v1/edges").status_code == 403
    assert api.as_("submitter").get("/v1/edges").status_code == 403
    assert httpx.get(f"{api.url}/v1/edges").status_code == 401


def test_only_refusals_of_real_edge_keys_reach_the_registry(api: Api) -> None:
    feed = f"{api.url}/v1/edge/feed"
    assert httpx.get(feed, headers={"staydown-edge": "made-up"}).status_code == 401
    bogus = {"authorization": "Bearer sd_not-a-key", "staydown-edge": "made-up-2"}
    assert httpx.get(feed, headers=bogus).status_code == 401
    assert edges(api) == []
    wrong_role = {"authorization": f"Bearer {api.keys['submitter']}", "staydown-edge": "misconfigured"}
    assert httpx.get(feed, headers=wrong_role).status_code == 403
    [refused] = edges(api)
    assert (refused["id"], refused["state"], refused["refused_status"]) == ("misconfigured", "refused", 403)
