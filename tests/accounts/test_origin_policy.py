"""Zone origins over HTTP: an origin the origin-address policy refuses is ``422 origin_not_allowed``
at creation and update, whatever its spelling or the name it hides behind, and domain-control
validation never tells an internal port's state.

These tests run without the loopback allowance the other tests' origins need (as a production
control plane does), except where a test opts in to show what the allowance does not open.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from staydown.config import Settings
from tests.conftest import Api, settings_for
from tests.dnsserver import LocalDnsServer
from tests.support import ChallengeOrigin, customer_body

PUBLIC = "93.184.215.14"  # a public address; no test connects to it


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


def new_customer(api: Api, name: str = "Origin Shop") -> int:
    customer: dict[str, Any] = api.as_("agent").post("/v1/customers", json=customer_body(name)).json()
    return int(customer["id"])


REFUSED = [
    ("http://127.0.0.1:8080", "the origin 127.0.0.1 is a loopback address"),
    ("http://10.0.0.5", "the origin 10.0.0.5 is a private address"),
    ("http://172.16.3.4:81/app", "the origin 172.16.3.4 is a private address"),
    ("http://192.168.1.1", "the origin 192.168.1.1 is a private address"),
    ("http://169.254.169.254/latest/meta-data", "the origin 169.254.169.254 is a link-local address"),
    ("http://0.0.0.0:8080", "the origin 0.0.0.0 is an unspecified (this network) address"),
    ("http://100.64.0.1", "the origin 100.64.0.1 is a shared (carrier-grade NAT) address"),
    ("http://198.18.0.1", "the origin 198.18.0.1 is a benchmarking address"),
    ("http://203.0.113.9", "the origin 203.0.113.9 is a documentation address"),
    ("http://224.0.0.1", "the origin 224.0.0.1 is a multicast address"),
    ("http://255.255.255.255", "the origin 255.255.255.255 is the broadcast address"),
    ("http://[::1]:8080", "the origin [::1] is the loopback address"),
    ("http://[::]", "the origin [::] is the unspecified address"),
    ("http://[fd00::5]", "the origin [fd00::5] is a private (unique local) address"),
    ("http://[fe80::1]", "the origin [fe80::1] is a link-local address"),
    ("http://[2001:db8::1]", "the origin [2001:db8::1] is a documentation address"),
    ("http://[::ffff:127.0.0.1]", "the origin [::ffff:7f00:1] is an IPv4-mapped address (of 127.0.0.1)"),
    ("http://[::ffff:8.8.8.8]", "the origin [::ffff:808:808] is an IPv4-mapped address (of 8.8.8.8)"),
    ("http://[::a9fe:a9fe]", "the origin [::a9fe:a9fe] is an IPv4-compatible address (of 169.254.169.254)"),
    ("http://[2002:7f00:1::]", "the origin [2002:7f00:1::] is a 6to4 address (of 127.0.0.1)"),
    ("http://[64:ff9b::a00:5]", "the origin [64:ff9b::a00:5] is a NAT64 address (of 10.0.0.5)"),
    (
        "http://[64:ff9b:1:7f00:0:100::]",
        "the origin [64:ff9b:1:7f00:0:100::] is a NAT64 address (of 127.0.0.1)",
    ),
    (
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]",
        "the origin [2001:0:4136:e378:8000:63bf:80ff:fffe] is a Teredo address (of 127.0.0.1)",
    ),
    ("http://2130706433:8080", "the origin 127.0.0.1 is a loopback address"),
    ("http://0177.0.0.1", "the origin 127.0.0.1 is a loopback address"),
    ("http://0x7f.1", "the origin 127.0.0.1 is a loopback address"),
    ("http://127.1", "the origin 127.0.0.1 is a loopback address"),
    ("http://0xA9.0376.0xa9fe", "the origin 169.254.169.254 is a link-local address"),
    ("https://167772165", "the origin 10.0.0.5 is a private address"),
    (
        "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11",
        "the origin 127.0.0.1 is a loopback address",
    ),  # fullwidth
    ("http://%31%32%37.0.0.1", "the origin 127.0.0.1 is a loopback address"),
]


def test_refused_origins_are_422_at_creation(api: Api) -> None:
    # One API for the whole table: what is checked is the request, not the database.
    customer_id = new_customer(api)
    for origin, message in REFUSED:
        r = api.as_("agent").post(
            "/v1/zones", json={"customer_id": customer_id, "hostname": "shop.example.com", "origin": origin}
        )
        assert r.status_code == 422, (origin, r.text)
        assert r.json()["error"]["code"] == "origin_not_allowed", origin
        assert r.json()["error"]["message"] == message, origin


def test_refused_origins_are_422_at_update(api: Api) -> None:
    agent = api.as_("agent")
    created = agent.post(
        "/v1/zones",
        json={"customer_id": new_customer(api), "hostname": "shop.example.com", "origin": f"http://{PUBLIC}"},
    )
    assert created.status_code == 201, created.text
    zone_id = created.json()["id"]
    for origin, message in REFUSED:
        r = agent.patch(f"/v1/zones/{zone_id}", json={"origin": origin})
        assert r.status_code == 422, (origin, r.text)
        assert r.json()["error"] == {"code": "origin_not_allowed", "message": message, "details": None}
    assert agent.get(f"/v1/zones/{zone_id}").json()["origin"] == f"http://{PUBLIC}"
    moved = agent.patch(f"/v1/zones/{zone_id}", json={"origin": "https://www.example.com:8443/"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["origin"] == "https://www.example.com:8443"
    feed = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["records"]
    assert [r["origin"] for r in feed if r["kind"] == "zone"][-1] == "https://www.example.com:8443"


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (["127.0.0.1"], "(a loopback address)"),
        (["10.0.0.7", "10.0.0.8"], "(a private address)"),
        (["::1"], "(the loopback address)"),
        (["169.254.169.254", "fd00::1"], "(a link-local address; a private (unique local) address)"),
    ],
)
def test_a_host_name_resolving_only_to_refused_addresses_is_refused(
    api: Api, dns: LocalDnsServer, answer: list[str], shown: str
) -> None:
    dns.set_addresses("inward.example.net", *answer)
    r = api.as_("agent").post(
        "/v1/zones",
        json={
            "customer_id": new_customer(api),
            "hostname": "shop.example.com",
            "origin": "http://Inward.Example.NET:8080",
        },
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "origin_not_allowed"
    assert error["message"] == (
        f"the origin host inward.example.net resolves only to addresses that are not allowed {shown}"
    )
    for address in answer:  # what the service's resolver answers is not shown
        assert address not in error["message"]


def test_public_origins_and_names_not_resolving_yet_are_accepted(api: Api, dns: LocalDnsServer) -> None:
    agent = api.as_("agent")
    customer_id = new_customer(api)
    dns.set_addresses("public.example.net", PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    dns.set_addresses("mixed.example.net", "127.0.0.1", PUBLIC)  # only the public one is ever used
    for index, origin in enumerate(
        [
            f"http://{PUBLIC}",
            "https://public.example.net",
            "http://mixed.example.net",
            "http://later.example.net",
        ]
    ):
        r = agent.post(
            "/v1/zones",
            json={"customer_id": customer_id, "hostname": f"s{index}.example.com", "origin": origin},
        )
        assert r.status_code == 201, (origin, r.text)
        assert r.json()["status"] == "pending"


@pytest.mark.parametrize("allow", [["127.0.0.0/8"]])
def test_the_allowance_opens_its_networks_but_never_the_control_plane(api: Api) -> None:
    agent = api.as_("agent")
    customer_id = new_customer(api)
    port = int(api.url.rsplit(":", 1)[1])
    ok = agent.post(
        "/v1/zones",
        json={"customer_id": customer_id, "hostname": "a.example.com", "origin": "http://127.0.0.1:9"},
    )
    assert ok.status_code == 201, ok.text
    for origin in (api.url, f"http://2130706433:{port}", f"http://127.1:{port}/v1"):
        r = agent.post(
            "/v1/zones", json={"customer_id": customer_id, "hostname": "b.example.com", "origin": origin}
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"] == {
            "code": "origin_not_allowed",
            "message": f"the origin 127.0.0.1:{port} is an address of the staydown service itself",
            "details": None,
        }
    mapped = agent.post(
        "/v1/zones",
        json={"customer_id": customer_id, "hostname": "c.example.com", "origin": "http://[::ffff:127.0.0.1]"},
    )
    assert mapped.status_code == 422  # allowing 127.0.0.0/8 does not allow its IPv6 forms


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_validation_is_not_a_port_or_status_oracle(api: Api, dns: LocalDnsServer) -> None:
    """Zones created while their origin's name was public; the name now points at loopback. The
    open port is never asked, and both answers are the same sentence."""
    agent = api.as_("agent")
    customer_id = new_customer(api)
    dns.set_addresses("moving.example.net", PUBLIC)
    with ChallengeOrigin() as listening:
        open_port = int(listening.url.rsplit(":", 1)[1])
        zones = []
        for index, port in enumerate([open_port, _closed_port()]):
            r = agent.post(
                "/v1/zones",
                json={
                    "customer_id": customer_id,
                    "hostname": f"moving{index}.example.com",
                    "origin": f"http://moving.example.net:{port}",
                },
            )
            assert r.status_code == 201, r.text
            zones.append(r.json())
            listening.files[r.json()["challenge"]["http_path"]] = r.json()["challenge"]["token"]
        dns.set_addresses("moving.example.net", "127.0.0.1")
        details = []
        for zone in zones:
            validated = agent.post(f"/v1/zones/{zone['id']}/validate", json={"method": "http"}).json()
            assert validated["validation"]["ok"] is False
            assert validated["status"] == "pending"
            details.append(validated["validation"]["detail"])
        assert listening.requests == []
    assert (
        details[0]
        == details[1]
        == (
            "not checked: the origin host moving.example.net resolves only to addresses that are not allowed "
            "(a loopback address)"
        )
    )
