"""HTTP caching decisions for a shared CDN cache (RFC 9111, 9213, 5861), as pure functions over
header values.

A cache that serves one visitor's private response to another is a security incident, so every
doubt resolves toward not storing, or toward revalidating: conflicting or malformed freshness
directives make a response stale, ``private`` and ``Set-Cookie`` responses are never shared, and
a request carrying ``Authorization`` is stored only when the origin says a shared cache may.

Every parser here reads untrusted bytes with plain string operations in one pass (no regular
expression with nested quantifiers; the Structured Fields parser of ``http_sf`` is a single pass
too), so a long hostile header value costs time in proportion to its length only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import http_sf

from staydown.edge.httpdate import parse_http_date

# RFC 9110 section 15.1: statuses a cache may store with heuristic freshness.
HEURISTICALLY_CACHEABLE = frozenset({200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501})
# Statuses this cache stores at all (206 is served from full objects instead).
STORABLE_STATUSES = HEURISTICALLY_CACHEABLE | {302, 303, 307}
# Origin answers a stored response may stand in for under stale-if-error (RFC 5861 section 4).
ERROR_STATUSES = frozenset({500, 502, 503, 504})
HEURISTIC_FRACTION = 0.1  # of the time since Last-Modified (RFC 9111 section 4.2.2)
HEURISTIC_CAP = 24 * 3600.0
# The greatest delta-seconds this cache represents; larger values saturate (RFC 9111 section 1.2.2).
ANY_STALENESS = 2**31
_DELTA_DIGITS = len(str(ANY_STALENESS))
# The targeted fields this cache obeys, first valid one wins (RFC 9213 section 2.2). It is a CDN.
TARGET_LIST = ("cdn-cache-control",)


@dataclass(frozen=True, slots=True)
class CacheControl:
    """Parsed cache directives. Durations are seconds; a malformed one reads as 0 (stale)."""

    max_age: int | None = None
    s_maxage: int | None = None
    max_stale: int | None = None  # request: None absent, a value, or ANY_STALENESS for "any"
    min_fresh: int | None = None
    stale_while_revalidate: int | None = None  # RFC 5861
    stale_if_error: int | None = None  # RFC 5861, in requests and responses
    no_store: bool = False
    no_cache: bool = False
    private: bool = False
    public: bool = False
    must_revalidate: bool = False
    proxy_revalidate: bool = False
    only_if_cached: bool = False
    immutable: bool = False
    # Directives repeated with different values (the response is then stale, RFC 9111 4.2.1).
    conflicting: frozenset[str] = field(default_factory=frozenset)
    # Read from a targeted field (CDN-Cache-Control): Cache-Control and Expires are ignored.
    targeted: bool = False


_SECONDS = {
    "max-age": "max_age",
    "s-maxage": "s_maxage",
    "max-stale": "max_stale",
    "min-fresh": "min_fresh",
    "stale-while-revalidate": "stale_while_revalidate",
    "stale-if-error": "stale_if_error",
}
_FLAGS = {
    "no-store": "no_store",
    "no-cache": "no_cache",
    "private": "private",
    "public": "public",
    "must-revalidate": "must_revalidate",
    "proxy-revalidate": "proxy_revalidate",
    "only-if-cached": "only_if_cached",
    "immutable": "immutable",
}
# For a repeated duration, the most restrictive value is the greatest for min-fresh, else the least.
_GREATEST_RESTRICTS = frozenset({"min_fresh"})
# A response's freshness lifetime repeated with different values makes it stale.
_FRESHNESS = frozenset({"max_age", "s_maxage"})
MALFORMED = -1


def delta_seconds(argument: str | None) -> int:
    """An RFC 9111 delta-seconds argument: its value, saturated at 2^31, or MALFORMED."""
    if not argument or not (argument.isascii() and argument.isdigit()):
        return MALFORMED  # "isascii" keeps out the other Unicode digits, which int() refuses
    stripped = argument.lstrip("0") or "0"
    if len(stripped) > _DELTA_DIGITS:  # saturate without converting a long run of digits
        return ANY_STALENESS
    return min(int(stripped), ANY_STALENESS)


def _split_directives(value: str) -> Iterable[tuple[str, str | None]]:
    """Split on commas outside quoted strings; yield (lowercase name, unquoted argument or None)."""
    for piece in value.split(",") if '"' not in value else _quoted_split(value):
        token = piece.strip()
        if not token:
            continue
        name, sep, argument = token.partition("=")
        argument = argument.strip()
        if len(argument) >= 2 and argument[0] == argument[-1] == '"':
            argument = _unquote(argument[1:-1])
        yield name.strip().lower(), argument if sep else None


def _quoted_split(value: str) -> Iterable[str]:
    """Split on the commas outside quoted strings (a quoted-pair escapes the next character)."""
    start, index, length, quoted = 0, 0, len(value), False
    while index < length:
        char = value[index]
        if quoted:
            if char == "\\":
                index += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == ",":
            yield value[start:index]
            start = index + 1
        index += 1
    yield value[start:]


def _unquote(inner: str) -> str:
    """The text of a quoted-string's inside: each quoted-pair stands for its second character."""
    if "\\" not in inner:
        return inner
    out, index = [], 0
    while index < len(inner):
        char = inner[index]
        if char == "\\" and index + 1 < len(inner):
            index += 1
            char = inner[index]
        out.append(char)
        index += 1
    return "".join(out)


NO_DIRECTIVES = CacheControl()


@lru_cache(maxsize=1024)
def request_cache_control(value: str) -> CacheControl:
    """Parse a request's single ``Cache-Control`` value (requests repeat a few values, so cache them)."""
    return parse_cache_control((value,)) if value else NO_DIRECTIVES


class _Directives:
    """Directives gathered from one or more field values, repeats resolved restrictively."""

    def __init__(self) -> None:
        self.seconds: dict[str, int] = {}
        self.flags: set[str] = set()
        self.conflicting: set[str] = set()

    def duration(self, name: str, parsed: int) -> None:
        attribute = _SECONDS[name]
        previous = self.seconds.get(attribute)
        if previous is not None and previous != parsed:
            self.conflicting.add(name)
            if MALFORMED in (previous, parsed) or attribute in _FRESHNESS:
                parsed = MALFORMED
            elif attribute in _GREATEST_RESTRICTS:
                parsed = max(parsed, previous)
            else:
                parsed = min(parsed, previous)
        self.seconds[attribute] = parsed

    def flag(self, name: str) -> None:
        # "no-cache" and "private" with field names are still no-cache / private for us: the
        # response is revalidated every time, or not shared at all (both allowed by RFC 9111).
        self.flags.add(_FLAGS[name])

    def build(self, *, targeted: bool = False) -> CacheControl:
        durations = {name: (0 if value < 0 else value) for name, value in self.seconds.items()}
        flags = self.flags
        return CacheControl(
            max_age=durations.get("max_age"),
            s_maxage=durations.get("s_maxage"),
            max_stale=durations.get("max_stale"),
            min_fresh=durations.get("min_fresh"),
            stale_while_revalidate=durations.get("stale_while_revalidate"),
            stale_if_error=durations.get("stale_if_error"),
            no_store="no_store" in flags,
            no_cache="no_cache" in flags,
            private="private" in flags,
            public="public" in flags,
            must_revalidate="must_revalidate" in flags,
            proxy_revalidate="proxy_revalidate" in flags,
            only_if_cached="only_if_cached" in flags,
            immutable="immutable" in flags,
            conflicting=frozenset(self.conflicting),
            targeted=targeted,
        )


def parse_cache_control(values: Iterable[str]) -> CacheControl:
    """Parse every ``Cache-Control`` field line of a message into one ``CacheControl``."""
    directives = _Directives()
    for value in values:
        for name, argument in _split_directives(value):
            if name in _SECONDS:
                if name == "max-stale" and argument is None:
                    directives.duration(name, ANY_STALENESS)
                else:  # malformed reads as stale (RFC 9111 section 4.2.1)
                    directives.duration(name, delta_seconds(argument))
            elif name in _FLAGS:
                directives.flag(name)
    return directives.build()


def parse_targeted(values: Iterable[str]) -> CacheControl | None:
    """Parse a targeted field such as ``CDN-Cache-Control`` (RFC 9213 section 2.1).

    It is a Structured Fields Dictionary; its field lines are one value joined by commas. None
    when it is empty or does not parse, so that the cache falls back to ``Cache-Control``.
    """
    joined = ", ".join(value.strip() for value in values if value.strip())
    if not joined:
        return None
    try:
        members = http_sf.parse(joined.encode("latin-1"), tltype="dictionary")
    except (http_sf.StructuredFieldError, UnicodeEncodeError, ValueError):
        return None
    if not isinstance(members, dict) or not members:
        return None
    directives = _Directives()
    for name, member in members.items():
        value = member[0] if isinstance(member, tuple) else member
        if name in _SECONDS:
            if name == "max-stale" and value is True:
                directives.duration(name, ANY_STALENESS)
            elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                directives.duration(name, min(value, ANY_STALENESS))
            else:
                directives.duration(name, MALFORMED)
        elif name in _FLAGS and value is not False:
            directives.flag(name)
    return directives.build(targeted=True)


def response_cache_control(headers: Iterable[tuple[str, str]]) -> CacheControl:
    """The directives that govern this cache for a response: its first valid targeted field from
    ``TARGET_LIST``, else its ``Cache-Control`` lines (RFC 9213 section 2.2)."""
    by_name: dict[str, list[str]] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered == "cache-control" or lowered in TARGET_LIST:
            by_name.setdefault(lowered, []).append(value)
    for target in TARGET_LIST:
        if target in by_name:
            targeted = parse_targeted(by_name[target])
            if targeted is not None:
                return targeted
    return parse_cache_control(by_name.get("cache-control", ()))


def parse_age(value: str | None) -> float | None:
    """An ``Age`` value: its first member (RFC 9111 section 5.1), saturated; None when invalid."""
    if value is None:
        return None
    first = value.partition(",")[0].strip(" \t")
    seconds = delta_seconds(first)
    return None if seconds == MALFORMED else float(seconds)


def vary_members(value: str | None) -> tuple[str, ...]:
    """The lowercased field names of a ``Vary`` value (its lines joined by commas), ``*`` kept."""
    if not value:
        return ()
    return tuple(sorted({m.strip(" \t").lower() for m in value.split(",") if m.strip(" \t")}))


# --- storing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Storability:
    storable: bool
    reason: str


def storability(
    *,
    method: str,
    status: int,
    request_cc: CacheControl,
    response_cc: CacheControl,
    response_headers: Mapping[str, str],
    request_has_authorization: bool,
) -> Storability:
    """Decide whether a shared cache may store this response (RFC 9111 section 3).

    ``response_headers`` maps lowercase names to values, a repeated field's lines joined by commas.
    """
    if method != "GET":
        return Storability(False, "only GET responses are stored")
    if status not in STORABLE_STATUSES:
        return Storability(False, f"status {status} is not stored")
    if request_cc.no_store or response_cc.no_store:
        return Storability(False, "no-store")
    if response_cc.private:
        return Storability(False, "private response")
    if "set-cookie" in response_headers:
        return Storability(False, "response sets a cookie")
    if "*" in vary_members(response_headers.get("vary")):
        # A "*" member never matches a later request (RFC 9111 section 4.1), wherever it stands.
        return Storability(False, "Vary: *")
    if request_has_authorization and not (
        response_cc.public or response_cc.must_revalidate or response_cc.s_maxage is not None
    ):
        return Storability(False, "request carried Authorization and the response does not allow sharing")
    explicit = (
        response_cc.public
        or response_cc.max_age is not None
        or response_cc.s_maxage is not None
        or (not response_cc.targeted and "expires" in response_headers)
    )
    if not explicit and status not in HEURISTICALLY_CACHEABLE:
        return Storability(False, f"status {status} needs explicit freshness")
    return Storability(True, "storable")


def freshness_lifetime(
    *,
    status: int,
    response_cc: CacheControl,
    response_headers: Mapping[str, str],
    received: float | None = None,
) -> float:
    """Seconds the response stays fresh in a shared cache (RFC 9111 section 4.2.1).

    ``received`` is when the response arrived: it stands for a missing or invalid ``Date``.
    """
    if response_cc.s_maxage is not None:
        return float(response_cc.s_maxage)
    if response_cc.max_age is not None:
        return float(response_cc.max_age)
    date = parse_http_date(response_headers.get("date"), now=received)
    if date is None:
        date = received
    if "expires" in response_headers and not response_cc.targeted:
        # Several Expires lines arrive joined by a comma, which no HTTP-date form has: invalid.
        expires = parse_http_date(response_headers["expires"], now=received)
        if expires is None or date is None:
            return 0.0  # an invalid Expires means already expired (RFC 9111 section 5.3)
        return max(0.0, expires - date)
    if status in HEURISTICALLY_CACHEABLE or response_cc.public:
        modified = parse_http_date(response_headers.get("last-modified"), now=received)
        if modified is not None and date is not None and date > modified:
            return min(HEURISTIC_CAP, (date - modified) * HEURISTIC_FRACTION)
    return 0.0


def current_age(
    *, response_headers: Mapping[str, str], request_time: float, response_time: float, now: float
) -> float:
    """The age of a stored response at ``now`` (RFC 9111 section 4.2.3)."""
    date = parse_http_date(response_headers.get("date"), now=response_time)
    age = parse_age(response_headers.get("age")) or 0.0
    apparent_age = max(0.0, response_time - date) if date is not None else 0.0
    corrected_age_value = age + (response_time - request_time)
    corrected_initial_age = max(apparent_age, corrected_age_value)
    return corrected_initial_age + (now - response_time)


def freshens(
    *, stored_etag: str | None, stored_last_modified: str | None, fields: Iterable[tuple[str, str]]
) -> bool:
    """Whether a 304 answering the cache's own conditional request identifies the stored response
    it was asked about, so that it may update it (RFC 9111 section 4.3.4).

    An ETag in the 304 must match the stored one (strongly when it is strong); without one, its
    Last-Modified must equal the stored one. A 304 with neither validator answers the one stored
    response the cache's conditional named, so it identifies that one.
    """
    etag = last_modified = None
    for name, value in fields:
        lowered = name.lower()
        if lowered == "etag":
            etag = value.strip()
        elif lowered == "last-modified":
            last_modified = value.strip()
    if etag is not None:
        if stored_etag is None:
            return False
        if etag.startswith("W/"):
            return etag.removeprefix("W/") == stored_etag.strip().removeprefix("W/")
        return etag == stored_etag.strip()
    if last_modified is not None:
        return stored_last_modified is not None and last_modified == stored_last_modified.strip()
    return True


# --- reusing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a stored response for one request."""

    serve: bool  # serve from cache as it is
    revalidate: bool  # ask the origin (conditionally) first
    reason: str
    background: bool = False  # served stale: start a revalidation that nobody waits for


def never_stale(response_cc: CacheControl) -> bool:
    """Whether a stored response may never be served stale by a shared cache (RFC 9111 4.2.4):
    must-revalidate, proxy-revalidate, and s-maxage (which carries proxy-revalidate's meaning)."""
    return (
        response_cc.must_revalidate
        or response_cc.proxy_revalidate
        or response_cc.s_maxage is not None
        or response_cc.no_cache
    )


def reuse(*, lifetime: float, age: float, request_cc: CacheControl, response_cc: CacheControl) -> Verdict:
    """Decide whether a stored response may be served for a request (RFC 9111 section 4)."""
    if response_cc.no_cache:
        return Verdict(False, True, "response requires revalidation (no-cache)")
    if request_cc.no_cache:
        return Verdict(False, True, "request asked for revalidation (no-cache)")
    if request_cc.max_age is not None and age > request_cc.max_age:
        return Verdict(False, True, "older than the request's max-age")
    remaining = lifetime - age
    if request_cc.min_fresh is not None and remaining < request_cc.min_fresh:
        return Verdict(False, True, "fresher than min-fresh required")
    if remaining > 0:
        return Verdict(True, False, "fresh")
    if never_stale(response_cc):
        return Verdict(False, True, "stale and must be revalidated")
    staleness = -remaining
    if request_cc.max_stale is not None and staleness <= request_cc.max_stale:
        return Verdict(True, False, "stale within the request's max-stale")
    window = response_cc.stale_while_revalidate
    if window and staleness <= window and request_cc.max_age is None:
        # A request's max-age without max-stale refuses every stale response (RFC 9111 5.2.1.1).
        return Verdict(True, False, "stale within stale-while-revalidate", background=True)
    return Verdict(False, True, "stale")


def serve_on_error(
    *, lifetime: float, age: float, request_cc: CacheControl, response_cc: CacheControl
) -> bool:
    """Whether a stale stored response may answer when the origin failed or sent a 5xx
    (``stale-if-error``, RFC 5861 section 4; the request's value, when given, overrides)."""
    if never_stale(response_cc) or request_cc.no_cache:
        return False
    staleness = age - lifetime
    if staleness < 0:
        return True  # still fresh (its lifetime exceeds its age): nothing forbids serving it
    window = request_cc.stale_if_error
    if window is None:
        window = response_cc.stale_if_error
    if window is None and request_cc.max_stale is not None:
        window = request_cc.max_stale
    return bool(window) and staleness <= (window or 0)
