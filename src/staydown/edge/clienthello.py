"""Read what a TLS ClientHello asks for (server name, ALPN protocols) from the first bytes of a
connection, before any handshake: the edge needs the ALPN offer to choose the certificate of an
ACME tls-alpn-01 challenge (RFC 8737), which the ssl module's SNI callback cannot see.

A pure function over bytes, linear in their length; it never raises on any input.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

RECORD_HANDSHAKE = 22
HANDSHAKE_CLIENT_HELLO = 1
EXT_SERVER_NAME = 0
EXT_ALPN = 16
MAX_HELLO = 16 * 1024 + 5  # one TLS record: a ClientHello beyond it is not read here


@dataclass(frozen=True, slots=True)
class ClientHello:
    server_name: str | None
    alpn: tuple[str, ...]


class Peek(enum.Enum):
    incomplete = "incomplete"  # more bytes may complete it
    malformed = "malformed"  # not a ClientHello this reader understands: the TLS library judges it


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise IndexError
        piece = self.data[self.pos : self.pos + count]
        self.pos += count
        return piece

    def number(self, width: int) -> int:
        return int.from_bytes(self.take(width), "big")

    def vector(self, width: int) -> bytes:
        return self.take(self.number(width))


def peek_client_hello(data: bytes) -> ClientHello | Peek:
    """The server name and ALPN offer of the ClientHello that ``data`` begins with."""
    if len(data) < 5:
        return Peek.incomplete
    if data[0] != RECORD_HANDSHAKE or data[1] != 3:
        return Peek.malformed
    length = int.from_bytes(data[3:5], "big")
    if len(data) < 5 + length:
        return Peek.incomplete if 5 + length <= MAX_HELLO else Peek.malformed
    try:
        return _client_hello(_Reader(data[5 : 5 + length]))
    except (IndexError, UnicodeDecodeError, ValueError):
        return Peek.malformed


def _client_hello(record: _Reader) -> ClientHello | Peek:
    if record.number(1) != HANDSHAKE_CLIENT_HELLO:
        return Peek.malformed
    body = _Reader(record.take(record.number(3)))  # a hello split over records is not read here
    body.take(2 + 32)  # legacy version, random
    body.vector(1)  # session id
    body.vector(2)  # cipher suites
    body.vector(1)  # compression methods
    if body.pos == len(body.data):
        return ClientHello(None, ())
    extensions = _Reader(body.vector(2))
    server_name: str | None = None
    alpn: list[str] = []
    while extensions.pos < len(extensions.data):
        kind = extensions.number(2)
        content = _Reader(extensions.vector(2))
        if kind == EXT_SERVER_NAME:
            names = _Reader(content.vector(2))
            while names.pos < len(names.data):
                name_type, name = names.number(1), names.vector(2)
                if name_type == 0 and server_name is None:
                    server_name = name.decode("ascii")
        elif kind == EXT_ALPN:
            protocols = _Reader(content.vector(2))
            while protocols.pos < len(protocols.data):
                alpn.append(protocols.vector(1).decode("ascii"))
    return ClientHello(server_name, tuple(alpn))
