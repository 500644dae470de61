"""ACME end to end through a real edge: ``staydown edge`` follows the feed, a zone goes live, the
control plane orders from Pebble, Pebble resolves the zone's name with a local DNS server and asks
the HTTP-01 challenge on the edge's own HTTP port, the issued certificate travels to the edge as a
feed record and is served by SNI; a renewal then replaces it on the wire."""

from __future__ import annotations

import base64
import re
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from staydown.certificates import service as certificates
from staydown.config import Settings
from tests.certificates.acmesupport import PEBBLE, Pebble, free_port, running_pebble
from tests.conftest import Api, settings_for
from tests.dnsserver import LocalDnsServer
from tests.processes import Staydown, eventually
from tests.support import active_zone

pytestmark = [
    pytest.mark.skipif(not Path(PEBBLE).exists(), reason="Pebble is not installed (Debian: pebble)"),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),  # processes, not the database
]

HOST = "shop.example.com"


@pytest.fixture
def pebble(tmp_path: Path, dns: LocalDnsServer) -> Iterator[Pebble]:
    with running_pebble(tmp_path / "pebble", nameserver=dns.nameserver) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, database_url: str, dns: LocalDnsServer, pebble: Pebble) -> Settings:
    return settings_for(
        tmp_path,
        database_url,
        dns,
        acme_directory=pebble.directory,
        acme_ca_bundle=pebble.ca_bundle,
        acme_email="certificates@provider.example",
        acme_edge_wait_seconds=20,  # a real edge process on a busy machine
        acme_retry_base_seconds=60,
    )


@pytest.fixture
def edge(api: Api, pebble: Pebble, tmp_path: Path) -> Iterator[Staydown]:
    """``staydown edge`` answering HTTP on the port Pebble validates HTTP-01 against, HTTPS on another."""
    key_file = tmp_path / "seal.key"
    key_file.write_text(base64.b64encode(api.settings.cert_seal_secret()).decode() + "\n")
    data_dir = tmp_path / "edge"
    data_dir.mkdir()
    process = Staydown(
        "edge", "--control-plane", api.url, "--key", api.keys["edge"],
        "--port", str(pebble.http_port), "--tls-port", str(free_port()), "--admin-port", "0",
        "--cert-seal-key-file", str(key_file),
        data_dir=data_dir,
    )  # fmt: skip
    try:
        yield process
    finally:
        process.cleanup()


def presented(port: int, trusted: ssl.SSLContext) -> x509.Certificate | None:
    """The certificate the edge presents for ``HOST``, verified against ``trusted``; None if refused."""
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            trusted.wrap_socket(raw, server_hostname=HOST) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    return x509.load_der_x509_certificate(der) if der else None


def answered_challenges(metrics: str) -> float:
    text = httpx.get(metrics, timeout=10).text
    found = re.findall(r'staydown_edge_responses_total\{outcome="acme_challenge",worker="\d+"\} (\S+)', text)
    return sum(float(value) for value in found)


def order(api: Api, now: datetime) -> int:
    return certificates.run_orders(
        api.database, now=now, settings=api.settings, claimant="test-worker", clock=api.clock
    )


def test_the_real_edge_answers_http_01_then_serves_and_renews_the_pebble_certificate(
    api: Api, pebble: Pebble, dns: LocalDnsServer, edge: Staydown
) -> None:
    tls_port = int(edge.printed(r"edge serving https://127\.0\.0\.1:(\d+)").group(1))
    metrics = edge.printed(r"metrics\s+(http://127\.0\.0\.1:\d+/metrics)").group(1)
    dns.set_addresses(HOST, "127.0.0.1")  # the zone's name leads Pebble to the edge, and only it
    roots = pebble.roots()
    trusted = ssl.create_default_context(
        cadata="".join(r.public_bytes(serialization.Encoding.PEM).decode() for r in roots)
    )
    zone = active_zone(api, HOST)
    assert presented(tls_port, trusted) is None  # nothing to serve before the order

    now = datetime.now(UTC)
    assert order(api, now) == 1
    first = api.as_("agent").get(f"/v1/zones/{zone['zone_id']}/certificate").json()
    assert first["certificate"] is not None, first["order"]
    assert first["certificate"]["source"] == "acme" and "Pebble" in first["certificate"]["issuer"]
    assert (HOST, "A") in dns.queries  # Pebble found the edge by the zone's name
    assert answered_challenges(metrics) >= 1  # and the edge answered it (nobody else on that port)

    def serving(serial: str) -> bool:
        leaf = presented(tls_port, trusted)
        return leaf is not None and format(leaf.serial_number, "x") == serial

    eventually(lambda: serving(first["certificate"]["serial"]), f"never served: {edge.output()}", timeout=30)
    leaf = presented(tls_port, trusted)
    assert leaf is not None
    assert HOST in leaf.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)

    renew_at = datetime.fromisoformat(first["order"]["due_at"])
    assert order(api, renew_at + timedelta(minutes=1)) == 1
    second = api.as_("agent").get(f"/v1/zones/{zone['zone_id']}/certificate").json()["certificate"]
    assert second["serial"] != first["certificate"]["serial"]
    eventually(lambda: serving(second["serial"]), f"renewal never served: {edge.output()}", timeout=30)
