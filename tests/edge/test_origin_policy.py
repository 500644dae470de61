"""The edge over real sockets never connects to an origin the origin-address policy refuses: not
when a zone's name turns to loopback after it was created, not to the control plane, not through
an odd spelling or an IPv6 form of an allowed address. It answers 502 and says nothing more."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from staydown.accounts import service as accounts
from staydown.config import Settings
from staydown.edge.main import EdgeOptions, origin_guard
from staydown.edge.server import EdgeConfig
from staydown.netguard import OriginAccess, OriginRefused
from staydown.netpolicy import OriginPolicy, parse_networks
from tests.conftest import Api, settings_for
from tests.dnsserver import LocalDnsServer
from tests.edge.harness import EdgeThread, Route, ScriptedOrigin, eventually, get
from tests.support import customer_body

PUBLIC = "93.184.215.14"  # a public address; nothing connects to it


@pytest.fixture
def allow() -> list[str]:
    return []


@pytest.fixture
def settings(tmp_path: Path, database_url: str, dns: LocalDnsServer, allow: list[str]) -> Settings:
    return settings_for(
        tmp_path,
        database_url,
        dns,
        origin_allow=allow,
    )


def active_zone(api: Api, hostname: str, origin: str, *, stored_origin: str | None = None) -> dict[str, Any]:
    """A live zone created over the API on ``origin``; ``stored_origin`` replaces it in the database
    (a zone stored before the origin policy existed). Domain control is taken as proven."""
    agent = api.as_("agent")
    customer = agent.post("/v1/customers", json=customer_body(hostname.split(".", maxsplit=1)[0])).json()
    agent.post(
        f"/v1/customers/{customer['id']}/verification/decision", json={"level": "identity", "reason": "ok"}
    )
    created = agent.post(
        "/v1/zones", json={"customer_id": customer["id"], "hostname": hostname, "origin": origin}
    )
    assert created.status_code == 201, created.text
    with api.database.transaction() as session:
        zone = accounts.get_zone(session, created.json()["id"])
        assert zone is not None
        if stored_origin is not None:
            zone.origin = stored_origin
        zone.dcv_verified_at = api.clock()
        assert accounts.try_activate(
            session, zone, now=api.clock(), actor="test", min_level=api.settings.min_verification_level
        )
    return dict(created.json())


def served(edge: EdgeThread, path: str, host: str) -> httpx.Response:
    """The edge's answer once it has the zone from the feed (421 until then)."""
    eventually(lambda: get(edge, "/", host=host).status_code != 421)
    return get(edge, path, host=host)


def assert_says_nothing(response: httpx.Response, *secrets: str) -> None:
    assert response.status_code == 502
    assert response.text == "The origin could not be reached.\n"
    for secret in secrets:
        assert secret not in response.text and secret not in str(response.headers)


def test_a_zone_whose_name_turns_to_loopback_is_never_connected(
    api: Api, dns: LocalDnsServer, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    port = origin.url.rsplit(":", 1)[1]
    origin.routes["/secret"] = Route(b"internal data")
    dns.set_addresses("origin.example.net", PUBLIC)
    active_zone(api, "turned.example.com", f"http://origin.example.net:{port}")
    dns.set_addresses("origin.example.net", "127.0.0.1")  # rebinding: the name now points inward
    edge = edge_factory()
    for path in ("/secret", "/", "/secret?again"):
        assert_says_nothing(served(edge, path, "turned.example.com"), "127.0.0.1", port, "internal")
    assert origin.seen == []


@pytest.mark.parametrize("allow", [["127.0.0.0/8"]])
def test_the_control_plane_is_never_reached_through_the_edge(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    api_port = api.url.rsplit(":", 1)[1]
    origin.routes["/ok"] = Route(b"allowed origin")
    active_zone(api, "allowed.example.com", origin.url)
    for index, stored in enumerate([api.url, f"http://2130706433:{api_port}", f"http://0x7f.1:{api_port}"]):
        active_zone(api, f"inward{index}.example.com", "http://127.0.0.1:9", stored_origin=stored)
    edge = edge_factory()
    assert served(edge, "/ok", "allowed.example.com").text == "allowed origin"  # loopback is allowed here
    for index in range(3):
        for path in ("/openapi.json", "/metrics", "/v1/edge/feed"):
            assert_says_nothing(served(edge, path, f"inward{index}.example.com"), "openapi", api_port)


@pytest.mark.parametrize("allow", [["127.0.0.0/8"]])
def test_ipv6_forms_of_an_allowed_address_are_refused_at_the_edge(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    port = origin.url.rsplit(":", 1)[1]
    origin.routes["/secret"] = Route(b"internal data")
    active_zone(
        api, "mapped.example.com", "http://127.0.0.1:9", stored_origin=f"http://[::ffff:127.0.0.1]:{port}"
    )
    edge = edge_factory()
    assert_says_nothing(served(edge, "/secret", "mapped.example.com"), "internal", port)
    assert origin.seen == []


def test_an_edge_worker_refuses_its_own_and_its_control_plane_s_endpoints(tmp_path: Path) -> None:
    options = EdgeOptions(
        host="localhost",
        port=8000,
        control_plane="http://localhost:8080",
        key="sd_unused",
        data_dir=tmp_path,
        config=EdgeConfig(),
        admin_port=9000,
        origins=OriginAccess(OriginPolicy(allow=parse_networks(["127.0.0.0/8"]))),
    )
    guard = origin_guard(options, 1, metrics_port=9002)
    for port in (8000, 8080, 9000, 9002):  # visitors, control plane, metrics, worker 1's metrics
        with pytest.raises(OriginRefused, match="an address of the staydown service itself"):
            guard.addresses("127.0.0.1", port)
    assert [str(a) for a in guard.addresses("127.0.0.1", 8001)] == ["127.0.0.1"]
