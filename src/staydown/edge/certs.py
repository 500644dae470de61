"""The edge's certificates: one ``ssl.SSLContext`` per certificate, chosen by the name a client
asks for (SNI), built from the enforcement state's certificate records.

The state holds the records (keys still sealed; they travel in the feed, the local store and
snapshots as they came); a context is built once per record, the first time a handshake asks for
it, with the key unsealed in memory only. A name is served the certificate of the zone that has it
as a hostname, and only while that zone is active and the certificate names it: an unknown name, a
handshake without SNI, or a suspended zone's name fails the handshake (``unrecognized_name``), so no
client is ever given another zone's certificate.

Every context speaks TLS 1.2 and 1.3 only, with forward-secret AEAD suites, no renegotiation and
no compression; the listening context issues session tickets (its keys sign every ticket, whatever
context the handshake switched to), with keys the workers share (``tickets``).

A certificate record's ``ocsp_der_b64`` (the OCSP response the control plane fetched and checked)
is stapled to handshakes that ask for it (``stapling``), until its ``nextUpdate``; a record that
only brings a new staple for the certificate already served keeps its context.
docs/ocsp-stapling.md says how stapling works and how to operate it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509

from staydown import certseal
from staydown.edge.stapling import Staple, Stapler, staple_of
from staydown.edge.state import EnforcementState
from staydown.edge.tickets import TicketKeys
from staydown.feedrecords import CertSetRecord, ChallengeSetRecord

log = logging.getLogger("staydown.edge.tls")

ACME_TLS_ALPN = "acme-tls/1"  # RFC 8737
# TLS 1.2 suites: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 (TLS 1.3's are all AEAD).
MODERN_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
# A tls-alpn-01 challenge's key is sealed under this zone and certificate id: its record names neither.
CHALLENGE_SEAL_ID = 0


def server_context(alpn: Sequence[str]) -> ssl.SSLContext:
    """A server context with the edge's protocol versions, suites and options, offering ``alpn``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.set_ciphers(MODERN_CIPHERS)
    context.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_COMPRESSION
    context.options &= ~ssl.OP_NO_TICKET
    # TLS 1.3 sends tickets after every handshake, resumed ones too: one is what a client uses for
    # its next connection, and each costs an encryption and a record (OpenSSL's default is two).
    context.num_tickets = 1
    context.set_alpn_protocols(list(alpn))
    return context


@contextmanager
def _private_file(content: bytes) -> Iterator[str]:
    """A path holding ``content`` that only this process reads: an anonymous memory file where the
    system has one (a key never reaches a disk), else a 0600 temporary file removed at once."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("staydown-cert", os.MFD_CLOEXEC)
        try:
            os.write(fd, content)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    fd, path = tempfile.mkstemp(prefix="staydown-cert-")
    try:
        os.write(fd, content)
        os.close(fd)
        yield path
    finally:
        Path(path).unlink()


def load_chain(context: ssl.SSLContext, chain_pem: str, key_pem: bytes) -> None:
    """Give ``context`` a certificate chain and its key (``SSLError`` when they do not match)."""
    with _private_file(key_pem + b"\n" + chain_pem.encode("ascii")) as path:
        context.load_cert_chain(path)


def name_covered(hostnames: Sequence[str], name: str) -> bool:
    """Whether a certificate for ``hostnames`` names ``name`` (a wildcard covers one label)."""
    for listed in hostnames:
        hostname = listed.lower().rstrip(".")
        if hostname == name:
            return True
        if hostname.startswith("*.") and "." in name and name.partition(".")[2] == hostname[2:]:
            return True
    return False


def normalise_name(server_name: str | None) -> str | None:
    """The host name an SNI value names, as zones list them; None for none or a malformed one."""
    if not server_name:
        return None
    name = server_name.lower().rstrip(".")
    if not name or len(name) > 253 or not all(c.isalnum() or c in "-._" for c in name) or not name.isascii():
        return None
    return name


class CertStore:
    """The contexts of the certificates in the enforcement state, built on first use."""

    def __init__(
        self,
        state: Callable[[], EnforcementState],
        *,
        secret: bytes | None,
        alpn: Sequence[str] = ("http/1.1",),
        count: Callable[[str], None] = lambda name: None,
        ticket_secret: bytes | None = None,
    ) -> None:
        self.state, self.secret, self.alpn, self.count = state, secret, tuple(alpn), count
        self.listening = server_context(self.alpn)
        self.listening.sni_callback = self._sni
        # Its ticket keys sign every ticket: with ``ticket_secret``, those of every worker alike.
        self.tickets = TicketKeys(self.listening, ticket_secret)
        self.tickets.refresh(time.time())
        self._built: dict[int, tuple[CertSetRecord, ssl.SSLContext | None]] = {}  # zone -> its context
        self._zone_of: dict[int, int] = {}  # id of a built context -> its zone
        self.stapler = Stapler(count=count)
        self.stapler.probe(server_context(self.alpn))
        self._challenges: dict[str, tuple[ChallengeSetRecord, ssl.SSLContext | None]] = {}

    def _sni(
        self, connection: ssl.SSLObject, server_name: str | None, _context: ssl.SSLContext
    ) -> int | None:
        try:
            context = self.context_for(server_name)
        except Exception:  # a defect here must fail this handshake, never the listener
            log.exception("choosing a certificate for %r failed", server_name)
            return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
        if context is None:
            self.count("tls_unknown_name")
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        connection.context = context
        return None

    def context_for(self, server_name: str | None) -> ssl.SSLContext | None:
        """The context serving ``server_name``: its active zone's certificate, if that names it."""
        name = normalise_name(server_name)
        if name is None:
            return None
        state = self.state()
        zone = state.hosts.get(name)
        if zone is None or zone.status != "active":
            return None
        record = state.certs.get(zone.zone_id)
        if record is None and zone.zone_id in self._built:  # removed: its key leaves memory too
            stale = self._built.pop(zone.zone_id)[1]
            if stale is not None:
                self._forget(stale)
        if record is None or not name_covered(record.hostnames, name):
            return None
        built = self._built.get(zone.zone_id)
        if built is not None and built[0] is record:
            return built[1]
        previous = built[1] if built is not None else None
        if built is not None and previous is not None and _same_certificate(built[0], record):
            # A new staple for the certificate served: the context stays, its staple changes.
            self._built[zone.zone_id] = (record, previous)
            self.stapler.attach(previous, _staple(record))
            return previous
        if previous is not None:
            self._forget(previous)
        context = self._build(record)
        self._built[zone.zone_id] = (record, context)
        if context is not None:
            self._zone_of[id(context)] = zone.zone_id
        return context

    def _forget(self, context: ssl.SSLContext) -> None:
        self._zone_of.pop(id(context), None)
        self.stapler.detach(context)

    def _build(self, record: CertSetRecord) -> ssl.SSLContext | None:
        if self.secret is None:
            log.error("certificate %d not served: this edge has no certificate sealing key", record.cert_id)
            return None
        try:
            key = certseal.unseal(
                record.key_sealed, secret=self.secret, zone_id=record.zone_id, cert_id=record.cert_id
            )
            context = server_context(self.alpn)
            load_chain(context, record.chain_pem, key)
        except (certseal.SealError, ssl.SSLError, ValueError, OSError) as exc:
            self.count("tls_certificate_unusable")
            log.error("certificate %d of zone %d not served: %s", record.cert_id, record.zone_id, exc)
            return None
        self.stapler.attach(context, _staple(record))
        return context

    def challenge_context(self, server_name: str | None) -> ssl.SSLContext | None:
        """The context answering a pending tls-alpn-01 challenge for ``server_name``, if any."""
        name = normalise_name(server_name)
        if name is None:
            return None
        record = self.state().alpn_challenges.get(name)
        if record is None or record.chain_pem is None or record.key_sealed is None:
            return None
        built = self._challenges.get(name)
        if built is not None and built[0] is record:
            return built[1]
        context: ssl.SSLContext | None = None
        if self.secret is not None:
            try:
                key = certseal.unseal(
                    record.key_sealed,
                    secret=self.secret,
                    zone_id=CHALLENGE_SEAL_ID,
                    cert_id=CHALLENGE_SEAL_ID,
                )
                context = server_context([ACME_TLS_ALPN])
                load_chain(context, record.chain_pem, key)
            except (certseal.SealError, ssl.SSLError, ValueError, OSError) as exc:
                log.error("tls-alpn-01 challenge for %s not answered: %s", name, exc)
                context = None
        self._challenges = {h: c for h, c in self._challenges.items() if h in self.state().alpn_challenges}
        self._challenges[name] = (record, context)
        return context

    def zone_of(self, connection: ssl.SSLObject | None) -> int | None:
        """The zone whose certificate a finished handshake used."""
        if connection is None:
            return None
        return self._zone_of.get(id(connection.context))


def _same_certificate(served: CertSetRecord, record: CertSetRecord) -> bool:
    """Whether ``record`` serves the very certificate and key ``served`` does (a new staple)."""
    return (
        served.cert_id == record.cert_id
        and served.chain_pem == record.chain_pem
        and served.key_sealed == record.key_sealed
        and served.hostnames == record.hostnames
    )


def _staple(record: CertSetRecord) -> Staple | None:
    """The staple a certificate record carries, if it is one for its leaf."""
    if not record.ocsp_der_b64:
        return None
    try:
        der = base64.b64decode(record.ocsp_der_b64, validate=True)
        leaf = x509.load_pem_x509_certificate(record.chain_pem.encode("ascii"))
    except (binascii.Error, ValueError) as exc:
        log.warning("certificate %d: its OCSP staple is unusable (%s)", record.cert_id, exc)
        return None
    staple = staple_of(der, leaf.serial_number)
    if staple is None:
        log.warning("certificate %d: its OCSP staple is not a good response about it", record.cert_id)
    return staple
