"""The edge's stapler on its own: the status callback is registered only through a verified
``SSL_CTX`` and read back, the edge runs without stapling (saying why once) where that fails, and
only a good response about the served certificate becomes a staple. Handshakes that staple are in
test_stapling.py."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from staydown.edge import stapling, tickets
from staydown.edge.certs import CertStore, server_context
from staydown.edge.stapling import NOACK, Staple, Stapler, staple_of
from staydown.edge.state import EnforcementState
from tests.certificates.factories import authority
from tests.certificates.ocspsupport import ocsp_leaf

NOW = datetime.now(UTC).replace(microsecond=0)


def test_the_status_callback_is_registered_and_read_back() -> None:
    stapler = Stapler()
    context = server_context(["http/1.1"])
    assert stapler.attach(context, Staple(b"response", time.time() + 60))
    assert stapler.enabled
    pointer = stapler.pointers[id(context)]
    openssl = stapling._openssl()
    assert not isinstance(openssl, str)
    registered = stapling.ctypes.c_void_p()
    openssl.ctx_ctrl(pointer, stapling.GET_STATUS_CB, 0, stapling.ctypes.byref(registered))
    assert registered.value == stapling.ctypes.cast(stapler.callback, stapling.ctypes.c_void_p).value
    assert stapler.staples[pointer].der == b"response"
    assert not stapler.attach(context, None)  # no staple: the callback stays, answering none
    assert pointer not in stapler.staples
    stapler.detach(context)
    assert stapler.pointers == {}


def test_without_a_verified_context_the_edge_runs_without_stapling_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(tickets, "_ssl_ctx", lambda context, openssl: None)
    caplog.set_level(logging.WARNING, "staydown.edge.tls")
    stapler = Stapler()
    for _ in range(3):
        assert not stapler.attach(server_context(["http/1.1"]), Staple(b"response", time.time() + 60))
    assert not stapler.enabled
    assert [r.getMessage() for r in caplog.records] == [
        "OCSP stapling is off: this Python's SSL context layout is not known"
    ]


def test_an_edge_checks_stapling_when_it_starts(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "staydown.edge.tls")
    assert CertStore(EnforcementState, secret=None).stapler.enabled
    assert caplog.records == []
    monkeypatch.setattr(tickets, "_ssl_ctx", lambda context, openssl: None)
    store = CertStore(EnforcementState, secret=None)
    assert not store.stapler.enabled
    assert [r.getMessage() for r in caplog.records] == [
        "OCSP stapling is off: this Python's SSL context layout is not known"
    ]


def test_the_callback_answers_no_staple_without_a_connection() -> None:
    assert Stapler()._status(None, None) == NOACK


def _response(leaf_serial_of: object, status: ocsp.OCSPCertStatus, next_update: datetime | None) -> bytes:
    issuer = authority("Issuing CA", now=NOW)
    leaf = ocsp_leaf(issuer, ["a.example"], now=NOW, ocsp_url=None)
    revoked = status is ocsp.OCSPCertStatus.REVOKED
    built = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf.cert,
            issuer=issuer.cert,
            algorithm=hashes.SHA1(),
            cert_status=status,
            this_update=NOW - timedelta(hours=1),
            next_update=next_update,
            revocation_time=NOW if revoked else None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
        .sign(issuer.key, hashes.SHA256())
    )
    assert isinstance(leaf_serial_of, list)
    leaf_serial_of.append(leaf.cert.serial_number)
    return built.public_bytes(serialization.Encoding.DER)


def test_only_a_good_response_about_the_served_certificate_is_a_staple() -> None:
    serials: list[int] = []
    later = NOW + timedelta(hours=5)
    good = _response(serials, ocsp.OCSPCertStatus.GOOD, later)
    assert staple_of(good, serials[-1]) == Staple(good, later.timestamp())
    assert staple_of(good, serials[-1] + 1) is None
    assert staple_of(_response(serials, ocsp.OCSPCertStatus.REVOKED, later), serials[-1]) is None
    assert staple_of(_response(serials, ocsp.OCSPCertStatus.GOOD, None), serials[-1]) is None
    assert staple_of(b"garbage", 1) is None
