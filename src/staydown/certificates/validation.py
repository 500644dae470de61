"""Read and check a certificate chain and its private key: pure functions over PEM bytes.

An uploaded certificate is refused with every reason at once (chain order and issuer links, the key
matching the leaf, the names covering the zone's hostnames, validity now); a certificate from ACME
or the demo CA is read by the same code, so what the edges get is always checked the same way.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtensionOID

MAX_CHAIN = 10
MIN_RSA_BITS = 2048
# A certificate issued a moment ago by a CA whose clock runs a little ahead is not refused for it.
CLOCK_SKEW = timedelta(minutes=5)


class CertificateRefused(ValueError):
    """A chain or key that cannot be served; ``reasons`` says every way it fails."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True, slots=True)
class CheckedCertificate:
    """A chain that passed: the leaf's facts, the chain and the key in one spelling each."""

    chain_pem: str
    key_pem: bytes
    names: tuple[str, ...]
    serial: str
    issuer: str
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime


def covers(pattern: str, hostname: str) -> bool:
    """Whether a certificate name (``*.example.com`` covers one label) covers ``hostname``."""
    pattern, hostname = pattern.lower().rstrip("."), hostname.lower().rstrip(".")
    if pattern == hostname:
        return True
    if pattern.startswith("*.") and "*" not in pattern[2:]:
        label, dot, rest = hostname.partition(".")
        return bool(label) and bool(dot) and rest == pattern[2:]
    return False


def dns_names(leaf: x509.Certificate) -> tuple[str, ...]:
    """The DNS names of the leaf's subjectAltName (what clients check; the CN is not)."""
    try:
        extension = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return ()
    names = extension.value
    assert isinstance(names, x509.SubjectAlternativeName)
    return tuple(names.get_values_for_type(x509.DNSName))


def _chain(chain_pem: bytes, reasons: list[str]) -> list[x509.Certificate]:
    if b"PRIVATE KEY" in chain_pem:
        reasons.append("the certificate field holds a private key; send it as the key")
        return []
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
    except ValueError:
        reasons.append("the certificate is not a PEM certificate chain")
        return []
    if len(chain) > MAX_CHAIN:
        reasons.append(f"the chain has {len(chain)} certificates; at most {MAX_CHAIN} are served")
        return []
    return chain


def _key(key_pem: bytes, reasons: list[str]) -> serialization.SSHPrivateKeyTypes | None:
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        reasons.append("the private key is encrypted; send it without a passphrase")
        return None
    except (ValueError, UnsupportedAlgorithm):
        reasons.append("the private key is not a PEM private key")
        return None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            reasons.append(f"the RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are needed")
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1 | ec.SECP384R1):
            reasons.append(f"the EC key's curve {key.curve.name} is not P-256 or P-384")
    elif not isinstance(key, ed25519.Ed25519PrivateKey):
        reasons.append("the private key is neither RSA, EC nor Ed25519")
        return None
    return key


def _links(chain: list[x509.Certificate], reasons: list[str]) -> None:
    for position, (child, parent) in enumerate(itertools.pairwise(chain)):
        if child.issuer != parent.subject:
            reasons.append(
                f"certificate {position + 1} in the chain is not issued by certificate {position + 2} "
                "(the chain must run from the leaf to its issuers, in order)"
            )
            continue
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            reasons.append(
                f"certificate {position + 1}'s signature does not verify with certificate {position + 2}"
            )


def check(
    chain_pem: bytes, key_pem: bytes, *, hostnames: list[str] | tuple[str, ...], now: datetime
) -> CheckedCertificate:
    """The chain and key if they can be served for ``hostnames`` at ``now``; else ``CertificateRefused``."""
    reasons: list[str] = []
    chain = _chain(chain_pem, reasons)
    key = _key(key_pem, reasons)
    if not chain:
        if not reasons:
            reasons.append("no certificate was given")
        raise CertificateRefused(reasons)
    leaf = chain[0]
    _links(chain, reasons)
    if key is not None:
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        if key.public_key().public_bytes(der, public) != leaf.public_key().public_bytes(der, public):
            reasons.append("the private key does not belong to the leaf certificate")
    names = dns_names(leaf)
    uncovered = [host for host in hostnames if not any(covers(name, host) for name in names)]
    if uncovered:
        reasons.append(f"the certificate does not name {', '.join(uncovered)}")
    for position, cert in enumerate(chain, start=1):
        what = "the certificate" if position == 1 else f"certificate {position} in the chain"
        if cert.not_valid_after_utc <= now:
            reasons.append(f"{what} expired at {cert.not_valid_after_utc.isoformat()}")
        elif cert.not_valid_before_utc > now + CLOCK_SKEW:
            reasons.append(f"{what} is not valid before {cert.not_valid_before_utc.isoformat()}")
    try:
        constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
        if constraints.ca:
            reasons.append("the leaf certificate is a CA certificate")
    except x509.ExtensionNotFound:
        pass
    if reasons:
        raise CertificateRefused(reasons)
    assert key is not None
    pem = serialization.Encoding.PEM
    return CheckedCertificate(
        chain_pem="".join(cert.public_bytes(pem).decode("ascii") for cert in chain),
        key_pem=key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        names=names,
        serial=format(leaf.serial_number, "x"),
        issuer=leaf.issuer.rfc4514_string()[:1000],
        fingerprint_sha256=hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest(),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
    )
