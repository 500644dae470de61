"""HTTP caching decisions for a shared cache (RFC 9111), as pure functions over header values.

A cache that serves one visitor's private response to another is a security incident, so every
doubt resolves toward not storing, or toward revalidating: conflicting or malformed freshness
directives make a response stale, ``private`` and ``Set-Cookie`` responses are never shared, and
a request carrying ``Authorization`` is stored only when the origin says a shared cache may.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import lru_cache

# RFC 9110 section 15.1: statuses a cache may store with heuristic freshness.
HEURISTICALLY_CACHEABLE = frozenset({200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501})
# Statuses this cache stores at all (206 is served from full objects instead).
STORABLE_STATUSES = HEURISTICALLY_CACHEABLE | {302, 303, 307}
HEURISTIC_FRACTION = 0.1  # of the time since Last-Modified (RFC 9111 section 4.2.2)
HEURISTIC_CAP = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class CacheControl:
    """Parsed ``Cache-Control`` directives. Durations are seconds; ``-1`` marks a malformed value."""

    max_age: int | None = None
    s_maxage: int | None = None
    max_stale: int | None = None  # request: None absent, a value, or a very large number for "any"
    min_fresh: int | None = None
    no_store: bool = False
    no_cache: bool = False
    private: bool = False
    public: bool = False
    must_revalidate: bool = False
    proxy_revalidate: bool = False
    only_if_cached: bool = False
    immutable: bool = False
    conflicting: frozenset[str] = field(default_factory=frozenset)


_SECONDS = {"max-age": "max_age", "s-maxage": "s_maxage", "max-stale": "max_stale", "min-fresh": "min_fresh"}
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
ANY_STALENESS = 2**31


def _split_directives(value: str) -> Iterable[tuple[str, str | None]]:
    """Split on commas outside quoted strings; yield (lowercase name, unquoted argument or None)."""
    part, quoted, escaped = [], False, False
    for char in value + ",":
        if escaped:
            part.append(char)
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
            part.append(char)
        elif char == "," and not quoted:
            token = "".join(part).strip()
            part = []
            if token:
                name, sep, argument = token.partition("=")
                argument = argument.strip()
                if len(argument) >= 2 and argument[0] == argument[-1] == '"':
                    argument = argument[1:-1]
                yield name.strip().lower(), argument if sep else None
        else:
            part.append(char)


NO_DIRECTIVES = CacheControl()


@lru_cache(maxsize=1024)
def request_cache_control(value: str) -> CacheControl:
    """Parse a request's single ``Cache-Control`` value (requests repeat a few values, so cache them)."""
    return parse_cache_control((value,)) if value else NO_DIRECTIVES


def parse_cache_control(values: Iterable[str]) -> CacheControl:
    """Parse every ``Cache-Control`` field line of a message into one ``CacheControl``."""
    seconds: dict[str, int] = {}
    flags: set[str] = set()
    conflicting: set[str] = set()
    for value in values:
        for name, argument in _split_directives(value):
            if name in _SECONDS:
                attribute = _SECONDS[name]
                if name == "max-stale" and argument is None:
                    parsed = ANY_STALENESS
                elif argument is not None and argument.isdigit():
                    parsed = min(int(argument), ANY_STALENESS)
                else:
                    parsed = -1  # malformed: the response is treated as stale (RFC 9111 section 1.2.2)
                if attribute in seconds and seconds[attribute] != parsed:
                    conflicting.add(name)
                    parsed = min(parsed, seconds[attribute])
                seconds[attribute] = parsed
            elif name in _FLAGS:
                # "no-cache" and "private" with field names are still no-cache / private for us.
                flags.add(_FLAGS[name])
    durations = {name: (0 if value < 0 else value) for name, value in seconds.items()}
    return CacheControl(
        max_age=durations.get("max_age"),
        s_maxage=durations.get("s_maxage"),
        max_stale=durations.get("max_stale"),
        min_fresh=durations.get("min_fresh"),
        no_store="no_store" in flags,
        no_cache="no_cache" in flags,
        private="private" in flags,
        public="public" in flags,
        must_revalidate="must_revalidate" in flags,
        proxy_revalidate="proxy_revalidate" in flags,
        only_if_cached="only_if_cached" in flags,
        immutable="immutable" in flags,
        conflicting=frozenset(conflicting),
    )


def parse_http_date(value: str | None) -> float | None:
    """Return an HTTP-date as a POSIX timestamp, or None when absent or invalid."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


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
    """Decide whether a shared cache may store this response (RFC 9111 section 3)."""
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
    if response_headers.get("vary", "").strip() == "*":
        return Storability(False, "Vary: *")
    if request_has_authorization and not (
        response_cc.public or response_cc.must_revalidate or response_cc.s_maxage is not None
    ):
        return Storability(False, "request carried Authorization and the response does not allow sharing")
    explicit = (
        response_cc.public
        or response_cc.max_age is not None
        or response_cc.s_maxage is not None
        or "expires" in response_headers
    )
    if not explicit and status not in HEURISTICALLY_CACHEABLE:
        return Storability(False, f"status {status} needs explicit freshness")
    return Storability(True, "storable")


def freshness_lifetime(
    *, status: int, response_cc: CacheControl, response_headers: Mapping[str, str]
) -> float:
    """Seconds the response stays fresh in a shared cache (RFC 9111 section 4.2.1)."""
    if response_cc.s_maxage is not None:
        return float(response_cc.s_maxage)
    if response_cc.max_age is not None:
        return float(response_cc.max_age)
    if "expires" in response_headers:
        expires = parse_http_date(response_headers["expires"])
        date = parse_http_date(response_headers.get("date"))
        if expires is None or date is None:
            return 0.0  # an invalid Expires means already expired
        return max(0.0, expires - date)
    if status in HEURISTICALLY_CACHEABLE or response_cc.public:
        modified = parse_http_date(response_headers.get("last-modified"))
        date = parse_http_date(response_headers.get("date"))
        if modified is not None and date is not None and date > modified:
            return min(HEURISTIC_CAP, (date - modified) * HEURISTIC_FRACTION)
    return 0.0


def current_age(
    *, response_headers: Mapping[str, str], request_time: float, response_time: float, now: float
) -> float:
    """The age of a stored response at ``now`` (RFC 9111 section 4.2.3)."""
    date = parse_http_date(response_headers.get("date"))
    age_value = response_headers.get("age", "").strip()
    age = float(age_value) if age_value.isdigit() else 0.0
    apparent_age = max(0.0, response_time - date) if date is not None else 0.0
    corrected_age_value = age + (response_time - request_time)
    corrected_initial_age = max(apparent_age, corrected_age_value)
    return corrected_initial_age + (now - response_time)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a stored response for one request."""

    serve: bool  # serve from cache as it is
    revalidate: bool  # ask the origin (conditionally) first
    reason: str


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
    if response_cc.must_revalidate or response_cc.proxy_revalidate or response_cc.s_maxage is not None:
        return Verdict(False, True, "stale and must be revalidated")
    if request_cc.max_stale is not None and -remaining <= request_cc.max_stale:
        return Verdict(True, False, "stale within the request's max-stale")
    return Verdict(False, True, "stale")
