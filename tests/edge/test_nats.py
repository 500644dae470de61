"""An edge following the feed over NATS JetStream, as real processes: relay, edge, control plane."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from staydown.feedrecords import StreamNames
from tests.conftest import Api
from tests.enforcement.test_relay import relay, stream_state
from tests.fleet import Process, eventually, free_port, http_ok, nats_env, nats_url, stream_names
from tests.support import active_zone, notice_body

__all__ = ["nats_url", "stream_names"]  # fixtures


def edge_process(api: Api, url: str, names: StreamNames, data_dir: Path, port: int) -> Process:
    return Process(
        "edge",
        "--nats",
        url,
        "--control-plane",
        api.url,
        "--key",
        api.keys["edge"],
        "--port",
        str(port),
        data_dir=data_dir,
        env={**nats_env(names), "STAYDOWN_EDGE_ID": "pop-1"},
    )


def status(port: int, host: str, path: str) -> int:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", headers={"host": host}, timeout=5).status_code
    except httpx.HTTPError:
        return 0


def test_an_edge_following_nats_enforces_a_notice(
    api: Api, tmp_path: Path, nats_url: str, stream_names: StreamNames
) -> None:
    active_zone(api, "jet.example.test")
    port = free_port()
    with (
        relay(api.settings.resolved_database_url, nats_url, stream_names, tmp_path / "relay"),
        edge_process(api, nats_url, stream_names, tmp_path / "edge", port) as edge,
    ):
        eventually(lambda: http_ok(f"http://127.0.0.1:{port}/"), what="the edge listening")
        eventually(lambda: status(port, "jet.example.test", "/a.jpg") not in (0, 421), what="zone applied")
        assert status(port, "jet.example.test", "/a.jpg") != 451
        created = api.as_("trusted_flagger").post(
            "/v1/notices", json=notice_body(["http://jet.example.test/a.jpg"])
        )
        assert created.status_code == 201
        eventually(lambda: status(port, "jet.example.test", "/a.jpg") == 451, what="the block applied")
        applied = f"/v1/notices/{created.json()['id']}/edges"
        eventually(
            lambda: api.as_("agent").get(applied).json()["applied"] == ["pop-1/0"],
            what="the heartbeat reaching the registry",
        )
        [reported] = [e for e in api.as_("agent").get("/v1/edges").json() if e["id"] == "pop-1/0"]
        assert reported["transport"] == "nats" and reported["state"] == "ok"
        edge.alive()
        assert "/v1/edge/feed" not in edge.output()


def test_an_edge_behind_the_streams_retention_loads_a_snapshot_and_follows(
    api: Api, tmp_path: Path, nats_url: str, stream_names: StreamNames
) -> None:
    zone = active_zone(api, "old.example.test")
    urls = [f"http://old.example.test/{n}.jpg" for n in range(8)]
    created = api.as_("trusted_flagger").post("/v1/notices", json=notice_body(urls))
    assert created.status_code == 201
    feed = api.as_("edge").get("/v1/edge/feed", params={"after": 0, "limit": 1000}).json()
    head = feed["head"]
    # This edge applied the zone's first record once, then was reset to it (a restored disk).
    store = tmp_path / "edge" / "edge" / "worker-0"
    store.mkdir(parents=True)
    (store / "feed.log").write_text(json.dumps(feed["records"][0]) + "\n")
    port = free_port()
    with relay(
        api.settings.resolved_database_url,
        nats_url,
        stream_names,
        tmp_path / "relay",
        STAYDOWN_NATS_RETAIN_RECORDS="3",
    ):
        eventually(lambda: stream_state(nats_url, stream_names)[1] >= head, what="publishing")
        first, _last = stream_state(nats_url, stream_names)
        assert first > 2  # the stream no longer holds what the edge needs next
        with edge_process(api, nats_url, stream_names, tmp_path / "edge", port) as edge:
            eventually(lambda: http_ok(f"http://127.0.0.1:{port}/"), what="the edge listening")
            for n in range(8):  # blocks only the snapshot carried
                eventually(lambda n=n: status(port, "old.example.test", f"/{n}.jpg") == 451, what=f"/{n}")
            api.as_("trusted_flagger").post(
                "/v1/notices", json=notice_body(["http://old.example.test/late.jpg"])
            )
            eventually(lambda: status(port, "old.example.test", "/late.jpg") == 451, what="following on")
            edge.alive()
            assert "loaded the control plane's snapshot" in edge.output()
    assert zone["zone_id"]
