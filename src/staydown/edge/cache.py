"""The edge's memory cache: byte-budgeted LRU of complete responses, keyed by zone and canonical
target, with ``Vary`` variants, and purges by exact target or by path (a block on a path covers
every query of it)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from staydown.edge.freshness import (
    CacheControl,
    current_age,
    freshness_lifetime,
    response_cache_control,
    vary_members,
)
from staydown.edge.httpdate import parse_http_date
from staydown.edge.origin import HOP_BY_HOP
from staydown.edge.responses import stored_head

CacheKey = tuple[int, str]  # (zone id, canonical target)
ENTRY_OVERHEAD = 512  # bytes charged per entry for its bookkeeping
# Kept bytes are not reused this close to either end of the clock span in which they are exact, so
# floating-point rounding can never make them differ from what the full path would build.
SERVED_MARGIN = 0.001
# Fields never stored: this hop's, the framing the edge sets itself, and what is per-response.
NOT_STORED = HOP_BY_HOP | {"age", "content-length", "set-cookie", "staydown-cache"}


def fields_by_name(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Fields by lowered name, repeated fields joined with ", " (RFC 9110 section 5.3)."""
    lowered: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        lowered[key] = f"{lowered[key]}, {value}" if key in lowered else value
    return lowered


@dataclass(slots=True)
class CachedResponse:
    """A stored response; ``head`` is its status line and stored header lines, ready to send."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    request_time: float
    response_time: float
    lifetime: float
    response_cc: CacheControl
    vary: tuple[str, ...] = ()
    # The request's values of the Vary fields, None where it had none: an absent field matches
    # only an absent one, never an empty one (RFC 9111 section 4.1).
    vary_values: tuple[str | None, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    date: float | None = None
    age_at_response: float = 0.0  # corrected initial age (RFC 9111 section 4.2.3)
    head: bytes = field(default=b"", repr=False)
    # A plain hit's response and the clock span [from, until) over which its Age and freshness hold.
    served: tuple[float, float, bytes] | None = field(default=None, repr=False)

    @classmethod
    def from_origin(
        cls,
        *,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        request_headers: dict[str, str],
        request_time: float,
        response_time: float,
        response_cc: CacheControl | None = None,
    ) -> CachedResponse:
        """Store a complete origin response to a request with ``request_headers``."""
        lowered = fields_by_name(headers)
        stored = [(n, v) for n, v in headers if n.lower() not in NOT_STORED]
        vary = vary_members(lowered.get("vary"))
        if response_cc is None:
            response_cc = response_cache_control(headers)
        return cls(
            status=status,
            headers=stored,
            body=body,
            request_time=request_time,
            response_time=response_time,
            lifetime=freshness_lifetime(
                status=status, response_cc=response_cc, response_headers=lowered, received=response_time
            ),
            response_cc=response_cc,
            vary=vary,
            vary_values=tuple(request_headers.get(name) for name in vary),
            etag=lowered.get("etag"),
            last_modified=lowered.get("last-modified"),
            date=parse_http_date(lowered.get("date")),
            age_at_response=current_age(
                response_headers=lowered,
                request_time=request_time,
                response_time=response_time,
                now=response_time,
            ),
            head=stored_head(status, stored),
        )

    def refreshed(
        self, headers: list[tuple[str, str]], *, request_time: float, response_time: float
    ) -> CachedResponse:
        """This response with a 304's ``headers`` folded in (RFC 9111 section 4.3.4)."""
        updates = {n.lower(): (n, v) for n, v in headers if n.lower() not in NOT_STORED}
        merged = [updates.pop(n.lower(), (n, v)) for n, v in self.headers] + list(updates.values())
        lowered = fields_by_name(merged)
        response_cc = response_cache_control(merged)
        return CachedResponse(
            status=self.status,
            headers=merged,
            body=self.body,
            request_time=request_time,
            response_time=response_time,
            lifetime=freshness_lifetime(
                status=self.status, response_cc=response_cc, response_headers=lowered, received=response_time
            ),
            response_cc=response_cc,
            vary=self.vary,
            vary_values=self.vary_values,
            etag=lowered.get("etag"),
            last_modified=lowered.get("last-modified"),
            date=parse_http_date(lowered.get("date")),
            age_at_response=current_age(
                response_headers=fields_by_name(headers),
                request_time=request_time,
                response_time=response_time,
                now=response_time,
            ),
            head=stored_head(self.status, merged),
        )

    @property
    def size(self) -> int:
        return 2 * len(self.body) + len(self.head) + ENTRY_OVERHEAD  # body, and the served copy

    def age(self, now: float) -> float:
        return self.age_at_response + max(0.0, now - self.response_time)

    def keep_served(self, age: int, response: bytes) -> None:
        """Keep a plain hit's response, built with Age ``age``, for as long as it stays exact."""
        born = self.response_time - self.age_at_response  # when the age was 0, for clocks past response_time
        start = max(self.response_time, born + age) + SERVED_MARGIN
        until = min(born + age + 1, born + self.lifetime) - SERVED_MARGIN
        self.served = (start, until, response)

    def kept(self, now: float) -> bytes | None:
        """The kept plain hit response, when its Age and freshness still hold at ``now``."""
        served = self.served
        return served[2] if served is not None and served[0] <= now < served[1] else None

    def matches(self, request_headers: dict[str, str]) -> bool:
        return all(
            request_headers.get(name) == value
            for name, value in zip(self.vary, self.vary_values, strict=True)
        )


class MemoryCache:
    """LRU over variants; inserting beyond ``budget`` bytes evicts the least recently used."""

    def __init__(self, *, budget: int, max_object: int) -> None:
        self.budget, self.max_object = budget, max_object
        self.used = 0
        self._entries: OrderedDict[CacheKey, list[CachedResponse]] = OrderedDict()
        self._by_path: dict[tuple[int, str], set[str]] = {}
        self.evictions = 0
        self.on_drop: Callable[[CacheKey], None] | None = None  # told of every key that leaves

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: CacheKey) -> bool:
        return key in self._entries

    def get(self, key: CacheKey, request_headers: dict[str, str]) -> CachedResponse | None:
        variants = self._entries.get(key)
        if variants is None:
            return None
        self._entries.move_to_end(key)
        for variant in variants:
            if not variant.vary or variant.matches(request_headers):
                return variant
        return None

    def served(self, key: CacheKey, now: float) -> bytes | None:
        """The kept plain hit response of the key's only variant when it is exact at ``now``.

        Only a variant without Vary and without ``no-cache`` qualifies; it is marked recently used.
        """
        variants = self._entries.get(key)
        if variants is None or len(variants) != 1:
            return None
        entry = variants[0]
        if entry.vary or entry.response_cc.no_cache:
            return None
        kept = entry.kept(now)
        if kept is not None:
            self._entries.move_to_end(key)
        return kept

    def put(self, key: CacheKey, entry: CachedResponse) -> bool:
        """Store ``entry``; False when it is larger than the per-object limit."""
        if entry.size > self.max_object:
            return False
        variants = self._entries.setdefault(key, [])
        for index, existing in enumerate(variants):
            if existing.vary == entry.vary and existing.vary_values == entry.vary_values:
                self.used -= existing.size
                del variants[index]
                break
        variants.append(entry)
        self.used += entry.size
        self._entries.move_to_end(key)
        zone_id, target = key
        self._by_path.setdefault((zone_id, target.partition("?")[0]), set()).add(target)
        while self.used > self.budget and self._entries:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            self.evictions += 1
        return True

    def _drop(self, key: CacheKey) -> int:
        variants = self._entries.pop(key, None)
        if variants is None:
            return 0
        if self.on_drop is not None:
            self.on_drop(key)
        self.used -= sum(v.size for v in variants)
        zone_id, target = key
        path_key = (zone_id, target.partition("?")[0])
        targets = self._by_path.get(path_key)
        if targets is not None:
            targets.discard(target)
            if not targets:
                del self._by_path[path_key]
        return len(variants)

    def invalidate(self, key: CacheKey) -> int:
        """Drop every stored variant of exactly ``key``."""
        return self._drop(key)

    def purge(self, zone_id: int, target: str) -> int:
        """Drop the stored target; a target without a query drops every query of that path."""
        if "?" in target:
            return self._drop((zone_id, target))
        targets = list(self._by_path.get((zone_id, target), ()))
        return sum(self._drop((zone_id, t)) for t in targets)

    def purge_zone(self, zone_id: int) -> int:
        return sum(self._drop(key) for key in [k for k in self._entries if k[0] == zone_id])

    def keys(self) -> Iterable[CacheKey]:
        return list(self._entries)
