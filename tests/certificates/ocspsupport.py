"""A certificate authority with a real OCSP responder (``openssl ocsp``) for the stapling tests."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from tests.certificates.factories import Issued, authority, cert_pem, key_pem


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def ocsp_leaf(
    issuer: Issued, names: list[str], *, now: datetime, ocsp_url: str | None, days: float = 90
) -> Issued:
    """A server certificate for ``names`` whose Authority Information Access names ``ocsp_url``."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if ocsp_url is not None:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
                    )
                ]
            ),
            critical=False,
        )
    return Issued(builder.sign(issuer.key, hashes.SHA256()), key)


def delegated_responder(issuer: Issued, *, now: datetime, ocsp_signing: bool = True) -> Issued:
    """A responder certificate ``issuer`` issued (for OCSP signing, unless told otherwise)."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("Test OCSP Responder"))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    usage = ExtendedKeyUsageOID.OCSP_SIGNING if ocsp_signing else ExtendedKeyUsageOID.SERVER_AUTH
    builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return Issued(builder.sign(issuer.key, hashes.SHA256()), key)


@dataclass
class OcspCA:
    """A root, an intermediate that issues the servers' certificates, and its delegated responder."""

    now: datetime
    root: Issued = field(init=False)
    issuer: Issued = field(init=False)
    responder: Issued = field(init=False)

    def __post_init__(self) -> None:
        self.root = authority("Test OCSP Root", now=self.now)
        self.issuer = authority("Test OCSP Issuing CA", now=self.now, issuer=self.root)
        self.responder = delegated_responder(self.issuer, now=self.now)

    def server(self, names: list[str], ocsp_url: str | None) -> tuple[Issued, str, str]:
        """A certificate for ``names``: it, its chain (leaf then issuer) and key, in PEM."""
        leaf = ocsp_leaf(self.issuer, names, now=self.now, ocsp_url=ocsp_url)
        chain = (cert_pem(leaf.cert) + cert_pem(self.issuer.cert)).decode("ascii")
        return leaf, chain, key_pem(leaf.key).decode("ascii")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _index_time(moment: datetime) -> str:
    return moment.strftime("%y%m%d%H%M%SZ")


class Responder:
    """``openssl ocsp`` answering for ``ca``'s issuer, signed by its delegated responder, with
    responses valid ``minutes``; ``revoke`` marks a certificate revoked (the responder restarts)."""

    def __init__(self, ca: OcspCA, directory: Path, *, minutes: int = 60) -> None:
        self.ca, self.directory, self.minutes = ca, directory, minutes
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        directory.mkdir(parents=True, exist_ok=True)
        self.index = directory / "index.txt"
        self.requests = directory / "request.der"  # the last request the responder received
        self.log = directory / "responder.log"
        (directory / "issuer.pem").write_bytes(cert_pem(ca.issuer.cert))
        (directory / "responder.pem").write_bytes(cert_pem(ca.responder.cert))
        (directory / "responder.key").write_bytes(key_pem(ca.responder.key))
        self.entries: dict[int, str] = {}
        self.process: subprocess.Popen[bytes] | None = None

    def know(self, cert: x509.Certificate, *, revoked_at: datetime | None = None) -> None:
        """Answer for ``cert``: good, or revoked since ``revoked_at``."""
        serial = f"{cert.serial_number:X}"
        serial = serial if len(serial) % 2 == 0 else "0" + serial
        subject = "/" + cert.subject.rfc4514_string().replace(",", "/")
        expiry = _index_time(cert.not_valid_after_utc)
        status, revoked = ("R", _index_time(revoked_at)) if revoked_at is not None else ("V", "")
        self.entries[cert.serial_number] = "\t".join([status, expiry, revoked, serial, "unknown", subject])
        self.index.write_text("".join(line + "\n" for line in self.entries.values()))
        if self.process is not None:
            self.stop()
            self.start()

    def start(self) -> Responder:
        if not self.index.exists():
            self.index.write_text("")
        d = self.directory
        with self.log.open("wb") as log:  # the process keeps its own descriptor
            self.process = subprocess.Popen(
                [
                    *("openssl", "ocsp", "-port", str(self.port), "-index", str(self.index)),
                    *("-CA", str(d / "issuer.pem"), "-rsigner", str(d / "responder.pem")),
                    *("-rkey", str(d / "responder.key"), "-ignore_err", "-nmin", str(self.minutes)),
                    *("-reqout", str(self.requests)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        # Ready once it says so (a probing connection would be read as a broken request).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if b"waiting for OCSP client connections" in self.log.read_bytes():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the OCSP responder did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None

    def __enter__(self) -> Responder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
