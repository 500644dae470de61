"""The pure decisions of OCSP stapling: which responses may be stapled, when one is fetched again,
the back-off of failures, the alerts, and the responder a certificate names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from hypothesis import given, settings
from hypothesis import strategies as st

from staydown.certificates.ocsp import (
    MIN_REFRESH,
    SKEW,
    Good,
    Revoked,
    StapleRefused,
    refresh_at,
    responder_url,
    retry_at,
    staple_alerts,
    verify_response,
)
from tests.certificates.factories import Issued, authority
from tests.certificates.ocspsupport import delegated_responder, ocsp_leaf

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Pki:
    def __init__(self) -> None:
        self.root = authority("Root", now=NOW)
        self.issuer = authority("Issuing CA", now=NOW, issuer=self.root)
        self.leaf = ocsp_leaf(self.issuer, ["shop.example"], now=NOW, ocsp_url="http://ocsp.example/")


PKI = Pki()


def response(
    *,
    signer: Issued | None = None,
    include: list[x509.Certificate] | None = None,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    this_update: datetime = NOW - HOUR,
    next_update: datetime | None = NOW + 6 * HOUR,
    about: x509.Certificate | None = None,
    by_hash: bool = False,
) -> bytes:
    signer = signer or PKI.issuer
    revoked = status is ocsp.OCSPCertStatus.REVOKED
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=about or PKI.leaf.cert,
            issuer=PKI.issuer.cert,
            algorithm=hashes.SHA1(),
            cert_status=status,
            this_update=this_update,
            next_update=next_update,
            revocation_time=NOW - 2 * HOUR if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
        )
        .responder_id(
            ocsp.OCSPResponderEncoding.HASH if by_hash else ocsp.OCSPResponderEncoding.NAME, signer.cert
        )
    )
    if include:
        builder = builder.certificates(include)
    return builder.sign(signer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def verify(der: bytes, now: datetime = NOW) -> Good | Revoked:
    return verify_response(der, leaf=PKI.leaf.cert, issuer=PKI.issuer.cert, now=now)


@pytest.mark.parametrize("by_hash", [False, True])
def test_a_good_response_signed_by_the_issuer_is_stapled(by_hash: bool) -> None:
    der = response(by_hash=by_hash)
    assert verify(der) == Good(der, NOW - HOUR, NOW + 6 * HOUR)


def test_a_delegated_responder_the_issuer_issued_for_ocsp_signing_may_sign() -> None:
    responder = delegated_responder(PKI.issuer, now=NOW)
    der = response(signer=responder, include=[responder.cert])
    assert isinstance(verify(der), Good)


def test_a_delegated_responder_without_ocsp_signing_may_not() -> None:
    responder = delegated_responder(PKI.issuer, now=NOW, ocsp_signing=False)
    with pytest.raises(StapleRefused, match="not for OCSP signing"):
        verify(response(signer=responder, include=[responder.cert]))


def test_a_responder_another_ca_issued_under_the_same_name_may_not() -> None:
    impostor_ca = authority("Issuing CA", now=NOW)  # same name, other key
    responder = delegated_responder(impostor_ca, now=NOW)
    with pytest.raises(StapleRefused, match="does not verify with the issuer's key"):
        verify(response(signer=responder, include=[responder.cert]))


def test_a_response_naming_the_issuer_but_signed_with_another_key_is_refused() -> None:
    der = response()
    signature = ocsp.load_der_ocsp_response(der).signature
    forged = der.replace(signature, signature[:-1] + bytes([signature[-1] ^ 1]))
    with pytest.raises(StapleRefused, match="signature does not verify"):
        verify(forged)


def test_a_response_signed_by_an_unrelated_responder_is_refused() -> None:
    stranger = authority("Stranger", now=NOW)
    with pytest.raises(StapleRefused, match="neither the issuer nor a responder"):
        verify(response(signer=stranger))


def test_a_response_about_another_certificate_is_refused() -> None:
    other = ocsp_leaf(PKI.issuer, ["other.example"], now=NOW, ocsp_url=None)
    with pytest.raises(StapleRefused, match="not about this certificate"):
        verify(response(about=other.cert))


def test_revoked_is_reported_not_stapled() -> None:
    verdict = verify(response(status=ocsp.OCSPCertStatus.REVOKED))
    assert verdict == Revoked(NOW - 2 * HOUR, "keyCompromise")


def test_unknown_status_is_refused() -> None:
    with pytest.raises(StapleRefused, match="status unknown"):
        verify(response(status=ocsp.OCSPCertStatus.UNKNOWN))


def test_an_unsuccessful_answer_or_garbage_is_refused() -> None:
    failed = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
    with pytest.raises(StapleRefused, match="try_later"):
        verify(failed.public_bytes(serialization.Encoding.DER))
    with pytest.raises(StapleRefused, match="not an OCSP response"):
        verify(b"<html>not found</html>")


# A response's times relative to now, in seconds; None for an absent nextUpdate.
offsets = st.integers(min_value=-10 * 86400, max_value=86400)


@settings(max_examples=60, deadline=None)
@given(this=offsets, next_=st.one_of(st.none(), offsets))
def test_only_current_responses_are_stapled(this: int, next_: int | None) -> None:
    this_update = NOW + timedelta(seconds=this)
    next_update = NOW + timedelta(seconds=next_) if next_ is not None else None
    der = response(this_update=this_update, next_update=next_update)
    acceptable = this_update <= NOW + SKEW and next_update is not None and next_update > NOW
    if acceptable:
        assert verify(der) == Good(der, this_update, next_update)  # type: ignore[arg-type]
    else:
        with pytest.raises(StapleRefused):
            verify(der)


moments = st.integers(min_value=-30 * 86400, max_value=30 * 86400).map(lambda s: NOW + timedelta(seconds=s))


@given(this_update=moments, validity=st.integers(min_value=1, max_value=30 * 86400), now=moments)
def test_a_response_is_fetched_again_half_way_never_after_its_end(
    this_update: datetime, validity: int, now: datetime
) -> None:
    next_update = this_update + timedelta(seconds=validity)
    due = refresh_at(this_update, next_update, now=now)
    assert due <= next_update
    half = this_update + (next_update - this_update) / 2
    if now + MIN_REFRESH <= half:
        assert due == half
    else:
        assert due == min(now + MIN_REFRESH, next_update)


@given(
    failures=st.integers(min_value=1, max_value=40),
    left=st.one_of(st.none(), st.integers(min_value=-86400, max_value=10 * 86400)),
)
def test_failures_back_off_doubling_up_to_the_cap_and_within_the_staples_life(
    failures: int, left: int | None
) -> None:
    next_update = NOW + timedelta(seconds=left) if left is not None else None
    due = retry_at(NOW, failures=failures, base=60, cap=3600, next_update=next_update)
    backoff = timedelta(seconds=min(3600, 60 * 2 ** (failures - 1)))
    assert NOW + timedelta(seconds=60) <= due <= NOW + backoff
    if next_update is None or next_update <= NOW:
        assert due == NOW + backoff
    else:
        assert due == NOW + min(backoff, max((next_update - NOW) / 2, timedelta(seconds=60)))


def test_alerts() -> None:
    window = timedelta(days=1)

    def state(**fields: object) -> dict[str, object]:
        return {"status": "good", "failures": 0} | fields

    week = {"this_update": (NOW - HOUR).isoformat(), "next_update": (NOW + timedelta(days=6)).isoformat()}
    assert staple_alerts(state(**week), now=NOW, window=window) == []
    ending = {"this_update": (NOW - timedelta(days=6)).isoformat(), "next_update": (NOW + HOUR).isoformat()}
    assert staple_alerts(state(**ending), now=NOW, window=window) == ["staple_expiring"]
    # An hour-long response is not "expiring" for being under a day: under a quarter of its life is.
    hourly = {
        "this_update": (NOW - 20 * timedelta(minutes=1)).isoformat(),
        "next_update": (NOW + 40 * timedelta(minutes=1)).isoformat(),
    }
    assert staple_alerts(state(**hourly), now=NOW, window=window) == []
    failing = state(status="failing", failures=2, **ending)
    assert staple_alerts(failing, now=NOW, window=window) == ["staple_expiring", "staple_failing"]
    assert staple_alerts(state(status="failing", failures=1), now=NOW, window=window) == [
        "staple_expiring",
        "staple_failing",
    ]
    assert staple_alerts(state(status="revoked"), now=NOW, window=window) == ["revoked"]
    assert staple_alerts(state(status="pending"), now=NOW, window=window) == []


def test_the_responder_is_the_first_http_ocsp_location() -> None:
    assert responder_url(PKI.leaf.cert) == "http://ocsp.example/"
    assert responder_url(ocsp_leaf(PKI.issuer, ["a.example"], now=NOW, ocsp_url=None).cert) is None
    ldap = ocsp_leaf(PKI.issuer, ["a.example"], now=NOW, ocsp_url="ldap://directory.example/")
    assert responder_url(ldap.cert) is None
