"""HTTPS at the edge over real sockets: certificates by SNI from the feed (never another zone's),
TLS 1.2/1.3 with modern suites only, resumption, handshake bounds, ACME challenges (http-01 and
tls-alpn-01), HTTPS redirects and HSTS, and blocks that apply whatever the scheme."""

from __future__ import annotations

import socket
import ssl
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from staydown.accounts import service as accounts
from staydown.edge.server import EdgeConfig
from staydown.feedrecords import FeedKind
from tests.conftest import Api
from tests.edge.harness import HOST, EdgeThread, Route, ScriptedOrigin, eventually, free_port, get, live_zone
from tests.edge.pki import LocalCA, challenge_certificate, publish, publish_cert

OTHER = "other-zone.example.test"


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    return LocalCA(tmp_path / "pki")


@dataclass
class Handshake:
    """What a client learnt of a TLS connection."""

    peer: bytes
    version: str | None
    alpn: str | None
    session: ssl.SSLSession | None
    session_reused: bool


def https(
    edge: EdgeThread,
    context: ssl.SSLContext,
    requests: list[bytes],
    *,
    server_name: str | None = HOST,
    session: ssl.SSLSession | None = None,
) -> tuple[bytes, Handshake]:
    """Send ``requests`` over one TLS connection; everything read until the edge closes it."""
    assert edge.tls_port is not None
    with socket.create_connection(("127.0.0.1", edge.tls_port), timeout=5) as raw:
        tls = context.wrap_socket(
            raw, server_hostname=server_name, session=session, do_handshake_on_connect=False
        )
        return _exchange(tls, requests)


def _exchange(tls: ssl.SSLSocket, requests: list[bytes]) -> tuple[bytes, Handshake]:
    with tls:
        tls.do_handshake()
        tls.sendall(b"".join(requests))
        chunks = []
        while True:
            try:
                data = tls.recv(65536)
            except (TimeoutError, ssl.SSLError, ConnectionError):
                break
            if not data:
                break
            chunks.append(data)
        shook = Handshake(
            tls.getpeercert(binary_form=True) or b"",
            tls.version(),
            tls.selected_alpn_protocol(),
            tls.session,
            tls.session_reused,
        )
        return b"".join(chunks), shook


def request(path: str, host: str = HOST, *, method: str = "GET", close: bool = True) -> bytes:
    connection = "close" if close else "keep-alive"
    return f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: {connection}\r\n\r\n".encode()


def status_of(answer: bytes) -> int:
    return int(answer[9:12])


def fields_of(answer: bytes) -> dict[str, str]:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in head)}


def subject_of(tls: Handshake) -> list[str]:
    names = x509.load_der_x509_certificate(tls.peer).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    return names.value.get_values_for_type(x509.DNSName)


def served(edge: EdgeThread, ca: LocalCA, host: str = HOST) -> bool:
    try:
        answer, _ = https(edge, ca.client(), [request("/", host)], server_name=host)
    except (ssl.SSLError, OSError):
        return False
    return bool(answer)


def two_zones(api: Api, origin: ScriptedOrigin, ca: LocalCA) -> tuple[dict[str, Any], dict[str, Any]]:
    origin.routes["/page"] = Route(b"the page")
    first = live_zone(api, origin)
    second = live_zone(api, origin, OTHER)
    secret = api.settings.cert_seal_secret()
    publish_cert(api, ca, zone_id=first["zone_id"], cert_id=1, hostnames=[HOST], secret=secret)
    publish_cert(api, ca, zone_id=second["zone_id"], cert_id=2, hostnames=[OTHER], secret=secret)
    return first, second


def test_each_zone_gets_its_own_certificate_by_sni(
    api: Api, origin: ScriptedOrigin, ca: LocalCA, tls_edge: Callable[..., EdgeThread]
) -> None:
    two_zones(api, origin, ca)
    edge = tls_edge()
    eventually(lambda: served(edge, ca) and served(edge, ca, OTHER), timeout=10)
    answer, tls = https(edge, ca.client(), [request("/page", close=False), request("/page")])
    assert subject_of(tls) == [HOST]
    assert answer.count(b"HTTP/1.1 200") == 2 and answer.endswith(b"the page")
    assert origin.hits("/page") == 1  # the second came from the cache, over TLS too
    _, tls = https(edge, ca.client(), [request("/page", OTHER)], server_name=OTHER)
    assert subject_of(tls) == [OTHER]
    # Plain HTTP keeps working beside it.
    assert get(edge, "/page").text == "the page"


def test_unknown_or_absent_name_never_gets_a_certificate(
    api: Api, origin: ScriptedOrigin, ca: LocalCA, tls_edge: Callable[..., EdgeThread]
) -> None:
    two_zones(api, origin, ca)
    live_zone(api, origin, "no-cert.example.test")
    edge = tls_edge()
    eventually(lambda: served(edge, ca), timeout=10)
    trusting_nothing = ssl.create_default_context()
    trusting_nothing.check_hostname = False
    trusting_nothing.verify_mode = ssl.CERT_NONE
    for name in ("unknown.example.test", "no-cert.example.test", None, "127.0.0.1"):
        with pytest.raises(ssl.SSLError) as refused:
            https(edge, trusting_nothing, [request("/")], server_name=name)
        assert "CERTIFICATE_VERIFY_FAILED" not in str(refused.value)  # never given one
    # The listener carries on.
    assert served(edge, ca)


def test_a_host_of_another_zone_on_a_connection_is_misdirected(
    api: Api, origin: ScriptedOrigin, ca: LocalCA, tls_edge: Callable[..., EdgeThread]
) -> None:
    two_zones(api, origin, ca)
    edge = tls_edge()
    eventually(lambda: served(edge, ca) and served(edge, ca, OTHER), timeout=10)
    https(edge, ca.client(), [request("/page", OTHER)], server_name=OTHER)  # cached, decided
    answer, _ = https(edge, ca.client(), [request("/page", HOST, close=False), request("/page", OTHER)])
    assert status_of(answer) == 200
    assert b"HTTP/1.1 421" in answer and not answer.endswith(b"the page")


def test_only_tls_12_and_13_with_modern_suites(
    api: Api, origin: ScriptedOrigin, ca: LocalCA, tls_edge: Callable[..., EdgeThread]
) -> None:
    two_zones(api, origin, ca)
    edge = tls_edge()
    eventually(lambda: served(edge, ca), timeout=10)
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = ca.client()
        context.minimum_version = context.maximum_version = version
        answer, tls = https(edge, context, [request("/page")])
        assert status_of(answer) == 200
        assert tls.version == ("TLSv1.2" if version is ssl.TLSVersion.TLSv1_2 else "TLSv1.3")
    old = ca.client()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # as it should be
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        https(edge, old, [request("/page")])
    weak = ca.client()
    weak.maximum_version = ssl.TLSVersion.TLSv1_2
    weak.set_ciphers("AES128-SHA:AES256-SHA")  # no forward secrecy, no AEAD
    with pytest.raises(ssl.SSLError):
        https(edge, weak, [request("/page")])


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_sessions_resume(
    version: ssl.TLSVersion,
    api: Api,
    origin: ScriptedOrigin,
    ca: LocalCA,
    tls_edge: Callable[..., EdgeThread],
) -> None:
    two_zones(api, origin, ca)
    edge = tls_edge()
    eventually(lambda: served(edge, ca), timeout=10)
    context = ca.client()
    context.maximum_version = version
    _, first = https(edge, context, [request("/page")])
    assert not first.session_reused and first.session is not None
    _, second = https(edge, context, [request("/page")], session=first.session)
    assert second.session_reused


def test_slow_and_broken_handshakes_are_cut_off_without_harm(
    api: Api, origin: ScriptedOrigin, ca: LocalCA, tls_edge: Callable[..., EdgeThread]
) -> None:
    two_zones(api, origin, ca)
    port = free_port()
    edge = tls_edge(
        EdgeConfig(legal_url="https://cdn.example/legal", https_port=port, tls_handshake_timeout=1.0)
    )
    eventually(lambda: served(edge, ca), timeout=10)
    assert edge.tls_port is not None
    silent = socket.create_connection(("127.0.0.1", edge.tls_port), timeout=5)
    half = socket.create_connection(("127.0.0.1", edge.tls_port), timeout=5)
    half.sendall(bytes.fromhex("16030100c8010000c40303") + b"\x00" * 20)  # a ClientHello's first bytes
    started = time.monotonic()
    for sock in (silent, half):
        with sock:
            assert drained(sock) == b""  # closed without a byte of a certificate
    assert time.monotonic() - started < 4  # the one-second bound, and the loop's own slack
    for garbage in (
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # plain HTTP on the TLS port
        b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",  # a ClientHello too short to be one
        b"\x16\x03\x01\xff\xff" + b"\x01" * 300,  # a record longer than what follows
        bytes(range(256)) * 4,
    ):
        with socket.create_connection(("127.0.0.1", edge.tls_port), timeout=5) as sock:
            sock.sendall(garbage)
            answer = drained(sock)
            assert answer == b"" or (answer[0] == 0x15 and len(answer) <= 7)  # nothing, or one alert
    assert served(edge, ca)


def drained(sock: socket.socket) -> bytes:
    """What the edge sends until it closes the connection (a reset counts as closing)."""
    chunks = []
    try:
        while data := sock.recv(4096):
            chunks.append(data)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def test_odd_server_names(
    api: Api, origin: ScriptedOrigin, ca: LocalCA, tls_edge: Callable[..., EdgeThread]
) -> None:
    two_zones(api, origin, ca)
    edge = tls_edge()
    eventually(lambda: served(edge, ca), timeout=10)
    loose = ssl.create_default_context(cafile=str(ca.path))
    loose.check_hostname = False
    answer, tls = https(edge, loose, [request("/page")], server_name=HOST.upper() + ".")
    assert status_of(answer) == 200 and subject_of(tls) == [HOST]
    for name in (
        ("a" * 60 + ".") * 4 + "test",
        "under_score.example.test",
        "-.-",
        "*." + HOST,
        "xn--zz." + HOST,
    ):
        with pytest.raises(ssl.SSLError):
            https(edge, loose, [request("/page")], server_name=name)
    assert served(edge, ca)


def test_renegotiation_is_refused(
    api: Api, origin: ScriptedOrigin, ca: LocalCA, tls_edge: Callable[..., EdgeThread]
) -> None:
    import subprocess

    two_zones(api, origin, ca)
    edge = tls_edge()
    eventually(lambda: served(edge, ca), timeout=10)
    run = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{edge.tls_port}", "-servername", HOST,
         "-tls1_2", "-CAfile", str(ca.path)],
        input=b"R\n", capture_output=True, timeout=15, check=False,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert b"RENEGOTIATING" in output
    assert b"no renegotiation" in output or b"alert" in output.lower() or run.returncode != 0
    assert served(edge, ca)


def zone_payload(
    zone: dict[str, Any], origin: ScriptedOrigin, host: str = HOST, **extra: Any
) -> dict[str, Any]:
    return {
        "zone_id": zone["zone_id"],
        "customer_id": zone["customer_id"],
        "hostnames": [host],
        "origin": origin.url,
        "status": "active",
        **extra,
    }


def test_https_redirect_hsts_and_blocks_under_both_schemes(
    api: Api, origin: ScriptedOrigin, ca: LocalCA, tls_edge: Callable[..., EdgeThread]
) -> None:
    first, _ = two_zones(api, origin, ca)
    origin.routes["/secret"] = Route(b"infringing")
    payload = zone_payload(first, origin, https_redirect=True, hsts_max_age=31536000)
    publish(api, FeedKind.zone, payload, zone_id=first["zone_id"])
    edge = tls_edge()
    eventually(lambda: get(edge, "/page").status_code == 301, timeout=10)
    plain = get(edge, "/page?x=1")
    assert plain.headers["location"] == f"https://{HOST}:{edge.tls_port}/page?x=1"
    assert "strict-transport-security" not in plain.headers
    posted = edge_request(edge, "POST", "/form")
    assert status_of(posted) == 308
    answer, _ = https(edge, ca.client(), [request("/page", close=False), request("/page")])
    assert answer.count(b"Strict-Transport-Security: max-age=31536000\r\n") == 2  # full path, then fast
    assert answer.count(b"HTTP/1.1 200") == 2
    with api.database.transaction() as session:
        from staydown.enforcement import service as enforcement

        for target in ("/secret", "/probe"):
            enforcement.append(
                session, FeedKind.block, at=api.clock(), payload={}, zone_id=first["zone_id"], target=target
            )
    # Records apply in order: once the later one is in force, so is the block on /secret, which
    # is therefore never asked of the origin (probing /secret itself could reach it first).
    eventually(lambda: get(edge, "/probe").status_code == 451, timeout=10)
    answer, _ = https(edge, ca.client(), [request("/secret")])
    assert status_of(answer) == 451 and b"Strict-Transport-Security" in answer
    assert origin.hits("/secret") == 0


def edge_request(edge: EdgeThread, method: str, path: str, host: str = HOST) -> bytes:
    with socket.create_connection(("127.0.0.1", edge.port), timeout=5) as sock:
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        sock.sendall(head.encode())
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
        return b"".join(chunks)


def test_http01_challenges_are_answered_before_zone_rules(
    api: Api, origin: ScriptedOrigin, ca: LocalCA, tls_edge: Callable[..., EdgeThread]
) -> None:
    first, _ = two_zones(api, origin, ca)
    publish(api, FeedKind.zone, zone_payload(first, origin, https_redirect=True), zone_id=first["zone_id"])
    for host, token in (("new-zone.example.test", "tok-new"), (HOST, "tok-live")):
        publish(
            api,
            FeedKind.challenge_set,
            {
                "challenge_type": "http-01",
                "hostname": host,
                "token": token,
                "key_authorization": f"{token}.thumb",
            },
        )
    edge = tls_edge()
    path = "/.well-known/acme-challenge/"
    eventually(lambda: get(edge, path + "tok-live").status_code == 200, timeout=10)
    assert get(edge, path + "tok-live").text == "tok-live.thumb"  # not redirected
    assert get(edge, path + "tok-new", host="new-zone.example.test").text == "tok-new.thumb"  # not 421
    assert get(edge, path + "tok-other", host="new-zone.example.test").status_code == 421
    assert get(edge, path + "tok-other").status_code == 301
    publish(api, FeedKind.challenge_remove, {"hostname": "new-zone.example.test", "token": "tok-new"})
    eventually(
        lambda: get(edge, path + "tok-new", host="new-zone.example.test").status_code == 421, timeout=10
    )


def test_tls_alpn01_challenge_gets_its_own_certificate(
    api: Api, origin: ScriptedOrigin, ca: LocalCA, tls_edge: Callable[..., EdgeThread]
) -> None:
    from staydown import certseal

    two_zones(api, origin, ca)
    chain, key = challenge_certificate(HOST, "tok.thumb")
    sealed = certseal.seal(key, secret=api.settings.cert_seal_secret(), zone_id=0, cert_id=0)
    publish(
        api,
        FeedKind.challenge_set,
        {
            "challenge_type": "tls-alpn-01", "hostname": HOST, "token": "tok",
            "key_authorization": "tok.thumb", "chain_pem": chain, "key_sealed": sealed,
        },
    )  # fmt: skip
    edge = tls_edge()
    validator = ssl.create_default_context()
    validator.check_hostname = False
    validator.verify_mode = ssl.CERT_NONE
    validator.set_alpn_protocols(["acme-tls/1"])

    def challenged() -> bool:
        try:
            _, tls = https(edge, validator, [], server_name=HOST)
        except (ssl.SSLError, OSError):
            return False
        return tls.alpn == "acme-tls/1"

    eventually(challenged, timeout=10)
    answer, tls = https(edge, validator, [], server_name=HOST)
    assert x509.load_der_x509_certificate(tls.peer).extensions.get_extension_for_oid(
        x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31")
    )
    assert answer == b""  # closed once the handshake is done
    # Visitors meanwhile get the zone's own certificate.
    answer, tls = https(edge, ca.client(alpn=["http/1.1"]), [request("/page")])
    assert subject_of(tls) == [HOST] and status_of(answer) == 200


def test_suspended_zone_and_removed_certificate_are_not_served(
    api: Api, origin: ScriptedOrigin, ca: LocalCA, tls_edge: Callable[..., EdgeThread]
) -> None:
    first, second = two_zones(api, origin, ca)
    edge = tls_edge()
    eventually(lambda: served(edge, ca) and served(edge, ca, OTHER), timeout=10)
    with api.database.transaction() as session:
        zone = accounts.get_zone(session, first["zone_id"])
        assert zone is not None
        accounts.change_zone_status(
            session, zone, accounts.ZoneEvent.suspend, now=api.clock(), actor="test", reason="abuse"
        )
    eventually(lambda: not served(edge, ca), timeout=10)
    publish(api, FeedKind.cert_remove, {"cert_id": 2, "zone_id": second["zone_id"]})
    eventually(lambda: not served(edge, ca, OTHER), timeout=10)


def test_certificates_survive_a_restart_without_the_control_plane(
    api: Api, origin: ScriptedOrigin, ca: LocalCA, tls_edge: Callable[..., EdgeThread]
) -> None:
    two_zones(api, origin, ca)
    edge = tls_edge()
    eventually(lambda: served(edge, ca), timeout=10)
    edge.__exit__()
    again = tls_edge(control_plane=f"http://127.0.0.1:{free_port()}")  # nobody there
    assert served(again, ca) and served(again, ca, OTHER)


def test_http2_by_alpn_on_the_https_listener_keeps_hsts_421_and_451(
    api: Api, origin: ScriptedOrigin, ca: LocalCA, tls_edge: Callable[..., EdgeThread]
) -> None:
    """A client offering h2 gets HTTP/2 on the same listener, with the decisions of HTTP/1.1: the
    zone's HSTS on full-path and cached answers, 421 for a host of a zone whose certificate the
    connection was not given, and 451 for a blocked resource without asking the origin."""
    from tests.edge.h2peer import H2Client

    first, _second = two_zones(api, origin, ca)
    origin.routes["/secret"] = Route(b"infringing")
    payload = zone_payload(first, origin, hsts_max_age=600)
    publish(api, FeedKind.zone, payload, zone_id=first["zone_id"])
    edge = tls_edge()
    assert edge.tls_port is not None

    def served_over_https() -> bool:
        try:
            answer, _ = https(edge, ca.client(), [request("/page")])
        except (ssl.SSLError, OSError):
            return False
        return b"Strict-Transport-Security: max-age=600" in answer

    eventually(served_over_https, timeout=10)
    with H2Client(edge.tls_port, ca.client(alpn=["h2", "http/1.1"]), host=HOST) as client:
        full = client.get("/page")
        cached = client.get("/page")
        assert (full.status, full.body, cached.status, cached.body) == (200, b"the page", 200, b"the page")
        assert full.headers["strict-transport-security"] == "max-age=600"
        assert cached.headers["strict-transport-security"] == "max-age=600"
        misdirected = client.get("/page", authority=OTHER)
        assert misdirected.status == 421
    with api.database.transaction() as session:
        from staydown.enforcement import service as enforcement

        for target in ("/secret", "/probe"):
            enforcement.append(
                session, FeedKind.block, at=api.clock(), payload={}, zone_id=first["zone_id"], target=target
            )
    # Records apply in order: once the later one is in force, so is the block on /secret, which
    # is therefore never asked of the origin (probing /secret itself could reach it first).
    eventually(lambda: get(edge, "/probe").status_code == 451, timeout=10)
    with H2Client(edge.tls_port, ca.client(alpn=["h2"]), host=HOST) as client:
        blocked = client.get("/secret")
        assert blocked.status == 451
        assert blocked.headers["strict-transport-security"] == "max-age=600"
    assert origin.hits("/secret") == 0
