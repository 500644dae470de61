"""Private keys sealed for the edges while they travel in the enforcement feed.

Feed records are one log read by every edge (over HTTP or NATS) and kept on disk by each, so a
certificate's private key is never written into one in the clear: it is sealed with AES-256-GCM
under the fleet's certificate secret (setting ``cert_seal_key``), which only the control plane and
the edges hold. The record's zone and certificate id are the associated data, so a sealed key moved
into another record does not open.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12
_PREFIX = "v1:"


class SealError(ValueError):
    """A sealed key could not be opened: wrong secret, altered text or another record's key."""


def new_secret() -> bytes:
    """A fresh 256-bit sealing secret."""
    return AESGCM.generate_key(bit_length=256)


def _context(zone_id: int, cert_id: int) -> bytes:
    return f"staydown-cert:{zone_id}:{cert_id}".encode()


def seal(key_pem: bytes, *, secret: bytes, zone_id: int, cert_id: int) -> str:
    """The private key ``key_pem`` sealed for the edges, as printable text."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(secret).encrypt(nonce, key_pem, _context(zone_id, cert_id))
    return _PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def unseal(text: str, *, secret: bytes, zone_id: int, cert_id: int) -> bytes:
    """The private key a sealed text holds; ``SealError`` if it does not open."""
    if not text.startswith(_PREFIX):
        raise SealError("sealed key of an unknown version")
    try:
        raw = base64.b64decode(text[len(_PREFIX) :], validate=True)
    except ValueError as exc:
        raise SealError("sealed key is not base64") from exc
    if len(raw) <= _NONCE_BYTES:
        raise SealError("sealed key is too short")
    try:
        return AESGCM(secret).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _context(zone_id, cert_id))
    except InvalidTag as exc:
        raise SealError("sealed key does not open with this secret for this record") from exc


# A tls-alpn-01 challenge's key (RFC 8737) travels in a ``challenge_set`` record, which names no zone
# or certificate: it is sealed under this fixed context. It is a throw-away key that proves nothing
# beyond the one challenge.
CHALLENGE_ZONE_ID = 0
CHALLENGE_CERT_ID = 0


def seal_challenge_key(key_pem: bytes, *, secret: bytes) -> str:
    """A tls-alpn-01 challenge's private key sealed for the edges."""
    return seal(key_pem, secret=secret, zone_id=CHALLENGE_ZONE_ID, cert_id=CHALLENGE_CERT_ID)


def unseal_challenge_key(text: str, *, secret: bytes) -> bytes:
    """The private key of a ``challenge_set`` record; ``SealError`` if it does not open."""
    return unseal(text, secret=secret, zone_id=CHALLENGE_ZONE_ID, cert_id=CHALLENGE_CERT_ID)
