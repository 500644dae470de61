"""Heartbeats of edges following NATS are vouched for by the edge's key: a revoked, unknown or
missing key shows the edge as refused, as a refused HTTP poll does."""

from __future__ import annotations

import json
import time
from pathlib import Path

from staydown.accounts.service import hash_key
from staydown.enforcement.heartbeats import HeartbeatKey, refusal
from staydown.feedrecords import StreamNames, heartbeat_key_id, heartbeat_signature, key_digest
from staydown.types import Role
from tests.conftest import Api
from tests.enforcement.test_relay import relay
from tests.fleet import Process, eventually, free_port, nats_env, nats_url, stream_names

__all__ = ["nats_url", "stream_names"]  # fixtures

SECRET = "sd_an-edge-key"


def signed(report: dict[str, object], secret: str = SECRET) -> tuple[bytes, str]:
    body = json.dumps(report).encode()
    return body, heartbeat_signature(key_digest(secret), body)


def test_only_a_fresh_heartbeat_signed_with_a_live_edge_key_is_accepted() -> None:
    assert key_digest(SECRET) == hash_key(SECRET)  # the digest the control plane keeps
    assert heartbeat_key_id(key_digest(SECRET)) != heartbeat_key_id(key_digest(SECRET + "x"))
    edge_key = HeartbeatKey(3, key_digest(SECRET), Role.edge, revoked=False)
    now = time.time()
    report = {"edge": "pop-1/0", "seq": 5, "at": now, "key": heartbeat_key_id(edge_key.digest)}
    body, signature = signed(report)

    def judged(key: HeartbeatKey | None = edge_key, **changes: object) -> int | None:
        sent = report | changes
        data, sig = signed(sent) if changes else (body, signature)
        return refusal(sent, data, sig, key, now=now, window=60)

    assert judged() is None
    assert judged(seq=6) is None  # re-signed: still fine
    assert refusal(report, body.replace(b"5", b"9"), signature, edge_key, now=now, window=60) == 401
    assert refusal(report, body, None, edge_key, now=now, window=60) == 401  # unsigned
    assert judged(key=None) == 401  # unknown key
    assert judged(key=HeartbeatKey(3, edge_key.digest, Role.edge, revoked=True)) == 401
    assert judged(key=HeartbeatKey(4, edge_key.digest, Role.agent, revoked=False)) == 403
    assert judged(at=now - 61) == 401  # a replay of an old heartbeat
    other = HeartbeatKey(5, key_digest("sd_another"), Role.edge, revoked=False)
    assert judged(key=other) == 401  # signed with another key than the one it names


def nats_edge(api: Api, url: str, names: StreamNames, data_dir: Path, *, key: str, name: str) -> Process:
    return Process(
        "edge",
        "--nats",
        url,
        "--control-plane",
        api.url,
        "--key",
        key,
        "--port",
        str(free_port()),
        data_dir=data_dir,
        env={**nats_env(names), "STAYDOWN_EDGE_ID": name, "STAYDOWN_EDGE_HEARTBEAT_SECONDS": "1"},
    )


def edge_states(api: Api) -> dict[str, tuple[str, int | None]]:
    answer = api.as_("agent").get("/v1/edges")
    assert answer.status_code == 200, answer.text
    return {edge["id"]: (edge["state"], edge["refused_status"]) for edge in answer.json()}


def test_an_edge_on_nats_whose_key_is_revoked_or_unknown_shows_as_refused(
    api: Api, tmp_path: Path, nats_url: str, stream_names: StreamNames
) -> None:
    key = api.as_("admin").post("/v1/keys", json={"role": "edge", "name": "pop-7"}).json()
    alert = api.settings.edge_lag_alert_seconds
    with (
        relay(api.settings.resolved_database_url, nats_url, stream_names, tmp_path / "relay"),
        nats_edge(api, nats_url, stream_names, tmp_path / "a", key=key["key"], name="pop-7"),
        nats_edge(api, nats_url, stream_names, tmp_path / "b", key="sd_made-up-key", name="pop-8"),
    ):
        eventually(lambda: edge_states(api).get("pop-7/0") == ("ok", None), timeout=60, what="pop-7 ok")
        eventually(
            lambda: edge_states(api).get("pop-8/0") == ("refused", 401), timeout=alert, what="unknown key"
        )
        assert api.as_("admin").delete(f"/v1/keys/{key['id']}").status_code == 204
        revoked = time.monotonic()
        eventually(
            lambda: edge_states(api).get("pop-7/0") == ("refused", 401), timeout=alert, what="revoked key"
        )
        assert time.monotonic() - revoked < alert
