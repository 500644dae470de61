"""Certificates ordered from a real ACME server (Pebble): HTTP-01 and TLS-ALPN-01 answered through
the feed by an edge, renewal at two thirds of the lifetime, retry with back-off, an uploaded
certificate replacing the ACME one, and several worker processes never ordering twice."""

from __future__ import annotations

import base64
import logging
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from staydown import certseal
from staydown.api.app import create_app
from staydown.certificates import service as certificates
from staydown.certificates.metrics import CertificatesCollector
from staydown.certificates.models import Certificate, CertificateOrder, OrderStatus
from staydown.certificates.ordering import ACCOUNT_KEY_FILE
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.types import system_clock
from tests.certificates.acmesupport import PEBBLE, ChallengeEdge, Pebble, running_pebble
from tests.certificates.factories import chain
from tests.conftest import Api, ServerThread, make_keys, settings_for
from tests.dnsserver import LocalDnsServer
from tests.processes import STAYDOWN, eventually
from tests.support import active_zone

pytestmark = pytest.mark.skipif(not Path(PEBBLE).exists(), reason="Pebble is not installed (Debian: pebble)")


@pytest.fixture
def pebble(tmp_path: Path) -> Iterator[Pebble]:
    with running_pebble(tmp_path / "pebble") as server:
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
        acme_edge_wait_seconds=3,
        acme_retry_base_seconds=60,
    )


def edge_for(api: Api, pebble: Pebble) -> ChallengeEdge:
    return ChallengeEdge(
        api_url=api.url,
        key=api.keys["edge"],
        secret=api.settings.cert_seal_secret(),
        http_port=pebble.http_port,
        tls_port=pebble.tls_port,
    )


def feed(api: Api, kind: str) -> list[dict[str, Any]]:
    records = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["records"]
    return [r for r in records if r["kind"] == kind]


def order(api: Api, settings: Settings | None = None, *, now: datetime | None = None) -> int:
    return certificates.run_orders(
        api.database,
        now=now or datetime.now(UTC),
        settings=settings or api.settings,
        claimant="test-worker",
        clock=api.clock,
    )


def issued_by_pebble(chain_pem: str, pebble: Pebble) -> x509.Certificate:
    certs = x509.load_pem_x509_certificates(chain_pem.encode())
    for child, parent in zip(certs, [*certs[1:], *pebble.roots()], strict=False):
        child.verify_directly_issued_by(parent)
    return certs[0]


def test_a_live_zone_is_served_a_certificate_ordered_over_http_01_through_the_edge(
    api: Api, pebble: Pebble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    zone = active_zone(api, "shop.example.com")
    with edge_for(api, pebble) as edge:
        assert order(api) == 1
        eventually(lambda: not edge.http, "the edge never dropped the answered challenge", timeout=10)
    assert ("http-01", "shop.example.com") in edge.asked
    (challenge,) = feed(api, "challenge_set")
    assert challenge["challenge_type"] == "http-01" and challenge["hostname"] == "shop.example.com"
    assert [(r["hostname"], r["token"]) for r in feed(api, "challenge_remove")] == [
        ("shop.example.com", challenge["token"])
    ]
    state = api.as_("agent").get(f"/v1/zones/{zone['zone_id']}/certificate").json()
    served = state["certificate"]
    assert served["source"] == "acme" and served["hostnames"] == ["shop.example.com"]
    assert "Pebble" in served["issuer"]
    not_before, not_after = (datetime.fromisoformat(served[k]) for k in ("not_before", "not_after"))
    assert state["order"]["purpose"] == "renew"
    assert datetime.fromisoformat(state["order"]["due_at"]) == not_before + (not_after - not_before) * 2 / 3
    (record,) = feed(api, "cert_set")
    leaf = issued_by_pebble(record["chain_pem"], pebble)
    key = certseal.unseal(
        record["key_sealed"],
        secret=api.settings.cert_seal_secret(),
        zone_id=zone["zone_id"],
        cert_id=served["id"],
    )
    assert same_key(leaf, key)
    assert "PRIVATE KEY" not in caplog.text
    # Only the secret itself is looked for: the key's PEM also carries its public point, which the
    # certificate request and the certificate show (in other encodings) without anything leaking.
    assert not any(form in caplog.text for form in secret_forms(key))
    account = api.settings.data_dir / ACCOUNT_KEY_FILE
    assert stat.S_IMODE(account.stat().st_mode) == 0o600


def secret_forms(key_pem: bytes) -> list[str]:
    """The private value of a key as a log could show it: its PEM's first line (header and the
    value's first bytes), the value in hex, and the start of its base64 and base64url (a P-256 key's
    value begins on a 3-byte boundary of its DER, within the PEM's first line)."""
    numbers = serialization.load_pem_private_key(key_pem, None).private_numbers()  # type: ignore[union-attr]
    if hasattr(numbers, "private_value"):  # EC: the value is as wide as the curve
        value, bits = numbers.private_value, numbers.public_numbers.curve.key_size
    else:  # RSA: the private exponent, as wide as the modulus
        value, bits = numbers.d, numbers.public_numbers.n.bit_length()
    raw = value.to_bytes((bits + 7) // 8, "big")
    first_line = key_pem.decode().splitlines()[1]
    return [
        first_line,
        raw.hex(),
        base64.b64encode(raw).decode()[:16],
        base64.urlsafe_b64encode(raw).decode()[:16],
    ]


def same_key(leaf: x509.Certificate, key_pem: bytes) -> bool:
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    key = serialization.load_pem_private_key(key_pem, password=None)
    return key.public_key().public_bytes(der, spki) == leaf.public_key().public_bytes(der, spki)


def test_renewal_at_two_thirds_of_the_lifetime_replaces_the_certificate(api: Api, pebble: Pebble) -> None:
    zone = active_zone(api, "shop.example.com")
    with edge_for(api, pebble):
        assert order(api) == 1
        first = api.as_("agent").get(f"/v1/zones/{zone['zone_id']}/certificate").json()
        renew_at = datetime.fromisoformat(first["order"]["due_at"])
        assert order(api, now=renew_at - timedelta(minutes=1)) == 0  # not due yet
        assert order(api, now=renew_at + timedelta(minutes=1)) == 1
    second = api.as_("agent").get(f"/v1/zones/{zone['zone_id']}/certificate").json()
    assert second["certificate"]["id"] != first["certificate"]["id"]
    assert second["certificate"]["serial"] != first["certificate"]["serial"]
    assert second["order"]["purpose"] == "renew"
    assert [r["cert_id"] for r in feed(api, "cert_set")] == [
        first["certificate"]["id"],
        second["certificate"]["id"],
    ]
    assert len(feed(api, "challenge_set")) == 2  # validated again (Pebble reuses no authorization here)
    with api.database.reader() as session:
        old = session.get(Certificate, first["certificate"]["id"])
        assert old is not None and old.status.value == "replaced"


def test_tls_alpn_01_is_answered_with_the_rfc_8737_certificate(api: Api, pebble: Pebble) -> None:
    zone = active_zone(api, "shop.example.com")
    only_tls = api.settings.model_copy(update={"acme_challenges": ["tls-alpn-01"]})
    with edge_for(api, pebble) as edge:
        assert order(api, only_tls) == 1
    assert ("tls-alpn-01", "shop.example.com") in edge.asked
    assert not any(kind == "http-01" for kind, _host in edge.asked)
    (challenge,) = feed(api, "challenge_set")
    assert challenge["challenge_type"] == "tls-alpn-01" and "BEGIN CERTIFICATE" in challenge["chain_pem"]
    assert "PRIVATE KEY" not in challenge["key_sealed"]
    served = api.as_("agent").get(f"/v1/zones/{zone['zone_id']}/certificate").json()["certificate"]
    assert served["source"] == "acme"


def test_a_failed_order_is_retried_with_back_off_and_alerts_until_it_succeeds(
    api: Api, pebble: Pebble
) -> None:
    zone = active_zone(api, "shop.example.com")
    now = datetime.now(UTC)
    assert order(api, now=now) == 1  # no edge answers: nobody applied the challenge
    state = api.as_("agent").get(f"/v1/zones/{zone['zone_id']}/certificate").json()
    assert state["certificate"] is None
    assert state["order"]["attempts"] == 1 and "no edge applied the challenge" in state["order"]["last_error"]
    assert datetime.fromisoformat(state["order"]["due_at"]) == now + timedelta(seconds=60)
    assert len(feed(api, "challenge_remove")) == 1  # withdrawn although it failed
    gauges = {m.name: m for m in CertificatesCollector(api.database, api.clock, api.settings).collect()}
    assert gauges["staydown_certificate_orders_failing"].samples[0].value == 1
    assert order(api, now=now + timedelta(seconds=59)) == 0
    assert order(api, now=now + timedelta(seconds=61)) == 1  # still nobody: twice as long
    state = api.as_("agent").get(f"/v1/zones/{zone['zone_id']}/certificate").json()
    assert datetime.fromisoformat(state["order"]["due_at"]) == now + timedelta(seconds=61 + 120)
    with edge_for(api, pebble):
        assert order(api, now=now + timedelta(seconds=182)) == 1
    state = api.as_("agent").get(f"/v1/zones/{zone['zone_id']}/certificate").json()
    assert state["certificate"]["source"] == "acme" and state["order"]["attempts"] == 0
    gauges = {m.name: m for m in CertificatesCollector(api.database, api.clock, api.settings).collect()}
    assert gauges["staydown_certificate_orders_failing"].samples[0].value == 0


def test_an_uploaded_certificate_replaces_the_acme_one_and_acme_stops_renewing(
    api: Api, pebble: Pebble
) -> None:
    zone = active_zone(api, "shop.example.com")
    with edge_for(api, pebble):
        assert order(api) == 1
    acme_cert = api.as_("agent").get(f"/v1/zones/{zone['zone_id']}/certificate").json()["certificate"]
    made = chain(["shop.example.com"], now=api.clock())
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"
    r = customer.post(
        f"/v1/zones/{zone['zone_id']}/certificate",
        json={"certificate": made.pem().decode(), "private_key": made.key().decode()},
    )
    assert r.status_code == 201, r.text
    assert r.json()["certificate"]["source"] == "upload" and r.json()["order"] is None
    assert [(c["cert_id"], c["source"]) for c in feed(api, "cert_set")] == [
        (acme_cert["id"], "acme"),
        (r.json()["certificate"]["id"], "upload"),
    ]
    assert order(api, now=datetime.now(UTC) + timedelta(days=5 * 365)) == 0
    with api.database.reader() as session:
        statuses = sorted(o.status.value for o in session.scalars(select(CertificateOrder)))
    assert statuses == ["cancelled", "done"]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_worker_processes_order_each_certificate_once(
    database: Database, settings: Settings, pebble: Pebble, tmp_path: Path
) -> None:
    app = create_app(settings, database, clock=system_clock)
    keys = make_keys(database, system_clock)
    with ServerThread(app) as server:
        app.state.origin_guard.serving(*server.sock.getsockname()[:2])
        api = Api(server.url, keys, database, system_clock, settings)  # type: ignore[arg-type]
        try:
            run_workers(api, pebble, tmp_path)
        finally:
            api.close()


def run_workers(api: Api, pebble: Pebble, tmp_path: Path) -> None:
    """Three ``staydown worker`` processes and three zones waiting for a certificate each."""
    database, settings = api.database, api.settings
    zones = [active_zone(api, f"shop{n}.example.com", name=f"Shop {n}") for n in range(3)]
    env = {
        **os.environ,
        "STAYDOWN_DATA_DIR": str(settings.data_dir),
        "STAYDOWN_DATABASE_URL": settings.resolved_database_url,
        "STAYDOWN_ACME_DIRECTORY": pebble.directory,
        "STAYDOWN_ACME_CA_BUNDLE": str(pebble.ca_bundle),
        "STAYDOWN_ACME_EDGE_WAIT_SECONDS": "20",
    }
    settings.cert_seal_secret()  # made once in the data directory, shared by the workers
    workers = []
    logs = []
    try:
        with edge_for(api, pebble):
            for n in range(3):
                log = (tmp_path / f"worker{n}.log").open("w")
                logs.append(log)
                workers.append(
                    subprocess.Popen([*STAYDOWN, "worker"], stdout=log, stderr=subprocess.STDOUT, env=env)
                )

            def all_served() -> bool:
                with database.reader() as session:
                    return (session.scalar(select(func.count()).select_from(Certificate)) or 0) >= len(zones)

            eventually(all_served, "the workers did not obtain every certificate", timeout=90)
            time.sleep(2)  # a second order for the same zone would show by now
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(15)
        for log in logs:
            log.close()
    with database.reader() as session:
        certs = session.scalars(select(Certificate)).all()
        orders = session.scalars(select(CertificateOrder).where(CertificateOrder.purpose == "issue")).all()
    assert sorted(c.zone_id for c in certs) == sorted(z["zone_id"] for z in zones)
    assert [o.status for o in orders] == [OrderStatus.done] * len(zones)
    assert sorted(r["hostname"] for r in feed(api, "challenge_set")) == [
        f"shop{n}.example.com" for n in range(3)
    ]
    outputs = "".join((tmp_path / f"worker{n}.log").read_text() for n in range(3))
    assert "PRIVATE KEY" not in outputs
