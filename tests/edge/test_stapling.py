"""OCSP stapling end to end, over real sockets: a customer uploads a certificate whose Authority
Information Access names a real responder (``openssl ocsp`` on loopback), the worker fetches and
checks its response and publishes it, and the edge staples it to handshakes that ask
(``openssl s_client -status``), never to those that do not, never past its nextUpdate, and never
a revoked status; a responder the origin policy does not allow is not contacted."""

from __future__ import annotations

import base64
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import func, select

from staydown import worker
from staydown.certificates import ocsp as ocsp_state
from staydown.certificates import service as certificates
from staydown.certificates.metrics import CertificatesCollector
from staydown.certificates.models import Certificate
from staydown.enforcement.models import Timer, TimerStatus
from staydown.feedrecords import FeedKind
from tests.certificates.ocspsupport import OcspCA, Responder
from tests.conftest import Api, Clock
from tests.desk.support import DeskClient
from tests.edge.harness import HOST, EdgeThread, ScriptedOrigin, eventually, live_zone
from tests.edge.pki import publish


@pytest.fixture
def now(clock: Clock) -> datetime:
    """The tests' clock on the real time: the responder signs with the machine's clock."""
    clock.now = datetime.now(UTC).replace(microsecond=0)
    return clock.now


@pytest.fixture
def ca(now: datetime) -> OcspCA:
    return OcspCA(now)


@pytest.fixture
def responder(ca: OcspCA, tmp_path: Path) -> Iterator[Responder]:
    with Responder(ca, tmp_path / "responder") as started:
        yield started


def s_client(edge: EdgeThread, *options: str, server_name: str = HOST) -> str:
    """What ``openssl s_client`` prints of one handshake with the edge."""
    finished = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"127.0.0.1:{edge.tls_port}",
            "-servername",
            server_name,
            *options,
        ],
        input=b"",
        capture_output=True,
        timeout=20,
        check=False,
    )
    return finished.stdout.decode("utf-8", "replace") + finished.stderr.decode("utf-8", "replace")


def upload(api: Api, zone_id: int, chain: str, key: str) -> dict[str, Any]:
    answer = api.as_("agent").post(
        f"/v1/zones/{zone_id}/certificate", json={"certificate": chain, "private_key": key}
    )
    assert answer.status_code == 201, answer.text
    certificate: dict[str, Any] = answer.json()["certificate"]
    return certificate


def run_worker_timers(api: Api, **settings: Any) -> int:
    """What the worker's loop does for due timers (OCSP fetches among them)."""
    return worker.run_timers(
        api.database, as_of=api.clock(), settings=api.settings.model_copy(update=settings)
    )


def staple_of(api: Api, zone_id: int) -> dict[str, Any] | None:
    certificate = api.as_("agent").get(f"/v1/zones/{zone_id}/certificate").json()["certificate"]
    staple: dict[str, Any] | None = certificate["ocsp"]
    return staple


def alerts_of(api: Api, zone_id: int) -> list[str]:
    alerts: list[str] = (
        api.as_("agent").get(f"/v1/zones/{zone_id}/certificate").json()["certificate"]["alerts"]
    )
    return alerts


def cert_sets(api: Api) -> list[dict[str, Any]]:
    records = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["records"]
    return [r for r in records if r["kind"] == "cert_set"]


def metric(api: Api, line: str) -> bool:
    registry = CollectorRegistry()
    registry.register(CertificatesCollector(api.database, api.clock, api.settings))
    return line in generate_latest(registry).decode()


def stapled_count(edge: EdgeThread) -> int:
    """The handshakes the edge worker stapled, from its metrics."""
    text = httpx.get(edge.metrics_url, timeout=5).text
    found = re.search(r'staydown_edge_responses_total\{[^}]*outcome="tls_ocsp_stapled"[^}]*\} (\S+)', text)
    return int(float(found.group(1))) if found else 0


def stapled(output: str) -> bool:
    return "OCSP Response Status: successful" in output and "Cert Status: good" in output


def test_a_certificate_naming_a_responder_is_stapled_to_clients_that_ask(
    api: Api,
    origin: ScriptedOrigin,
    ca: OcspCA,
    responder: Responder,
    tls_edge: Callable[[], EdgeThread],
    now: datetime,
) -> None:
    zone = live_zone(api, origin)
    leaf, chain, key = ca.server([HOST], responder.url)
    responder.know(leaf.cert)
    certificate = upload(api, zone["zone_id"], chain, key)
    assert certificate["ocsp"] == {
        "url": responder.url,
        "status": "pending",
        "this_update": None,
        "next_update": None,
        "refresh_at": certificate["ocsp"]["refresh_at"],
        "checked_at": None,
        "failures": 0,
        "last_error": None,
        "revoked_at": None,
    }
    assert run_worker_timers(api) >= 1
    staple = staple_of(api, zone["zone_id"])
    assert staple is not None and staple["status"] == "good", staple
    next_update = datetime.fromisoformat(staple["next_update"])
    this_update = datetime.fromisoformat(staple["this_update"])
    assert timedelta(minutes=59) <= next_update - now <= timedelta(minutes=61)
    # Fetched again half-way through the response's validity.
    assert datetime.fromisoformat(staple["refresh_at"]) == this_update + (next_update - this_update) / 2
    assert alerts_of(api, zone["zone_id"]) == []
    assert 'good <span class="muted">(until ' in desk_page(api)
    assert metric(api, f'staydown_certificate_staple_seconds{{zone="{zone["zone_id"]}"}}')
    stapled_record = cert_sets(api)[-1]
    assert stapled_record["cert_id"] == certificate["id"] and stapled_record["ocsp_der_b64"]

    edge = tls_edge()
    eventually(lambda: "Verification" in s_client(edge), timeout=10)
    for version in ("-tls1_2", "-tls1_3"):
        output = s_client(edge, "-status", version)
        assert stapled(output), output
    # A client that does not ask is given no status: the server's hello acknowledges none.
    asking = s_client(edge, "-status", "-tlsextdebug", "-tls1_2")
    assert 'TLS server extension "status request"' in asking
    before = stapled_count(edge)
    assert before >= 3
    silent = s_client(edge, "-tlsextdebug", "-tls1_2")
    assert "TLS server extension" in silent and "status request" not in silent
    assert "OCSP Response" not in s_client(edge, "-tls1_3")
    assert stapled_count(edge) == before

    # Half-way through, the worker fetches a new one and the edge staples that one.
    api.clock.advance(minutes=31)
    assert run_worker_timers(api) >= 1
    renewed = staple_of(api, zone["zone_id"])
    assert renewed is not None and renewed["status"] == "good"
    assert renewed["this_update"] >= staple["this_update"]
    assert len([r for r in cert_sets(api) if r.get("ocsp_der_b64")]) == 2
    eventually(lambda: stapled(s_client(edge, "-status")), timeout=10)


def test_a_revoked_status_is_never_stapled_and_is_an_alert(
    api: Api,
    origin: ScriptedOrigin,
    ca: OcspCA,
    responder: Responder,
    tls_edge: Callable[[], EdgeThread],
    now: datetime,
) -> None:
    zone = live_zone(api, origin)
    leaf, chain, key = ca.server([HOST], responder.url)
    responder.know(leaf.cert)
    upload(api, zone["zone_id"], chain, key)
    run_worker_timers(api)
    edge = tls_edge()
    eventually(lambda: stapled(s_client(edge, "-status")), timeout=10)

    # The CA revokes it: the next fetch withdraws the good staple the edges hold.
    responder.know(leaf.cert, revoked_at=now - timedelta(minutes=1))
    api.clock.advance(minutes=31)
    run_worker_timers(api)
    staple = staple_of(api, zone["zone_id"])
    assert staple is not None and staple["status"] == "revoked" and staple["revoked_at"]
    assert staple["next_update"] is None
    assert "revoked" in alerts_of(api, zone["zone_id"])
    assert metric(api, 'staydown_certificate_alerts{alert="revoked"} 1.0')
    latest = cert_sets(api)[-1]
    assert latest.get("ocsp_der_b64") is None
    eventually(lambda: "OCSP response: no response sent" in s_client(edge, "-status"), timeout=10)
    # Every response ever published said good.
    for record in cert_sets(api):
        if record.get("ocsp_der_b64"):
            answer = ocsp.load_der_ocsp_response(base64.b64decode(record["ocsp_der_b64"]))
            assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD


def test_a_certificate_revoked_from_the_start_is_never_stapled(
    api: Api, origin: ScriptedOrigin, ca: OcspCA, responder: Responder, now: datetime
) -> None:
    zone = live_zone(api, origin)
    leaf, chain, key = ca.server([HOST], responder.url)
    responder.know(leaf.cert, revoked_at=now - timedelta(hours=1))
    upload(api, zone["zone_id"], chain, key)
    run_worker_timers(api)
    assert staple_of(api, zone["zone_id"])["status"] == "revoked"  # type: ignore[index]
    assert all(record.get("ocsp_der_b64") is None for record in cert_sets(api))
    assert "revoked" in alerts_of(api, zone["zone_id"])
    assert f"zone {zone['zone_id']} (revoked)" in desk_page(api)
    # Asked again an hour later; a responder that does not answer then leaves it revoked.
    revoked_at = staple_of(api, zone["zone_id"])["revoked_at"]  # type: ignore[index]
    responder.stop()
    api.clock.advance(seconds=3601)
    run_worker_timers(api)
    staple = staple_of(api, zone["zone_id"])
    assert staple is not None and staple["status"] == "revoked" and staple["revoked_at"] == revoked_at
    assert staple["failures"] == 1 and "could not be reached" in staple["last_error"]
    assert {"revoked", "staple_failing"} <= set(alerts_of(api, zone["zone_id"]))
    assert all(record.get("ocsp_der_b64") is None for record in cert_sets(api))


def desk_page(api: Api) -> str:
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["agent"])
    page = desk.get("/desk/certificates")
    assert page.status_code == 200
    return page.text


def test_a_responder_the_origin_policy_refuses_is_never_contacted(
    api: Api, origin: ScriptedOrigin, ca: OcspCA, responder: Responder, now: datetime
) -> None:
    zone = live_zone(api, origin)
    leaf, chain, key = ca.server([HOST], responder.url)  # 127.0.0.1: not allowed below
    responder.know(leaf.cert)
    upload(api, zone["zone_id"], chain, key)
    run_worker_timers(api, origin_allow=[])
    staple = staple_of(api, zone["zone_id"])
    assert staple is not None and staple["status"] == "failing" and staple["failures"] == 1
    assert "may not be reached" in staple["last_error"] and "loopback" in staple["last_error"]
    assert not responder.requests.exists()  # the responder never saw a request
    assert {"staple_failing", "staple_expiring"} <= set(alerts_of(api, zone["zone_id"]))
    assert metric(api, 'staydown_certificate_alerts{alert="staple_failing"} 1.0')
    # Backed off: not tried again at once, then tried again; where it is allowed it succeeds.
    assert datetime.fromisoformat(staple["refresh_at"]) == now + timedelta(seconds=60)
    assert run_worker_timers(api, origin_allow=[]) == 0
    api.clock.advance(seconds=61)
    run_worker_timers(api, origin_allow=[])
    failing = staple_of(api, zone["zone_id"])
    assert failing is not None and failing["failures"] == 2
    assert datetime.fromisoformat(failing["refresh_at"]) == api.clock() + timedelta(seconds=120)
    api.clock.advance(seconds=121)
    run_worker_timers(api)
    assert staple_of(api, zone["zone_id"])["status"] == "good"  # type: ignore[index]
    assert responder.requests.exists()
    assert alerts_of(api, zone["zone_id"]) == []


def test_the_edge_stops_stapling_a_response_past_its_next_update(
    api: Api, origin: ScriptedOrigin, ca: OcspCA, tls_edge: Callable[[], EdgeThread]
) -> None:
    """Whatever the control plane sends, the edge never staples a response past nextUpdate."""
    zone = live_zone(api, origin)
    leaf, chain, key = ca.server([HOST], None)
    upload(api, zone["zone_id"], chain, key)
    (record,) = cert_sets(api)
    moment = datetime.now(UTC).replace(microsecond=0)  # as DER keeps it
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf.cert,
            issuer=ca.issuer.cert,
            algorithm=hashes.SHA1(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=moment - timedelta(minutes=1),
            next_update=moment + timedelta(seconds=6),
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, ca.issuer.cert)
        .sign(ca.issuer.key, hashes.SHA256())
    )
    der = response.public_bytes(serialization.Encoding.DER)
    payload = {k: v for k, v in record.items() if k not in ("seq", "kind", "at")}
    payload["ocsp_der_b64"] = base64.b64encode(der).decode()
    publish(api, FeedKind.cert_set, payload, zone_id=zone["zone_id"])
    edge = tls_edge()
    eventually(lambda: stapled(s_client(edge, "-status")), timeout=5)
    eventually(lambda: "OCSP response: no response sent" in s_client(edge, "-status"), timeout=15)
    assert datetime.now(UTC) >= moment + timedelta(seconds=6)


def test_each_certificate_keeps_one_chain_of_fetches(
    api: Api, origin: ScriptedOrigin, ca: OcspCA, responder: Responder, now: datetime
) -> None:
    """Two first fetches queued at once (two workers' hourly passes) end up as one; a served
    certificate that has none (stored before stapling existed) is given one by that pass."""
    zone = live_zone(api, origin)
    leaf, chain, key = ca.server([HOST], responder.url)
    responder.know(leaf.cert)
    certificate = upload(api, zone["zone_id"], chain, key)
    with api.database.transaction() as session:
        pending = session.scalars(select(Timer).where(Timer.kind == ocsp_state.TIMER)).all()
        assert len(pending) == 1
        session.delete(pending[0])
    assert certificates.start_staples(api.database, now=api.clock()) == 1
    assert certificates.start_staples(api.database, now=api.clock()) == 0
    with api.database.transaction() as session:
        cert = session.get(Certificate, certificate["id"])
        assert cert is not None
        ocsp_state.schedule(session, cert, due_at=api.clock(), now=api.clock(), state={"url": responder.url})
    run_worker_timers(api)
    assert len([r for r in cert_sets(api) if r.get("ocsp_der_b64")]) == 1
    with api.database.transaction() as session:
        assert len(ocsp_state.state_of(session)) == 1
        assert (
            session.scalar(
                select(func.count()).where(
                    Timer.kind == ocsp_state.TIMER, Timer.status == TimerStatus.pending
                )
            )
            == 1
        )


def test_a_slow_responder_holds_no_lock_while_the_worker_waits_for_it(
    api: Api, origin: ScriptedOrigin, ca: OcspCA, now: datetime
) -> None:
    """The worker waits for a responder outside any transaction: meanwhile notices are written
    (SQLite's one writer is free) and the certificate's row is not locked (PostgreSQL)."""
    zone = live_zone(api, origin)
    with socket.socket() as slow:  # accepts, reads and answers nothing for the fetch's timeout
        slow.bind(("127.0.0.1", 0))
        slow.listen()
        _leaf, chain, key = ca.server([HOST], f"http://127.0.0.1:{slow.getsockname()[1]}")
        certificate = upload(api, zone["zone_id"], chain, key)
        fetching = threading.Thread(target=run_worker_timers, args=(api,), kwargs={"ocsp_timeout_seconds": 3})
        fetching.start()
        connection, _ = slow.accept()  # the worker is now waiting for the responder
        with connection:
            started = time.monotonic()
            with api.database.writer() as session:  # SQLite: BEGIN IMMEDIATE; PostgreSQL: the row lock
                session.execute(
                    select(Certificate.id)
                    .where(Certificate.id == certificate["id"])
                    .with_for_update(nowait=True)
                )
                session.commit()
            assert time.monotonic() - started < 1.5, "a write waited for the responder"
            assert fetching.is_alive()
            fetching.join(30)
    staple = staple_of(api, zone["zone_id"])
    assert staple is not None and staple["status"] == "failing" and staple["failures"] == 1
    assert "could not be reached" in staple["last_error"]
