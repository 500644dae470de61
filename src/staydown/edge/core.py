"""The edge's sans-io core: validate a request head and decide what enforcement allows. Pure
functions over bytes and values; no sockets here (the responses are built in ``responses``).

Order matters and is fixed: a malformed or ambiguous request is refused first (it must never reach
an origin), then the zone (unknown → 421, not live → 403), then the block (451) — all before any
cache lookup or stale path.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from staydown.edge.body import RequestBody
from staydown.edge.state import SERVED, EnforcementState, ZoneState
from staydown.urls import CanonicalURL, URLError, canonicalize_target, is_absolute_form

MAX_HEADERS = 100
MAX_HEADER_BYTES = 16 * 1024
MAX_TARGET = 8192  # characters of a request-target (414 beyond)
MAX_HEAD = MAX_TARGET + MAX_HEADER_BYTES + 1024  # bytes of a whole request head, read as it arrives
# Methods answered from the cache; every other method passes to the origin, uncached.
CACHED_METHODS = frozenset({"GET", "HEAD"})
# Methods whose success never invalidates stored responses (RFC 9110 section 9.2.1, and WebDAV's).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "REPORT", "SEARCH"})
# Refused for every resource (405 with Allow): CONNECT would turn the edge into a tunnel to anywhere,
# and TRACE would echo this hop's request fields (credentials among them) back to a script.
REFUSED_METHODS = frozenset({"CONNECT", "TRACE"})
ALLOWED = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"  # the Allow of a 405


def tokens(value: str) -> set[str]:
    """The lowered tokens of a comma-separated field value (Connection, for one)."""
    return {token.strip().lower() for token in value.split(",")}


@dataclass(slots=True)
class Request:
    """One request as the edge answers it: its head, lowered field names, and who sent it."""

    method: str
    target: str
    headers: dict[str, str]
    keep_alive: bool
    client: str
    http_11: bool = True  # else HTTP/1.0, which is sent no interim (1xx) responses
    body: RequestBody | None = None  # a body to forward, as it arrives
    scheme: str = "http"  # "https" over TLS: http:// and https:// name the same resource
    tls_zone: int | None = None  # over TLS, the zone whose certificate the connection was given
    # HTTP/2: frames delimit a response's body and streams end alone, so a response is never sent
    # chunked nor with Connection fields.
    http_2: bool = False


class Outcome(enum.Enum):
    bad_request = "bad_request"
    unknown_host = "unknown_host"
    zone_unavailable = "zone_unavailable"
    blocked = "blocked"
    method_not_allowed = "method_not_allowed"
    server_options = "server_options"
    acme_challenge = "acme_challenge"  # an ACME http-01 challenge the edge answers itself
    redirect = "redirect"  # plain HTTP to a zone that asks for HTTPS
    proxy = "proxy"


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    zone: ZoneState | None = None
    url: CanonicalURL | None = None
    notice_id: int | None = None
    detail: str = ""


@dataclass(slots=True)
class Framing:
    """What a request head says about its own framing, gathered as its fields arrive."""

    fields: int = 0
    size: int = 0
    lengths: int = 0
    length: bytes = b""
    encodings: int = 0
    encoding: bytes = b""
    hosts: int = 0

    def add(self, lowered_name: str, value: bytes) -> None:
        self.fields += 1
        self.size += len(lowered_name) + len(value) + 4
        if lowered_name == "content-length":
            self.lengths += 1
            self.length = value
        elif lowered_name == "transfer-encoding":
            self.encodings += 1
            self.encoding = value
        elif lowered_name == "host":
            self.hosts += 1

    def clear(self) -> None:
        """Start over for the next head on the same connection."""
        self.fields = self.size = self.lengths = self.encodings = self.hosts = 0
        self.length = self.encoding = b""


def check_framing(framing: Framing, *, http_11: bool) -> tuple[int, str] | None:
    """Return the status and reason a request head is refused with (ambiguous framing, bad Host,
    oversize: 431), or None.

    httptools (llhttp, strict) has already refused invalid field names, obs-fold and CR/LF/NUL in
    values; what is left is what a valid message can still get wrong. ``http_11`` is consulted only
    when Host is missing (HTTP/1.1 requires it) or Transfer-Encoding is present (an HTTP/1.0
    message's framing with it is faulty, RFC 9112 6.1), so a caller may skip finding the version
    otherwise.
    """
    if framing.fields > MAX_HEADERS:
        return 431, f"more than {MAX_HEADERS} header fields"
    if framing.size > MAX_HEADER_BYTES:
        return 431, f"header fields exceed {MAX_HEADER_BYTES} bytes"
    if framing.lengths and framing.encodings:
        return 400, "both Content-Length and Transfer-Encoding"
    if framing.lengths > 1:
        return 400, "repeated Content-Length"
    if framing.lengths and not (framing.length.isdigit() and len(framing.length) <= 18):
        return 400, "invalid Content-Length"
    if framing.encodings > 1 or (framing.encodings and framing.encoding.strip().lower() != b"chunked"):
        return 400, "unsupported Transfer-Encoding"
    if framing.encodings and not http_11:
        return 400, "Transfer-Encoding in an HTTP/1.0 request"
    if framing.hosts > 1:
        return 400, "repeated Host"
    if http_11 and not framing.hosts:
        return 400, "missing Host"
    return None


def check_head(headers: Sequence[tuple[bytes, bytes]], *, http_11: bool) -> tuple[int, str] | None:
    """``check_framing`` over a whole list of (name, value) fields."""
    framing = Framing()
    for name, value in headers:
        framing.add(name.decode("latin-1").lower(), value)
    return check_framing(framing, http_11=http_11)


ACME_CHALLENGE_PREFIX = "/.well-known/acme-challenge/"


def decide(
    state: EnforcementState, *, method: str, host: str | None, target: str, scheme: str = "http"
) -> Decision:
    """Decide what enforcement allows for one request: the block applies to every method and
    scheme. A pending ACME http-01 challenge is answered before the zone is looked up, so that a
    zone not served yet (or one redirecting to HTTPS) can prove control of its name."""
    if method == "CONNECT":  # its target names a host and port, not a resource a block could name
        return Decision(Outcome.method_not_allowed, detail=method)
    if target == "*":  # asterisk-form names the server itself, and only OPTIONS may (RFC 9112 3.2.4)
        if method != "OPTIONS":
            return Decision(Outcome.bad_request, detail="only OPTIONS may have the target *")
        return Decision(Outcome.server_options)
    if not host and not is_absolute_form(target):  # an absolute-form target names its own host
        return Decision(Outcome.bad_request, detail="missing Host")
    try:
        url = canonicalize_target(target, host=host or "")
    except URLError as exc:
        return Decision(Outcome.bad_request, detail=exc.message)
    if state.http_challenges and url.target.startswith(ACME_CHALLENGE_PREFIX) and method in CACHED_METHODS:
        challenge = state.http_challenges.get((url.host, url.target[len(ACME_CHALLENGE_PREFIX) :]))
        if challenge is not None:
            return Decision(Outcome.acme_challenge, url=url, detail=challenge.key_authorization)
    zone = state.hosts.get(url.host)
    if zone is None or zone.status == "pending":
        return Decision(Outcome.unknown_host, url=url, detail=f"{url.host} is not served here")
    if zone.status != SERVED:
        return Decision(Outcome.zone_unavailable, zone=zone, url=url, detail=f"zone-{zone.status}")
    blocked, notice_id = state.blocked(zone.zone_id, url.target)
    if blocked:
        return Decision(Outcome.blocked, zone=zone, url=url, notice_id=notice_id)
    if method in REFUSED_METHODS:
        return Decision(Outcome.method_not_allowed, zone=zone, url=url, detail=method)
    if zone.https_redirect and scheme == "http":
        return Decision(Outcome.redirect, zone=zone, url=url, detail=method)
    return Decision(Outcome.proxy, zone=zone, url=url)
