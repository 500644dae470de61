"""Certificate chains and keys are checked before anything is served: every reason is given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from staydown.certificates.validation import CertificateRefused, check, covers
from tests.certificates.factories import cert_pem, chain, key_pem
from tests.support import hard_timeout

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HOSTS = ["shop.example.com", "www.shop.example.com"]


def reasons(chain_pem: bytes, key: bytes, hosts: list[str] = HOSTS, now: datetime = NOW) -> list[str]:
    with pytest.raises(CertificateRefused) as refused:
        check(chain_pem, key, hostnames=hosts, now=now)
    return refused.value.reasons


def test_a_good_chain_is_read_in_one_spelling() -> None:
    made = chain(HOSTS, now=NOW)
    checked = check(made.pem(), made.key(), hostnames=HOSTS, now=NOW)
    assert checked.names == tuple(HOSTS)
    assert checked.not_after == made.leaf.cert.not_valid_after_utc
    assert checked.serial == format(made.leaf.cert.serial_number, "x")
    assert checked.issuer == "CN=Test Intermediate"
    assert checked.chain_pem.count("BEGIN CERTIFICATE") == 2
    assert b"BEGIN PRIVATE KEY" in checked.key_pem


def test_chain_out_of_order_is_refused() -> None:
    made = chain(HOSTS, now=NOW)
    backwards = cert_pem(made.intermediate.cert) + cert_pem(made.leaf.cert)
    found = reasons(backwards, made.key())
    assert any("not issued by certificate 2" in r for r in found)
    assert any("private key does not belong" in r for r in found)  # the first is the leaf


def test_chain_with_a_forged_link_is_refused() -> None:
    made, other = chain(HOSTS, now=NOW), chain(HOSTS, now=NOW)
    # Same names, other keys: the issuer name matches, the signature does not.
    found = reasons(cert_pem(made.leaf.cert) + cert_pem(other.intermediate.cert), made.key())
    assert found == ["certificate 1's signature does not verify with certificate 2"]


def test_key_of_another_certificate_is_refused() -> None:
    made = chain(HOSTS, now=NOW)
    assert reasons(made.pem(), key_pem(ec.generate_private_key(ec.SECP256R1()))) == [
        "the private key does not belong to the leaf certificate"
    ]


def test_names_must_cover_every_hostname() -> None:
    made = chain(["shop.example.com"], now=NOW)
    assert reasons(made.pem(), made.key()) == ["the certificate does not name www.shop.example.com"]


def test_a_wildcard_covers_one_label() -> None:
    made = chain(["*.example.com"], now=NOW)
    check(made.pem(), made.key(), hostnames=["shop.example.com"], now=NOW)
    assert reasons(made.pem(), made.key(), hosts=["a.shop.example.com", "example.com"]) == [
        "the certificate does not name a.shop.example.com, example.com"
    ]


def test_expired_and_not_yet_valid_are_refused() -> None:
    made = chain(HOSTS, now=NOW, days=30)
    assert any(
        "the certificate expired" in r for r in reasons(made.pem(), made.key(), now=NOW + timedelta(days=31))
    )
    assert any(
        "the certificate is not valid before" in r
        for r in reasons(made.pem(), made.key(), now=NOW - timedelta(days=2))
    )


def test_garbage_encrypted_keys_and_swapped_fields_are_refused() -> None:
    made = chain(HOSTS, now=NOW)
    assert reasons(b"hello", b"world") == [
        "the certificate is not a PEM certificate chain",
        "the private key is not a PEM private key",
    ]
    encrypted = made.leaf.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    assert reasons(made.pem(), encrypted) == ["the private key is encrypted; send it without a passphrase"]
    assert "holds a private key" in reasons(made.key(), made.pem())[0]


def test_a_ca_certificate_is_not_a_leaf() -> None:
    made = chain(HOSTS, now=NOW)
    assert "the leaf certificate is a CA certificate" in reasons(
        cert_pem(made.intermediate.cert), key_pem(made.intermediate.key), hosts=[]
    )


@given(st.text(max_size=300), st.text(max_size=300))
def test_covers_is_total_and_exact_names_cover_themselves(pattern: str, host: str) -> None:
    assert isinstance(covers(pattern, host), bool)
    assert covers(host, host) or not host.strip(".")


@given(
    st.binary(max_size=2000),
    st.sampled_from([b"-----BEGIN CERTIFICATE-----\n", b"-----BEGIN PRIVATE KEY-----\n"]),
)
def test_hostile_input_is_refused_in_linear_time(noise: bytes, header: bytes) -> None:
    hostile = (header + noise) * 30  # about the upload limit, repeated headers and all
    with hard_timeout(2):
        assert reasons(hostile, hostile)
