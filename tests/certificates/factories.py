"""Certificates for tests: a root, an intermediate and leaves, made with ``cryptography``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PEM = serialization.Encoding.PEM


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(PEM)


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def authority(common: str, *, now: datetime, issuer: Issued | None = None, days: int = 3650) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(issuer.cert.subject if issuer else _name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    return Issued(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


def leaf(
    issuer: Issued,
    names: list[str],
    *,
    now: datetime,
    not_before: timedelta = timedelta(days=-1),
    days: float = 90,
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + not_before)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(issuer.key, hashes.SHA256())
    )
    return Issued(cert, key)


@dataclass
class Chain:
    root: Issued
    intermediate: Issued
    leaf: Issued

    def pem(self) -> bytes:
        """Leaf then intermediate, as a server sends them."""
        return cert_pem(self.leaf.cert) + cert_pem(self.intermediate.cert)

    def key(self) -> bytes:
        return key_pem(self.leaf.key)


def chain(names: list[str], *, now: datetime, days: float = 90) -> Chain:
    root = authority("Test Root", now=now)
    intermediate = authority("Test Intermediate", now=now, issuer=root)
    return Chain(root, intermediate, leaf(intermediate, names, now=now, days=days))
