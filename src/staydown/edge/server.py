"""The edge's coordination: what one worker process shares between its connections.

Per request: framing and Host checked (``protocol``), then enforcement (421/403/451, ``core``), then
the cache (fresh hit, conditional 304, single range 206, ``responses``), then the origin
(``exchange``). This module holds the state those steps share (enforcement state, cache, bank,
limiters, memoised decisions) and applies the feed to it. ``serve`` and ``close`` start and stop
serving on a socket (re-exported from ``protocol``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from staydown.edge import core, exchange
from staydown.edge.cache import CachedResponse, CacheKey, MemoryCache
from staydown.edge.certs import CertStore
from staydown.edge.core import Decision, Outcome, Request
from staydown.edge.exchange import Output, credentialed
from staydown.edge.freshness import request_cache_control, reuse
from staydown.edge.origin import OriginPool
from staydown.edge.protocol import EdgeProtocol, close, serve
from staydown.edge.ratelimit import RateLimiter
from staydown.edge.responses import enforcement_response, hsts_line, render, serve_entry, with_field
from staydown.edge.served import DEFAULT_CAPACITY, ServedCounter
from staydown.edge.state import EnforcementState
from staydown.edge.staydown import BankRecord, StaydownGuard, Verdict
from staydown.fingerprints.hashing import ImageLimits
from staydown.fingerprints.index import Thresholds

__all__ = ["Edge", "EdgeConfig", "EdgeProtocol", "Request", "close", "serve"]

DECISION_MEMO = 100_000  # decisions remembered between feed records
# Stamped hits kept (each answer is the cache's for one second): at most this many, this many bytes.
STAMPED_KEPT, STAMPED_BYTES = 256, 32 * 1024 * 1024
# Request fields that can change a cached answer: such requests never take the fast path.
SLOW_FIELDS = frozenset(
    {
        "authorization", "cookie", "cache-control", "pragma", "range", "if-range",
        "if-none-match", "if-modified-since", "if-match", "if-unmodified-since",
    }
)  # fmt: skip


class Connection(Protocol):
    """What the deadline sweep and a shutdown ask of a client connection, whatever its protocol."""

    deadline: float  # on the edge's sweep clock

    def expire(self) -> None:
        """Close the connection: it is past its deadline."""


class Retiring(Connection, Protocol):
    """A connection that can tell its client no new requests will be taken (HTTP/2's GOAWAY)."""

    def retire(self) -> None: ...

    @property
    def finished(self) -> asyncio.Future[None]:
        """Done once the connection has closed."""


@dataclass
class EdgeConfig:
    legal_url: str = "https://staydown.invalid/legal"
    provider: str = "staydown"
    default_locale: str = "en"  # of the 451 page to a visitor who names no language the edge speaks
    cache_budget: int = 512 * 1024 * 1024
    max_object: int = 32 * 1024 * 1024
    header_timeout: float = 10.0
    idle_timeout: float = 60.0
    max_connections: int = 10_000
    rate_per_second: float = 0.0  # per client IP; 0 disables
    rate_burst: float = 0.0
    max_pipeline: int = 64
    auto_block_distance: int = 31
    review_distance: int = 48
    max_image_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    verdict_threads: int = 2
    max_body: int = 100 * 1024 * 1024  # bytes of a request body (413 beyond)
    https_port: int = 443  # the port redirects to HTTPS name
    tls_handshake_timeout: float = 10.0  # seconds a TLS handshake may take, from the connection
    served_capacity: int = DEFAULT_CAPACITY  # resources counted per zone (edge/served.py's bound)
    served_report_seconds: float = 60.0  # how often served-request counts go to the control plane


class Edge:
    """Everything one worker process shares between its connections."""

    def __init__(
        self, state: EnforcementState, config: EdgeConfig, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.state, self.config, self.clock = state, config, clock
        self.pool = OriginPool()
        self.limiter = RateLimiter(rate=config.rate_per_second, burst=config.rate_burst)
        self.zone_limiters: dict[int, RateLimiter] = {}
        self.inflight: dict[tuple[int, str], asyncio.Future[CachedResponse | None]] = {}
        # Revalidations under stale-while-revalidate that nobody waits for, one per key at most.
        self.revalidating: dict[CacheKey, asyncio.Task[bool]] = {}
        self.connections = 0
        # Connection deadlines are checked by one sweep, on a clock that the sweep advances.
        self.open: set[Connection] = set()
        self.retiring: set[Retiring] = set()  # those of them a shutdown tells to finish first
        self.tick = 0.0
        self.sweep_every = min(1.0, config.header_timeout / 4, config.idle_timeout / 4)
        self._sweeper: asyncio.TimerHandle | None = None
        self.counters: dict[str, int] = {}
        # Requests answered with each zone's content, per resource (reported to the control plane).
        self.served = ServedCounter(config.served_capacity)
        # Decisions memoised per (Host, target, method, scheme), with the cache key of those that proxy.
        self._decisions: dict[tuple[str | None, str, str, str], tuple[Decision, CacheKey | None]] = {}
        # Hits stamped with a zone's Strict-Transport-Security, by the kept answer they came from
        # (the same bytes for every hit of a second): stamping copies the whole answer.
        self._stamped: dict[tuple[bytes, int], bytes] = {}
        self._stamped_bytes = 0
        self.thresholds = Thresholds(config.auto_block_distance, config.review_distance)
        # Copies this worker found and blocked itself, until the control plane's block record arrives.
        self.staydown_blocks: dict[tuple[int, str], BankRecord] = {}
        self.report: Callable[[dict[str, Any]], None] = lambda match: None
        # Told the request being decided, then None: a stall there is reported with its request line.
        self.answering: Callable[[Request | None], None] | None = None
        self.image_limits = ImageLimits(max_bytes=config.max_image_bytes, max_pixels=config.max_image_pixels)
        self.hasher = ThreadPoolExecutor(config.verdict_threads, thread_name_prefix="staydown-verdict")
        # The second stage takes tens of milliseconds a copy: a thread of its own, so that it never
        # holds up the verdicts that decide serving.
        self.after_serving = ThreadPoolExecutor(1, thread_name_prefix="staydown-second-stage")
        self.second_stage_pending = 0
        self.cache: MemoryCache
        self.guard: StaydownGuard
        self.certs: CertStore | None = None  # the certificates of HTTPS, when this edge serves it
        self._prepared: tuple[EnforcementState, StaydownGuard] | None = None
        self.replace_state(state)  # the cache, the bank's index and zone limiters, from the state

    def watch(self, connection: Connection) -> None:
        """Put a new connection under the deadline sweep."""
        loop = asyncio.get_running_loop()
        self.tick = loop.time()
        self.open.add(connection)
        if self._sweeper is None:
            self._sweeper = loop.call_later(self.sweep_every, self._sweep)

    def _sweep(self) -> None:
        """Close the connections past their deadline; deadlines are kept within one sweep interval."""
        loop = asyncio.get_running_loop()
        self.tick = now = loop.time()
        for connection in [c for c in self.open if c.deadline <= now]:
            connection.expire()
        self._sweeper = loop.call_later(self.sweep_every, self._sweep) if self.open else None

    async def retire(self, grace: float) -> None:
        """Tell the connections that can say so that no new requests will be taken, and give the
        requests they have begun ``grace`` seconds to finish."""
        connections = list(self.retiring)
        for connection in connections:
            connection.retire()
        if not connections:
            return
        await asyncio.wait([c.finished for c in connections], timeout=grace)
        late = [c for c in connections if not c.finished.done()]
        for connection in late:
            connection.expire()  # past the grace, cut off (and those closing, aborted)
        if late:
            await asyncio.wait([c.finished for c in late], timeout=1)

    def stop_sweep(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    def tls_zone(self, transport: asyncio.BaseTransport) -> int | None:
        """The zone whose certificate a TLS connection was given (None over plain HTTP)."""
        if self.certs is None:
            return None
        return self.certs.zone_of(transport.get_extra_info("ssl_object"))

    def count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def apply(self, records: list[dict[str, Any]]) -> None:
        """Apply feed records in order and purge what they take out of service."""
        self._decisions.clear()  # before and after: no decision outlives a record it predates
        for record in records:
            kind, zone_id, target = self.state.apply(record)
            if kind in ("block", "purge") and zone_id is not None and target is not None:
                self.cache.purge(zone_id, target)
            elif kind == "unblock" and zone_id is not None and target is not None:
                self.staydown_blocks.pop((zone_id, target), None)
            elif kind == "zone" and zone_id is not None:
                zone = self.state.zones.get(zone_id)
                if zone is None or zone.status != "active":
                    self.cache.purge_zone(zone_id)
                self._zone_limiter(zone_id)
            elif kind == "hash_add":
                self._banked(BankRecord.from_record(record))
            elif kind == "hash_remove":
                entry_id = int(record["entry_id"])
                self.guard.remove(entry_id)
                for key in [k for k, e in self.staydown_blocks.items() if e.entry_id == entry_id]:
                    del self.staydown_blocks[key]
        self._decisions.clear()

    def _zone_limiter(self, zone_id: int) -> None:
        """Keep a zone's own limiter in step with its record (buckets survive an unchanged limit)."""
        zone = self.state.zones.get(zone_id)
        rate = zone.rate_per_second if zone is not None else None
        if not rate:
            self.zone_limiters.pop(zone_id, None)
            return
        burst = zone.rate_burst if zone is not None and zone.rate_burst else rate
        current = self.zone_limiters.get(zone_id)
        if current is None or current.rate != rate or current.burst != max(burst, rate):
            self.zone_limiters[zone_id] = RateLimiter(rate=rate, burst=burst)

    def throttled(self, request: Request, client: str) -> bytes | None:
        """The 429 for a request over its limiter's rate (its body is dropped), else None."""
        limiter = self.limiter_for(request)
        if limiter is None or limiter.allow(client, time.monotonic()):
            return None
        self.count("rate_limited")
        if request.body is not None:
            request.body.discard()
        retry = max(1, int(limiter.retry_after(client, time.monotonic()) + 0.999))
        return render(429, b"Too many requests.\n", headers=[("Retry-After", str(retry))])

    def limiter_for(self, request: Request) -> RateLimiter | None:
        """The limiter that counts this request: its zone's own, else the edge's, else none."""
        if self.zone_limiters:
            zone = self.decide(request).zone
            if zone is not None and zone.zone_id in self.zone_limiters:
                return self.zone_limiters[zone.zone_id]
        return self.limiter if self.limiter.rate else None

    def _banked(self, entry: BankRecord) -> None:
        """A new bank entry: purge and block the cached copies it covers."""
        self.guard.add(entry)
        for key, distance, exact in self.guard.sweep(entry):
            zone_id, target = key
            zone = self.state.zones.get(zone_id)
            if zone is None or not entry.covers(zone_id=zone_id, customer_id=zone.customer_id):
                continue
            if self.state.exempted(zone_id, target):
                continue
            if self.guard.allowed_copy(key, zone_id=zone_id, customer_id=zone.customer_id):
                continue  # licensed or public domain: never blocked automatically
            self.cache.purge(zone_id, target)
            self.count("staydown_purged")
            self.block_copy(key, Verdict(entry, distance, exact, "block"), host=zone.hostnames[0])

    def block_copy(self, key: tuple[int, str], verdict: Verdict, *, host: str) -> None:
        """Block a copy this worker found itself, until the control plane's block record arrives."""
        self.staydown_blocks[key] = verdict.entry
        self._decisions.clear()
        self.report_match(key, verdict, host=host)

    def report_match(
        self, key: tuple[int, str], verdict: Verdict, *, host: str, sha256: bytes | None = None
    ) -> None:
        """Tell the control plane of a cached copy the bank matched."""
        zone_id, target = key
        self.report(
            {
                "entry_id": verdict.entry.entry_id,
                "zone_id": zone_id,
                "target": target,
                "url": f"http://{host}{target}",
                "distance": verdict.distance,
                "exact": verdict.exact,
                "copy_sha256": (sha256 or self.guard.cached.sha.get(key) or verdict.entry.sha256).hex(),
                **({"evidence": verdict.evidence.to_record()} if verdict.evidence is not None else {}),
                **({"part": verdict.part} if verdict.part != "whole" else {}),
                **({"allowlisted": verdict.allowed_by} if verdict.allowed_by is not None else {}),
            }
        )

    # --- deciding -------------------------------------------------------------------------

    def decide(self, request: Request) -> Decision:
        """Enforcement's decision, memoised per (Host, target, method, scheme) until the next feed
        record. Over TLS, a Host outside the zone whose certificate the connection was given is
        misdirected (421): a connection is never used for another zone."""
        decision = self._decide(request)
        zone = decision.zone
        if request.tls_zone is not None and zone is not None and zone.zone_id != request.tls_zone:
            return Decision(Outcome.unknown_host, url=decision.url, detail="misdirected")
        return decision

    def _decide(self, request: Request) -> Decision:
        host = request.headers.get("host")
        key = (host, request.target, request.method, request.scheme)
        memo = self._decisions.get(key)
        if memo is not None:
            return memo[0]
        decision = core.decide(
            self.state, method=request.method, host=host, target=request.target, scheme=request.scheme
        )
        if self.staydown_blocks and decision.outcome is Outcome.proxy:
            decision = self._staydown_decision(decision)
        cache_key = None
        if decision.outcome is Outcome.proxy:
            assert decision.zone is not None and decision.url is not None
            cache_key = (decision.zone.zone_id, decision.url.target)
        if len(self._decisions) >= DECISION_MEMO:
            self._decisions.clear()
        self._decisions[key] = (decision, cache_key)
        return decision

    def _staydown_decision(self, decision: Decision) -> Decision:
        assert decision.zone is not None and decision.url is not None
        zone_id, target = decision.zone.zone_id, decision.url.target
        entry = self.staydown_blocks.get((zone_id, target))
        if entry is None and "?" in target:
            entry = self.staydown_blocks.get((zone_id, target.partition("?")[0]))
        if entry is None:
            return decision
        return Decision(Outcome.blocked, zone=decision.zone, url=decision.url, notice_id=entry.notice_id)

    def prepare_state(self, state: EnforcementState) -> None:
        """Build the bank's index for ``state`` ahead of ``replace_state`` (safe in another thread:
        it touches nothing the serving loop reads), so that the swap itself takes no time."""
        self._prepared = (state, self._guard_for(state))

    def _guard_for(self, state: EnforcementState) -> StaydownGuard:
        guard = StaydownGuard(self.thresholds)
        guard.load(map(BankRecord.from_record, state.bank.values()))
        return guard

    def replace_state(self, state: EnforcementState) -> None:
        """Enforce ``state`` from now on, with everything derived from it built afresh."""
        prepared, self._prepared = self._prepared, None
        self.state = state
        self._decisions.clear()
        self.cache = MemoryCache(budget=self.config.cache_budget, max_object=self.config.max_object)
        self.guard = prepared[1] if prepared is not None and prepared[0] is state else self._guard_for(state)
        self.cache.on_drop = self.guard.cached.forget
        self.staydown_blocks.clear()
        self.zone_limiters.clear()
        for zone_id in state.zones:
            self._zone_limiter(zone_id)

    def immediate(self, request: Request, decision: Decision) -> bytes | None:
        """Answer without the origin when enforcement or a fresh cached copy allows; else None."""
        head = request.method == "HEAD"
        if decision.outcome is not Outcome.proxy:
            self.count(decision.outcome.value)
            response = enforcement_response(
                decision,
                legal_url=self.config.legal_url,
                provider=self.config.provider,
                accept=request.headers.get("accept", ""),
                head=head,
                https_port=self.config.https_port,
                accept_language=request.headers.get("accept-language", ""),
                default_locale=self.config.default_locale,
            )
            return self.stamped(response, request, decision)
        assert decision.zone is not None and decision.url is not None
        zone_id, target = decision.zone.zone_id, decision.url.target
        counts = self.served.zones.get(zone_id)  # ServedCounter.served, inlined
        n = counts.get(target) if counts is not None else None
        if n is None:
            self.served.add(zone_id, target)
        else:
            counts[target] = n + 1  # type: ignore[index]
        if request.method not in core.CACHED_METHODS:
            return None  # passes to the origin
        entry = self.lookup(request, (decision.zone.zone_id, decision.url.target))
        if entry is None:
            return None
        now = self.clock()
        cache_control = request.headers.get("cache-control")
        age = entry.age(now)
        # The common case, a fresh copy and no directives, needs only the arithmetic.
        if cache_control is not None or entry.response_cc.no_cache or age >= entry.lifetime:
            verdict = reuse(
                lifetime=entry.lifetime,
                age=age,
                request_cc=request_cache_control(cache_control or ""),
                response_cc=entry.response_cc,
            )
            if not verdict.serve:
                return None
            if verdict.background:  # stale-while-revalidate
                exchange.revalidate_in_background(self, request, decision)
                self.count("stale")
                return self.stamped(serve_entry(entry, request, now=now, state="stale"), request, decision)
        self.count("hit")
        return self.stamped(serve_entry(entry, request, now=now, state="hit"), request, decision)

    @staticmethod
    def hsts(request: Request, decision: Decision) -> bytes | None:
        """The Strict-Transport-Security line an HTTPS response of the decision's zone carries, if any."""
        zone = decision.zone
        if request.scheme != "https" or zone is None or zone.hsts_max_age is None:
            return None
        return hsts_line(zone.hsts_max_age)

    def stamped(self, response: bytes, request: Request, decision: Decision) -> bytes:
        """``response`` with the zone's Strict-Transport-Security when it goes out over HTTPS."""
        line = self.hsts(request, decision)
        return response if line is None else with_field(response, line)

    def fast_hit(
        self,
        host: str | None,
        target: str,
        headers: dict[str, str],
        scheme: str = "http",
        tls_zone: int | None = None,
    ) -> bytes | None:
        """The bytes already served this second for a plain keep-alive GET of a fresh cached copy.

        Only a request the full path would answer with exactly these bytes qualifies: enforcement
        already decided for this Host and target since the last feed record, no field that changes
        the answer (credentials, conditionals, ranges, cache directives), one stored variant without
        Vary, fresh, and the same Age. Anything else returns None and takes the full path.
        """
        memo = self._decisions.get((host, target, "GET", scheme))
        if memo is None or memo[1] is None or not headers.keys().isdisjoint(SLOW_FIELDS):
            return None  # not decided since the last feed record, or not one the cache may answer
        if tls_zone is not None and memo[1][0] != tls_zone:
            return None  # another zone than the connection's certificate: the full path answers 421
        answer = self.cache.served(memo[1], self.clock())
        if answer is not None:
            self.counters["hit"] = self.counters.get("hit", 0) + 1
            zone_id, target = memo[1]
            counts = self.served.zones.get(zone_id)  # ServedCounter.served, inlined
            n = counts.get(target) if counts is not None else None
            if n is None:
                self.served.add(zone_id, target)
            else:
                counts[target] = n + 1  # type: ignore[index]
            if scheme == "https":
                zone = memo[0].zone
                if zone is not None and zone.hsts_max_age is not None:
                    answer = self._stamp(answer, zone.hsts_max_age)
        return answer

    def _stamp(self, answer: bytes, max_age: int) -> bytes:
        """``answer`` with the Strict-Transport-Security of ``max_age``, made once per kept answer."""
        key = (answer, max_age)
        stamped = self._stamped.get(key)
        if stamped is None:
            stamped = with_field(answer, hsts_line(max_age))
            if len(self._stamped) >= STAMPED_KEPT or self._stamped_bytes + len(stamped) > STAMPED_BYTES:
                self._stamped.clear()
                self._stamped_bytes = 0
            if len(stamped) <= STAMPED_BYTES:
                self._stamped[key] = stamped
                self._stamped_bytes += len(stamped)
        return stamped

    def lookup(self, request: Request, key: tuple[int, str]) -> CachedResponse | None:
        entry = self.cache.get(key, request.headers)
        if entry is None:
            return None
        if credentialed(request) and not (entry.response_cc.public or entry.response_cc.s_maxage is not None):
            return None
        return entry

    async def fill(self, request: Request, decision: Decision, write: Output) -> bool:
        """Answer from the origin (or the fetch in flight for the same key); False to close."""
        return await exchange.answer(self, request, decision, write)
