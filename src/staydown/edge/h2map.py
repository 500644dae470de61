"""HTTP/2's side of the edge's sans-io core: a request's fields (pseudo-headers and all) mapped to
the same :class:`Request` an HTTP/1.1 head gives, the edge's serialised answers mapped to HTTP/2
response fields, and the budgets that bound what a client may make a connection do.

The ``h2`` library frames, decodes HPACK and validates fields (uppercase names, connection-specific
fields, pseudo-header order and set, Host against :authority); the checks here are the edge's own
rules on top (the same 431/414/400 bounds as HTTP/1.1, RFC 9113 section 8.3.1 on authority) and hold
even where the library's validation would let a field through. Pure functions over values.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpack.hpack import encode_integer
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.table import HeaderTable

from staydown.edge import core
from staydown.edge.core import Request

# Fields HTTP/2 forbids (RFC 9113 section 8.2.2): never accepted from a client, never sent to one.
CONNECTION_SPECIFIC = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)
PSEUDO_FIELDS = frozenset({b":method", b":scheme", b":authority", b":path", b":protocol"})
DEFAULT_PORTS = {"http": ":80", "https": ":443"}

# Frame types and the flag a header block ends with (RFC 9113 section 6).
HEADERS, PUSH_PROMISE, CONTINUATION = 0x1, 0x5, 0x9
END_HEADERS = 0x4
PREFACE_SIZE = 24  # b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request that is answered with ``status`` on its stream and never reaches enforcement."""

    status: int
    reason: str


def same_authority(authority: str, host: str, *, scheme: str) -> bool:
    """Whether :authority and Host name the same entity after scheme-based normalisation (RFC 3986
    section 6.2.3: case, the scheme's default port)."""
    default = DEFAULT_PORTS.get(scheme, "")

    def normal(value: str) -> str:
        value = value.strip().lower()
        return value.removesuffix(default) if default else value

    return normal(authority) == normal(host)


def request_from_fields(
    fields: list[tuple[bytes, bytes]], *, client: str, scheme: str = "https", tls_zone: int | None = None
) -> Request | Refusal:
    """Map a request's HTTP/2 fields to the request HTTP/1.1 would have given, or its refusal.

    Field names are lowered (as the HTTP/1.1 reader lowers them), a repeated field keeps its last
    value as there, and Host is :authority (or Host when :authority is absent).
    """
    split = _split(fields)
    if isinstance(split, Refusal):
        return split
    pseudo, headers = split
    method = pseudo.get(b":method")
    if not method:
        return Refusal(400, "no :method")
    authority = pseudo.get(b":authority")
    target = _target(method, pseudo)
    if isinstance(target, Refusal):
        return target
    scheme = pseudo.get(b":scheme", "")
    host = headers.get("host")
    if authority is not None:
        if "@" in authority:
            return Refusal(400, ":authority must not carry userinfo")
        if host is not None and not same_authority(authority, host, scheme=scheme):
            return Refusal(400, "Host and :authority name different hosts")
        headers["host"] = authority
    elif host is None:
        return Refusal(400, "neither :authority nor Host")
    return Request(method, target, headers, True, client, http_2=True, scheme=scheme, tls_zone=tls_zone)


def _split(fields: list[tuple[bytes, bytes]]) -> tuple[dict[bytes, str], dict[str, str]] | Refusal:
    """The pseudo-headers and the fields (by lowered name), checked as an HTTP/1.1 head is."""
    pseudo: dict[bytes, str] = {}
    headers: dict[str, str] = {}
    framing = core.Framing()
    for name, value in fields:
        if name[:1] == b":":
            if headers:
                return Refusal(400, f"pseudo-header {name!r} after a field")
            if name not in PSEUDO_FIELDS or name in pseudo:
                return Refusal(400, f"invalid or repeated pseudo-header {name!r}")
            pseudo[name] = value.decode("latin-1")
            continue
        if name.lower() != name:
            return Refusal(400, f"uppercase field name {name!r}")
        if name in CONNECTION_SPECIFIC or (name == b"te" and value.strip().lower() != b"trailers"):
            return Refusal(400, f"connection-specific field {name!r}")
        lowered = name.decode("latin-1")
        framing.add(lowered, value)
        headers[lowered] = value.decode("latin-1")
    problem = core.check_framing(framing, http_11=False)
    if problem is not None:
        return Refusal(*problem)
    return pseudo, headers


def _target(method: str, pseudo: dict[bytes, str]) -> str | Refusal:
    """The request-target the pseudo-headers give (authority-form for CONNECT)."""
    if method == "CONNECT":
        authority = pseudo.get(b":authority")
        if b":path" in pseudo or b":scheme" in pseudo or not authority:
            return Refusal(400, "CONNECT names only an :authority")
        return authority
    scheme, path = pseudo.get(b":scheme", ""), pseudo.get(b":path", "")
    if scheme not in DEFAULT_PORTS:
        return Refusal(400, f"unsupported :scheme {scheme!r}")
    if len(path) > core.MAX_TARGET:
        return Refusal(414, f"the request target is longer than {core.MAX_TARGET} characters")
    if not path.startswith("/") and path != "*":
        return Refusal(400, "a :path must begin with / (or be * for OPTIONS)")
    if b":protocol" in pseudo:
        return Refusal(400, ":protocol outside an extended CONNECT")
    return path


def response_fields(head: bytes) -> tuple[int, list[tuple[bytes, bytes]]]:
    """The status and HTTP/2 fields of an HTTP/1.1 response head the edge serialised itself (a
    status line and field lines, without the blank line): names lowered, connection-specific
    fields left out."""
    lines = head.split(b"\r\n")
    status = int(lines[0][9:12])
    fields = [(b":status", lines[0][9:12])]
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name and name not in CONNECTION_SPECIFIC:
            fields.append((name, value.strip()))
    return status, fields


_STATIC_FIELDS = {field: index for index, field in enumerate(HeaderTable.STATIC_TABLE, start=1)}
_STATIC_NAMES: dict[bytes, int] = {}
for _index, (_name, _value) in enumerate(HeaderTable.STATIC_TABLE, start=1):
    _STATIC_NAMES.setdefault(_name, _index)
_HUFFMAN = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)


def _string(value: bytes) -> bytes:
    """An HPACK string literal (RFC 7541 section 5.2), Huffman-coded when that is shorter."""
    coded = _HUFFMAN.encode(value)
    if len(coded) < len(value):
        length = encode_integer(len(coded), 7)
        length[0] |= 0x80
        return bytes(length) + coded
    return bytes(encode_integer(len(value), 7)) + value


def stateless_block(fields: tuple[tuple[bytes, bytes], ...]) -> bytes:
    """A header block of ``fields`` that neither uses nor changes the dynamic table: static table
    entries and literals without indexing only (RFC 7541 sections 6.1 and 6.2.2), as nginx sends
    its responses. Valid whatever either side's table holds, so the block of a head can be kept and
    sent again on any connection."""
    block = bytearray()
    for name, value in fields:
        full = _STATIC_FIELDS.get((name, value))
        if full is not None:
            indexed = encode_integer(full, 7)
            indexed[0] |= 0x80
            block += indexed
            continue
        named = _STATIC_NAMES.get(name)
        if named is not None:
            block += encode_integer(named, 4)  # 0000xxxx: without indexing, the name by index
        else:
            block += b"\x00" + _string(name)
        block += _string(value)
    return bytes(block)


@dataclass(frozen=True, slots=True)
class MappedHead:
    """An edge answer's head as HTTP/2 sends it: status, fields, Content-Length and their block."""

    status: int
    fields: tuple[tuple[bytes, bytes], ...]
    declared: int | None
    block: bytes  # ``stateless_block`` of the fields


# Heads mapped already, by their bytes: a cached answer's head repeats for every hit of its second.
_HEADS: dict[bytes, MappedHead] = {}
_HEADS_KEPT = 1024


def mapped_head(head: bytes) -> MappedHead:
    """``response_fields`` of a head, its Content-Length and its header block, remembered for the
    heads seen last (so a hit's fields are neither parsed nor HPACK-encoded again)."""
    known = _HEADS.get(head)
    if known is None:
        status, fields = response_fields(head)
        kept = tuple(fields)
        known = MappedHead(status, kept, content_length(fields), stateless_block(kept))
        if len(_HEADS) >= _HEADS_KEPT:
            _HEADS.clear()
        _HEADS[head] = known
    return known


def has_body(status: int, method: str) -> bool:
    """Whether a response carries content (RFC 9110 section 6.4.1)."""
    return method != "HEAD" and status >= 200 and status not in (204, 304)


def content_length(fields: list[tuple[bytes, bytes]]) -> int | None:
    """The Content-Length among response fields, when there is one."""
    for name, value in fields:
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None


class HeaderBlockWatch:
    """Follows the frame headers of what a client sends and measures the header block in progress
    (a HEADERS frame and its CONTINUATIONs until END_HEADERS), so a block that never ends is cut off
    at ``budget`` bytes or ``frames`` frames however it is split (the CONTINUATION flood)."""

    __slots__ = ("block", "budget", "frames", "max_frames", "partial", "skip")

    def __init__(self, *, budget: int, frames: int) -> None:
        self.budget, self.max_frames = budget, frames
        self.skip = PREFACE_SIZE  # bytes still to pass over: the preface, then each frame's payload
        self.partial = b""  # a frame header split between reads
        self.block: int | None = None  # bytes of the header block in progress
        self.frames = 0

    def feed(self, data: bytes) -> bool:
        """Follow ``data``; False once a header block is over its budget."""
        pos, size = 0, len(data)
        while pos < size:
            if self.skip:
                taken = min(self.skip, size - pos)
                pos += taken
                self.skip -= taken
                continue
            if self.partial or size - pos < 9:
                needed = 9 - len(self.partial)
                self.partial += data[pos : pos + needed]
                pos += needed
                if len(self.partial) < 9:
                    return True
                header, self.partial = self.partial, b""
            else:
                header = data[pos : pos + 9]
                pos += 9
            length, kind, flags = int.from_bytes(header[:3], "big"), header[3], header[4]
            self.skip = length
            if kind in (HEADERS, PUSH_PROMISE):
                self.block, self.frames = 0, 0
            elif kind != CONTINUATION or self.block is None:
                continue
            assert self.block is not None
            self.block += length
            self.frames += 1
            if self.block > self.budget or self.frames > self.max_frames:
                return False
            if flags & END_HEADERS:
                self.block = None
        return True
