"""The edge's HTTP feed consumer: a new edge and one ahead of the control plane start from a snapshot."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import Api
from tests.edge.harness import HOST, EdgeThread, Route, ScriptedOrigin, eventually, get, live_zone
from tests.support import notice_body


def snapshots_loaded(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if "loaded the control plane's snapshot" in r.getMessage())


def test_a_new_edge_starts_from_the_snapshot(
    api: Api,
    origin: ScriptedOrigin,
    edge_factory: Callable[..., EdgeThread],
    caplog: pytest.LogCaptureFixture,
) -> None:
    live_zone(api, origin)
    api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/old.jpg"]))
    edge = edge_factory()
    eventually(lambda: get(edge, "/old.jpg").status_code == 451)
    # The state is in force before the worker logs that it loaded it.
    eventually(lambda: snapshots_loaded(caplog) >= 1)
    assert snapshots_loaded(caplog) == 1


def test_an_edge_ahead_of_the_control_plane_loads_its_snapshot(
    api: Api, origin: ScriptedOrigin, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    live_zone(api, origin)
    origin.routes["/fine.jpg"] = Route(b"fine")
    api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/bad.jpg"]))
    # A local store written against another database: a zone and far more records than this log.
    store = tmp_path / "edge" / "worker-0"
    store.mkdir(parents=True)
    stale_zone = {
        "kind": "zone",
        "zone_id": 999,
        "customer_id": 1,
        "hostnames": ["stale.example.test"],
        "origin": origin.url,
        "status": "active",
    }
    purges = [{"seq": n, "kind": "purge", "zone_id": 999, "target": f"/{n}"} for n in range(2, 500)]
    lines = [json.dumps({"seq": 1, **stale_zone})] + [json.dumps(p) for p in purges]
    (store / "feed.log").write_text("\n".join(lines) + "\n")
    with EdgeThread(
        control_plane=api.url, key=api.keys["edge"], data_dir=tmp_path / "edge", settings=api.settings
    ) as edge:
        eventually(lambda: get(edge, "/bad.jpg").status_code == 451, timeout=15)
        assert get(edge, "/fine.jpg").status_code == 200
        stale = httpx.get(f"{edge.url}/x", headers={"host": "stale.example.test"}, timeout=5)
        assert stale.status_code == 421  # the other database's zone is gone
    assert snapshots_loaded(caplog) == 1  # not a replay of the log from its first record
