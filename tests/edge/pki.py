"""A test certificate authority (``cryptography``), and feed records that give edges certificates."""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from staydown import certseal
from staydown.enforcement import service as enforcement
from staydown.feedrecords import FeedKind
from tests.conftest import Api

ACME_IDENTIFIER = ObjectIdentifier("1.3.6.1.5.5.7.1.31")  # RFC 8737


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class LocalCA:
    """A root that signs leaf certificates for host names; clients trust it through ``client()``."""

    directory: Path
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def __post_init__(self) -> None:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "staydown test CA")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.path = self.directory / "ca.pem"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, *hostnames: str) -> tuple[str, bytes]:
        """A leaf for ``hostnames``: its chain (PEM) and private key (PEM)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=10))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hostnames]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        chain = leaf.public_bytes(serialization.Encoding.PEM) + self.cert.public_bytes(
            serialization.Encoding.PEM
        )
        return chain.decode("ascii"), _pem(key)

    def client(self, *, alpn: list[str] | None = None) -> ssl.SSLContext:
        """A client context trusting only this CA."""
        context = ssl.create_default_context(cafile=str(self.path))
        if alpn:
            context.set_alpn_protocols(alpn)
        return context


def challenge_certificate(hostname: str, key_authorization: str) -> tuple[str, bytes]:
    """A self-signed tls-alpn-01 certificate (RFC 8737) for ``hostname``: its PEM and key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(key_authorization.encode())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(
            x509.UnrecognizedExtension(ACME_IDENTIFIER, b"\x04\x20" + digest.finalize()), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), _pem(key)


def publish(api: Api, kind: FeedKind, payload: dict[str, Any], *, zone_id: int | None = None) -> None:
    """Append one record to the control plane's enforcement feed."""
    with api.database.transaction() as session:
        enforcement.append(session, kind, at=api.clock(), payload=payload, zone_id=zone_id)


def publish_cert(
    api: Api, ca: LocalCA, *, zone_id: int, cert_id: int, hostnames: list[str], secret: bytes
) -> str:
    """Give the zone a certificate for ``hostnames`` through the feed; return its chain."""
    chain, key = ca.issue(*hostnames)
    sealed = certseal.seal(key, secret=secret, zone_id=zone_id, cert_id=cert_id)
    payload = {
        "cert_id": cert_id,
        "zone_id": zone_id,
        "hostnames": hostnames,
        "chain_pem": chain,
        "key_sealed": sealed,
        "not_after": (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).isoformat(),
        "source": "upload",
    }
    publish(api, FeedKind.cert_set, payload, zone_id=zone_id)
    return chain
