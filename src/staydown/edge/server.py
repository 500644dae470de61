"""The edge's HTTP/1.1 server: an asyncio protocol driving httptools, with the sans-io core deciding.

Per request: framing and Host checked, then enforcement (421/403/451), then the cache (fresh hit,
conditional 304, single range 206), then the origin with one fetch per key while other requests
for it wait. Responses that may not be shared, or are too large, stream through uncached.
Pipelined requests are answered strictly in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, cast

import httptools

from staydown.edge import core
from staydown.edge.cache import CachedResponse, CacheKey, MemoryCache
from staydown.edge.core import Decision, Outcome
from staydown.edge.freshness import (
    CacheControl,
    current_age,
    freshness_lifetime,
    parse_cache_control,
    parse_http_date,
    request_cache_control,
    reuse,
    storability,
)
from staydown.edge.origin import HOP_BY_HOP, OriginError, OriginPool, OriginResponse
from staydown.edge.ratelimit import RateLimiter
from staydown.edge.state import EnforcementState, ZoneState
from staydown.edge.staydown import SECOND_STAGE_BACKLOG, BankRecord, StaydownGuard, Verdict
from staydown.fingerprints.hashing import (
    Fingerprint,
    ImageLimits,
    ImageRejected,
    fingerprint,
    is_image_type,
    sniff,
)
from staydown.fingerprints.index import Thresholds

log = logging.getLogger("staydown.edge")
access_log = logging.getLogger("staydown.edge.access")


class Output(Protocol):
    """Where an answer that needs the origin goes: a write, and a wait while the client has not
    taken what was written (so a slow client slows the origin read instead of filling memory)."""

    def __call__(self, data: bytes) -> None: ...

    async def drained(self) -> None: ...


DECISION_MEMO = 100_000  # decisions remembered between feed records
WRITE_BATCH = 256 * 1024  # cached answers of one read held back for one write, at most (bytes)
# Request fields that can change a cached answer: such requests never take the fast path.
SLOW_FIELDS = frozenset(
    {
        "authorization", "cookie", "cache-control", "pragma", "range", "if-range",
        "if-none-match", "if-modified-since", "if-match", "if-unmodified-since",
    }
)  # fmt: skip
# Request fields the edge does not pass on: hop-by-hop and framing fields, the conditionals and
# ranges it answers itself (it always fills from a full response), and those it sets itself.
NOT_FORWARDED = HOP_BY_HOP | {
    "host",
    "content-length",
    "expect",
    "range",
    "if-range",
    "if-none-match",
    "if-modified-since",
    "if-match",
    "if-unmodified-since",
    "x-forwarded-for",
    "via",
    "forwarded",
}
NOT_STORED = HOP_BY_HOP | {"age", "content-length", "set-cookie", "staydown-cache"}


@dataclass
class EdgeConfig:
    legal_url: str = "https://staydown.invalid/legal"
    provider: str = "staydown"
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


@dataclass(slots=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]
    keep_alive: bool
    client: str


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
        self.connections = 0
        # Connection deadlines are checked by one sweep, on a clock that the sweep advances.
        self.open: set[EdgeProtocol] = set()
        self.tick = 0.0
        self.sweep_every = min(1.0, config.header_timeout / 4, config.idle_timeout / 4)
        self._sweeper: asyncio.TimerHandle | None = None
        self.counters: dict[str, int] = {}
        # Decisions memoised per (Host, target, method), with the cache key of those that proxy.
        self._decisions: dict[tuple[str | None, str, str], tuple[Decision, CacheKey | None]] = {}
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
        self.replace_state(state)  # the cache, the bank's index and zone limiters, from the state

    def watch(self, connection: EdgeProtocol) -> None:
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

    def stop_sweep(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

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
            self._block_copy(key, Verdict(entry, distance, exact, "block"), host=zone.hostnames[0])

    def _block_copy(self, key: tuple[int, str], verdict: Verdict, *, host: str) -> None:
        self.staydown_blocks[key] = verdict.entry
        self._decisions.clear()
        self._report(key, verdict, host=host)

    def _report(
        self, key: tuple[int, str], verdict: Verdict, *, host: str, sha256: bytes | None = None
    ) -> None:
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
        """Enforcement's decision, memoised per (Host, target, method) until the next feed record."""
        host = request.headers.get("host")
        key = (host, request.target, request.method)
        memo = self._decisions.get(key)
        if memo is not None:
            return memo[0]
        decision = core.decide(self.state, method=request.method, host=host, target=request.target)
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

    def replace_state(self, state: EnforcementState) -> None:
        """Enforce ``state`` from now on, with everything derived from it built afresh."""
        self.state = state
        self._decisions.clear()
        self.cache = MemoryCache(budget=self.config.cache_budget, max_object=self.config.max_object)
        self.guard = StaydownGuard(self.thresholds)
        self.guard.load(BankRecord.from_record(r) for r in state.bank.values())
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
            return core.enforcement_response(
                decision,
                legal_url=self.config.legal_url,
                provider=self.config.provider,
                accept=request.headers.get("accept", ""),
                head=head,
            )
        assert decision.zone is not None and decision.url is not None
        entry = self.lookup(request, (decision.zone.zone_id, decision.url.target))
        if entry is None:
            return None
        now = self.clock()
        cache_control = request.headers.get("cache-control")
        if cache_control is None and not entry.response_cc.no_cache:
            if entry.age(now) >= entry.lifetime:  # the common case needs only the arithmetic
                return None
        else:
            verdict = reuse(
                lifetime=entry.lifetime,
                age=entry.age(now),
                request_cc=request_cache_control(cache_control or ""),
                response_cc=entry.response_cc,
            )
            if not verdict.serve:
                return None
        self.count("hit")
        return serve_entry(entry, request, now=now, state="hit")

    def fast_hit(self, host: str | None, target: str, headers: dict[str, str]) -> bytes | None:
        """The bytes already served this second for a plain keep-alive GET of a fresh cached copy.

        Only a request the full path would answer with exactly these bytes qualifies: enforcement
        already decided for this Host and target since the last feed record, no field that changes
        the answer (credentials, conditionals, ranges, cache directives), one stored variant without
        Vary, fresh, and the same Age. Anything else returns None and takes the full path.
        """
        memo = self._decisions.get((host, target, "GET"))
        if memo is None or memo[1] is None or not headers.keys().isdisjoint(SLOW_FIELDS):
            return None  # not decided since the last feed record, or not one the cache may answer
        answer = self.cache.served(memo[1], self.clock())
        if answer is not None:
            self.counters["hit"] = self.counters.get("hit", 0) + 1
        return answer

    def lookup(self, request: Request, key: tuple[int, str]) -> CachedResponse | None:
        entry = self.cache.get(key, request.headers)
        if entry is None:
            return None
        if _credentialed(request) and not (
            entry.response_cc.public or entry.response_cc.s_maxage is not None
        ):
            return None
        return entry

    # --- the origin -----------------------------------------------------------------------

    async def fill(self, request: Request, decision: Decision, write: Output) -> bool:
        """Fetch from the origin (or wait for the fetch in flight) and answer; False to close."""
        assert decision.zone is not None and decision.url is not None
        key = (decision.zone.zone_id, decision.url.target)
        shared = not _credentialed(request)
        if shared and key in self.inflight:
            entry = await asyncio.shield(self.inflight[key])
            blocked = self.decide(request)  # a block may have arrived while waiting
            if blocked.outcome is not Outcome.proxy:
                write(self.immediate(request, blocked) or b"")
                return True
            if entry is not None:
                self.count("coalesced")
                write(serve_entry(entry, request, now=self.clock(), state="hit"))
                return True
        future: asyncio.Future[CachedResponse | None] | None = None
        if shared:
            future = asyncio.get_running_loop().create_future()
            self.inflight[key] = future
        try:
            return await self._fetch(request, decision, key, write, shared=shared, future=future)
        finally:
            if future is not None:
                if not future.done():
                    future.set_result(None)
                if self.inflight.get(key) is future:
                    del self.inflight[key]

    async def _fetch(
        self,
        request: Request,
        decision: Decision,
        key: tuple[int, str],
        write: Output,
        *,
        shared: bool,
        future: asyncio.Future[CachedResponse | None] | None,
    ) -> bool:
        assert decision.zone is not None and decision.url is not None
        stale = self.cache.get(key, request.headers) if shared else None
        dropped = NOT_FORWARDED
        if "connection" in request.headers:  # and the fields it names are this hop's (RFC 9110 7.6.1)
            dropped = dropped | {t.strip().lower() for t in request.headers["connection"].split(",")}
        headers = [(n, v) for n, v in request.headers.items() if n not in dropped]
        headers.append(("X-Forwarded-For", request.client))
        headers.append(("Via", "1.1 staydown"))
        if stale is not None and stale.etag:
            headers.append(("If-None-Match", stale.etag))
        elif stale is not None and stale.last_modified:
            headers.append(("If-Modified-Since", stale.last_modified))
        request_time = self.clock()
        try:
            response = await self.pool.fetch(
                decision.zone.origin, hostname=decision.url.host, target=decision.url.target, headers=headers
            )
        except OriginError as exc:
            log.warning("origin fetch for %s failed: %s", decision.url.url, exc)
            self.count("origin_error")
            write(core.render(502, b"The origin could not be reached.\n", head=request.method == "HEAD"))
            return True
        response_time = self.clock()
        if response.status == 304 and stale is not None:
            async for _ in response.body():
                pass
            refreshed = _refresh(stale, response, request_time=request_time, response_time=response_time)
            self.cache.put(key, refreshed)
            if future is not None:
                future.set_result(refreshed)
            self.count("revalidated")
            write(serve_entry(refreshed, request, now=response_time, state="revalidated"))
            return True
        request_cc = request_cache_control(request.headers.get("cache-control", ""))
        response_cc = parse_cache_control([v for n, v in response.headers if n.lower() == "cache-control"])
        verdict = storability(
            method="GET",
            status=response.status,
            request_cc=request_cc,
            response_cc=response_cc,
            response_headers=_lower(response.headers),
            request_has_authorization="authorization" in request.headers,
        )
        storable = verdict.storable and (shared or response_cc.public or response_cc.s_maxage is not None)
        too_big = response.content_length is not None and response.content_length > self.config.max_object
        if not storable or too_big:
            self.count("bypass")
            return await _stream(response, request, write, state="bypass")
        return await self._store(request, response, key, write, response_cc, request_time, future)

    async def _store(
        self,
        request: Request,
        response: OriginResponse,
        key: tuple[int, str],
        write: Output,
        response_cc: CacheControl,
        request_time: float,
        future: asyncio.Future[CachedResponse | None] | None,
    ) -> bool:
        """Buffer a storable response, check it, store it, answer; stream it if it outgrows the limit."""
        body = bytearray()
        pieces = response.body()
        async for piece in pieces:
            body += piece
            if len(body) > self.config.max_object:
                self.count("bypass")
                return await _stream(response, request, write, state="bypass", first=bytes(body), rest=pieces)
        entry = _entry(response, bytes(body), request, response_cc, request_time, self.clock())
        decision = self.decide(request)  # a block may have arrived while the body was read
        assessed = None
        if entry.status == 200 and decision.outcome is Outcome.proxy:
            assessed = await self._assess(entry, decision)
            decision = self.decide(request)  # or while the image was judged
        fp = assessed[0] if assessed is not None else None
        if assessed is not None and decision.outcome is Outcome.proxy:
            self._judge(decision, key, *assessed, body=entry.body)
            decision = self.decide(request)
        if decision.outcome is not Outcome.proxy:
            write(self.immediate(request, decision) or b"")
            return True
        self.cache.put(key, entry)
        if fp is not None and key in self.cache:
            self.guard.cached.remember(key, fp)
        if future is not None:
            future.set_result(entry)
        self.count("miss")
        write(serve_entry(entry, request, now=self.clock(), state="miss"))
        return True

    async def _assess(
        self, entry: CachedResponse, decision: Decision
    ) -> tuple[Fingerprint, Verdict | None, int] | None:
        """Fingerprint a filled image and ask the bank, both off the event loop; None for non-images."""
        content_type = next((v for n, v in entry.headers if n.lower() == "content-type"), "")
        if not (is_image_type(content_type) or sniff(entry.body) is not None):
            return None
        assert decision.zone is not None
        generation = self.guard.generation
        loop = asyncio.get_running_loop()
        try:
            fp, verdict = await loop.run_in_executor(
                self.hasher, _assess, self.guard, entry.body, self.image_limits, decision.zone
            )
        except ImageRejected as exc:
            self.count("image_rejected")
            log.info("cached image not fingerprinted: %s", exc)
            return None
        return fp, verdict, generation

    def _judge(
        self,
        decision: Decision,
        key: tuple[int, str],
        fp: Fingerprint,
        verdict: Verdict | None,
        generation: int,
        *,
        body: bytes,
    ) -> None:
        """Apply the bank's verdict on a filled image before it is first served from the cache."""
        assert decision.zone is not None and decision.url is not None
        zone = decision.zone
        if generation != self.guard.generation:  # the bank changed meanwhile: ask it again
            verdict = self.guard.verdict(fp, zone_id=zone.zone_id, customer_id=zone.customer_id)
        if self.state.exempted(*key):
            return
        if verdict is not None:
            self.count("staydown_blocked")
            self.guard.cached.forget(key)
            self._block_copy(key, verdict, host=decision.url.host)
            return
        # Served: the second stage, and whether a person should look at it (the review band), are
        # asked after, off the loop. The second stage's queue holds image bodies: past a bounded
        # backlog a copy gets the review band only.
        host = decision.url.host
        second = self.second_stage_pending < SECOND_STAGE_BACKLOG
        zone_id, customer_id = zone.zone_id, zone.customer_id
        if second:
            self.second_stage_pending += 1
            job = partial(
                self.guard.after_serving,
                fp,
                body,
                zone_id=zone_id,
                customer_id=customer_id,
                limits=self.image_limits,
            )
        else:
            self.count("staydown_second_stage_skipped")
            job = partial(self.guard.review, fp, zone_id=zone_id, customer_id=customer_id)
        review = asyncio.get_running_loop().run_in_executor(
            self.after_serving if second else self.hasher, job
        )
        review.add_done_callback(partial(self._reviewed, key, host=host, sha256=fp.sha256, second=second))

    def _reviewed(
        self,
        key: CacheKey,
        done: asyncio.Future[Verdict | None],
        *,
        host: str,
        sha256: bytes,
        second: bool = False,
    ) -> None:
        if second:
            self.second_stage_pending -= 1
        try:
            verdict = done.result()
        except Exception:
            log.exception("review search failed for %s", key)
            return
        if verdict is None or self.state.exempted(*key):
            return
        if verdict.outcome == "block":  # the second stage: purge the copy just served, and block it
            self.count("staydown_blocked_late")
            self.cache.purge(*key)
            self.guard.cached.forget(key)
            self._block_copy(key, verdict, host=host)
            return
        self.count("staydown_review")
        self._report(key, verdict, host=host, sha256=sha256)


def _assess(
    guard: StaydownGuard, body: bytes, limits: ImageLimits, zone: ZoneState
) -> tuple[Fingerprint, Verdict | None]:
    """Run in the verdict threads: the bank's index is safe to search while the loop changes it."""
    fp = fingerprint(body, limits=limits)
    return fp, guard.verdict(fp, zone_id=zone.zone_id, customer_id=zone.customer_id)


async def _stream(
    response: OriginResponse,
    request: Request,
    write: Output,
    *,
    state: str,
    first: bytes = b"",
    rest: AsyncIterator[bytes] | None = None,
) -> bool:
    """Pass a response through without storing it, chunked when the origin gave no length."""
    length = response.content_length
    write(_stream_head(response, request, state=state, length=length))
    send = request.method != "HEAD"
    if send and first:
        write(_chunk(first, length))
    async for piece in rest if rest is not None else response.body():
        if send:
            write(_chunk(piece, length))
            await write.drained()  # read no more from the origin than the client takes
    if send:
        write(_last_chunk(length))
    return request.keep_alive


def _credentialed(request: Request) -> bool:
    return "authorization" in request.headers or "cookie" in request.headers


def _lower(headers: list[tuple[str, str]]) -> dict[str, str]:
    lowered: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        lowered[key] = f"{lowered[key]}, {value}" if key in lowered else value
    return lowered


def _entry(
    response: OriginResponse,
    body: bytes,
    request: Request,
    response_cc: CacheControl,
    request_time: float,
    response_time: float,
) -> CachedResponse:
    lowered = _lower(response.headers)
    stored = [(n, v) for n, v in response.headers if n.lower() not in NOT_STORED]
    vary = tuple(sorted({v.strip().lower() for v in lowered.get("vary", "").split(",") if v.strip()}))
    head = f"{core.status_line(response.status)}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in stored)
    return CachedResponse(
        status=response.status,
        headers=stored,
        body=body,
        request_time=request_time,
        response_time=response_time,
        lifetime=freshness_lifetime(
            status=response.status, response_cc=response_cc, response_headers=lowered
        ),
        response_cc=response_cc,
        vary=vary,
        vary_values=tuple(request.headers.get(name, "") for name in vary),
        etag=lowered.get("etag"),
        last_modified=lowered.get("last-modified"),
        date=parse_http_date(lowered.get("date")),
        age_at_response=current_age(
            response_headers=lowered,
            request_time=request_time,
            response_time=response_time,
            now=response_time,
        ),
        head=head.encode("latin-1"),
    )


def _refresh(
    stale: CachedResponse, response: OriginResponse, *, request_time: float, response_time: float
) -> CachedResponse:
    """Fold a 304's headers into the stored response (RFC 9111 section 4.3.4)."""
    updates = {n.lower(): (n, v) for n, v in response.headers if n.lower() not in NOT_STORED}
    headers = [updates.pop(n.lower(), (n, v)) for n, v in stale.headers] + list(updates.values())
    lowered = _lower(headers)
    response_cc = parse_cache_control([v for n, v in headers if n.lower() == "cache-control"])
    head = f"{core.status_line(stale.status)}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    return CachedResponse(
        status=stale.status,
        headers=headers,
        body=stale.body,
        request_time=request_time,
        response_time=response_time,
        lifetime=freshness_lifetime(status=stale.status, response_cc=response_cc, response_headers=lowered),
        response_cc=response_cc,
        vary=stale.vary,
        vary_values=stale.vary_values,
        etag=lowered.get("etag"),
        last_modified=lowered.get("last-modified"),
        date=parse_http_date(lowered.get("date")),
        age_at_response=current_age(
            response_headers=_lower(response.headers),
            request_time=request_time,
            response_time=response_time,
            now=response_time,
        ),
        head=head.encode("latin-1"),
    )


def _stream_head(response: OriginResponse, request: Request, *, state: str, length: int | None) -> bytes:
    lines = [core.status_line(response.status)]
    lines += [f"{n}: {v}" for n, v in response.headers if n.lower() not in HOP_BY_HOP | {"content-length"}]
    lines.append(f"Staydown-Cache: {state}")
    if request.method == "HEAD" or response.status in (204, 304):
        if length is not None:
            lines.append(f"Content-Length: {length}")
    elif length is not None:
        lines.append(f"Content-Length: {length}")
    else:
        lines.append("Transfer-Encoding: chunked")
    if not request.keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _chunk(piece: bytes, length: int | None) -> bytes:
    if length is not None or not piece:
        return piece
    return b"%x\r\n%s\r\n" % (len(piece), piece)


def _last_chunk(length: int | None) -> bytes:
    return b"" if length is not None else b"0\r\n\r\n"


def _etag_matches(condition: str, etag: str | None) -> bool:
    if etag is None:
        return False
    if condition.strip() == "*":
        return True
    weak = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == weak for tag in condition.split(","))


def serve_entry(entry: CachedResponse, request: Request, *, now: float, state: str) -> bytes:
    """Answer a request from a stored response: 200, 304 or 206/416 as the request asks."""
    age = int(entry.age(now))
    headers = request.headers
    plain = (
        state == "hit"
        and request.keep_alive
        and request.method == "GET"
        and "if-none-match" not in headers
        and "if-modified-since" not in headers
        and "range" not in headers
    )
    kept = entry.kept(now) if plain else None
    if kept is not None:
        return kept  # the same bytes as the last hit this second
    tail = f"Age: {age}\r\nStaydown-Cache: {state}\r\n"
    if not request.keep_alive:
        tail += "Connection: close\r\n"
    inm = request.headers.get("if-none-match")
    ims = request.headers.get("if-modified-since")
    not_modified = _etag_matches(inm, entry.etag) if inm is not None else False
    if inm is None and ims is not None and entry.last_modified is not None and entry.status == 200:
        since, modified = parse_http_date(ims), parse_http_date(entry.last_modified)
        not_modified = since is not None and modified is not None and modified <= since
    if not_modified:
        return b"HTTP/1.1 304 Not Modified\r\n" + entry.head.split(b"\r\n", 1)[1] + tail.encode() + b"\r\n"
    body = entry.body
    range_header = request.headers.get("range")
    if range_header and entry.status == 200 and _if_range_holds(request, entry):
        span = _parse_range(range_header, len(body))
        if span == "unsatisfiable":
            refusal = (
                f"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len(body)}\r\n"
                f"{tail}Content-Length: 0\r\n\r\n"
            )
            return refusal.encode("latin-1")
        if isinstance(span, tuple):
            start, end = span
            part = body[start : end + 1]
            fields = (
                f"Content-Range: bytes {start}-{end}/{len(body)}\r\n{tail}Content-Length: {len(part)}\r\n\r\n"
            )
            partial = b"HTTP/1.1 206 Partial Content\r\n" + entry.head.split(b"\r\n", 1)[1] + fields.encode()
            return partial if request.method == "HEAD" else partial + part
    head = entry.head + f"{tail}Content-Length: {len(body)}\r\n\r\n".encode()
    if request.method == "HEAD":
        return head
    response = head + body
    if plain:
        entry.keep_served(age, response)
    return response


def _if_range_holds(request: Request, entry: CachedResponse) -> bool:
    condition = request.headers.get("if-range")
    if condition is None:
        return True
    if condition.startswith(("W/", '"')):
        return entry.etag is not None and not condition.startswith("W/") and condition == entry.etag
    return condition == entry.last_modified


def _parse_range(value: str, size: int) -> tuple[int, int] | str | None:
    """One ``bytes=`` range → (start, end); several or malformed → None (serve it all)."""
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, sep, last = spec.strip().partition("-")
    if not sep:
        return None
    try:
        if first == "":
            if not last.isdigit() or int(last) == 0:
                return "unsatisfiable" if last.isdigit() else None
            suffix = int(last)
            return max(0, size - suffix), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        return "unsatisfiable"
    if end < start:
        return None
    return start, min(end, size - 1)


_FIELD_NAMES: dict[bytes, str] = {}  # field names as sent → lowered, for the names seen first
_FIELD_NAMES_KEPT = 512


def _field_name(name: bytes) -> str:
    lowered = name.decode("latin-1").lower()
    if len(_FIELD_NAMES) < _FIELD_NAMES_KEPT:
        _FIELD_NAMES[name] = lowered
    return lowered


class EdgeProtocol(asyncio.Protocol):
    """One client connection."""

    __slots__ = (
        "client", "closing", "deadline", "edge", "framing", "head_bytes", "headers", "loop", "parser",
        "paused",
        "pending", "pending_size", "queue", "resumed", "transport", "url", "worker",
    )  # fmt: skip

    def __init__(self, edge: Edge) -> None:
        self.edge = edge
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.client = "-"
        self.url = b""
        self.framing = core.Framing()
        self.headers: dict[str, str] = {}
        # Cached answers to the requests of one read, sent together once the read is parsed.
        self.pending: list[bytes] = []
        self.pending_size = 0
        # The client reads slower than it asks (its socket and our write buffer are full): answer
        # nothing more and read nothing more until the transport has sent what it holds.
        self.paused = False
        self.resumed: asyncio.Future[None] | None = None  # what a stream from the origin waits on
        self.queue: deque[Request | bytes] = deque()
        self.worker: asyncio.Task[None] | None = None  # answering a request that needs the origin
        self.deadline = float("inf")  # on the edge's sweep clock
        # While a request head is being read (None otherwise): its bytes in the reads after the one
        # it began in, -1 while that read is parsed.
        self.head_bytes: int | None = None
        self.closing = False
        self.loop = asyncio.get_running_loop()

    # --- connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.client = peer[0] if peer else "-"
        self.edge.connections += 1
        if self.edge.connections > self.edge.config.max_connections:
            self.edge.count("connection_refused")
            transport.write(core.render(503, b"Too many connections.\n", close=True))
            transport.close()
            return
        self.edge.watch(self)
        self._arm(self.edge.config.idle_timeout)

    def pause_writing(self) -> None:
        # The client has idle_timeout to take some of what it asked for, or the sweep closes it.
        self.paused = True
        self._arm(self.edge.config.idle_timeout)
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        if self.resumed is not None:
            if not self.resumed.done():
                self.resumed.set_result(None)
            self.resumed = None
        if self.worker is not None and not self.worker.done():
            self.deadline = float("inf")  # still answering (as while no write waited)
            return
        self._drain()

    async def writable(self) -> None:
        """Return once the transport has sent enough of what it holds to take more."""
        while self.paused:
            if self.resumed is None:
                self.resumed = self.loop.create_future()
            await self.resumed

    def connection_lost(self, exc: Exception | None) -> None:
        self.edge.connections -= 1
        self.edge.open.discard(self)
        self.closing = True
        if self.worker and not self.worker.done():
            self.worker.cancel()

    def _arm(self, seconds: float) -> None:
        """Give the connection ``seconds`` from now (as the sweep's clock tells it) to make progress."""
        self.deadline = self.edge.tick + seconds

    def expire(self) -> None:
        """Close a connection the sweep found past its deadline."""
        if self.transport is not None and not self.transport.is_closing():
            self.edge.count("timeout")
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            # Upgrade is ignored (RFC 9110 7.8): the request was answered as HTTP/1.1, and what
            # follows it on the connection is read as HTTP/1.1 too.
            self.parser = httptools.HttpRequestParser(self)
            rest = data[upgrade.args[0] :] if upgrade.args else b""
            if rest and not self.closing:
                self.data_received(rest)
                return
        except httptools.HttpParserError as exc:
            if not self.closing:
                self._refuse(f"malformed request: {exc}")
        if self.head_bytes is not None and not self.closing:
            # A head is read as it arrives, never buffered without bound: the bytes of reads after
            # the one it began in are counted (so the bound holds within one read).
            self.head_bytes = self.head_bytes + len(data) if self.head_bytes >= 0 else 0
            if self.head_bytes > core.MAX_HEAD:
                self._refuse(f"the request head exceeds {core.MAX_HEAD} bytes", status=431)
        if self.pending:  # the cached answers to this read, in one write
            self._flush()

    def _flush(self) -> None:
        """Send the cached answers held back; one write for all the requests of a read."""
        pending, self.pending = self.pending, []
        self.pending_size = 0
        if self.transport is not None:
            if len(pending) == 1:
                self.transport.write(pending[0])
            else:
                self.transport.writelines(pending)

    def _refuse(self, why: str, *, status: int = 400) -> None:
        if self.pending:
            self._flush()
        self.edge.count("bad_request")
        reason = core.REASONS[status]
        self.queue.append(core.render(status, f"{reason}: {why}\n".encode(), close=True))
        self.closing = True
        if self.transport:
            self.transport.pause_reading()
        self._drain()

    # --- httptools callbacks ------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.url = b""
        self.framing.clear()
        self.headers = {}
        self.head_bytes = -1  # begun in the read being parsed
        edge = self.edge
        self.deadline = edge.tick + edge.config.header_timeout

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > core.MAX_TARGET:
            self._refuse(f"the request target is longer than {core.MAX_TARGET} characters", status=414)
            raise httptools.HttpParserCallbackError("request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = _FIELD_NAMES.get(name)
        if lowered is None:
            lowered = _field_name(name)
        self.framing.add(lowered, value)
        self.headers[lowered] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.head_bytes = None
        # Framing is judged on the head alone, before any body is read. The version matters only
        # to a head without Host or with Transfer-Encoding, so the common head does not ask for it.
        framing = self.framing
        problem = core.check_framing(
            framing,
            http_11=(not framing.hosts or framing.encodings > 0) and self.parser.get_http_version() == "1.1",
        )
        if problem is not None:
            self._refuse(problem[1], status=problem[0])
            raise httptools.HttpParserCallbackError(problem[1])
        if framing.encodings or (framing.lengths and framing.length.strip(b"0")):
            # A body follows (the edge reads and drops it): it must arrive within the header timeout.
            self.deadline = self.edge.tick + self.edge.config.header_timeout
            expect = self.headers.get("expect", "").lower() == "100-continue"
            if expect and self._idle() and self.parser.get_http_version() == "1.1":
                assert self.transport is not None
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        else:
            self.deadline = float("inf")  # the head is in: no timeout while it is answered

    def _idle(self) -> bool:
        """Whether nothing is being answered or waiting to be, so an interim answer goes out in order."""
        return (
            self.transport is not None
            and not self.queue
            and self.worker is None
            and not self.pending
            and not self.paused
        )

    def on_message_complete(self) -> None:
        if self.closing:
            return
        target = self.url.decode("latin-1")
        edge = self.edge
        if (
            not self.queue
            and self.worker is None
            and not self.paused
            and not edge.limiter.rate
            and not edge.zone_limiters
            and self.parser.get_method() == b"GET"
            and self.parser.should_keep_alive()
        ):
            answer = edge.fast_hit(self.headers.get("host"), target, self.headers)
            if answer is not None:
                self.pending.append(answer)
                self.pending_size += len(answer)
                if self.pending_size > WRITE_BATCH:  # a long pipelined read: send what is ready
                    self._flush()
                self.deadline = edge.tick + edge.config.idle_timeout
                if access_log.isEnabledFor(logging.INFO):
                    self._log(Request("GET", target, self.headers, True, self.client), answer)
                return
        self.deadline = float("inf")  # the message is in (a body too): no timeout while answered
        if self.pending:
            self._flush()  # what was answered before this request goes first
        request = Request(
            method=self.parser.get_method().decode("ascii", "replace"),
            target=target,
            headers=self.headers,
            keep_alive=self.parser.should_keep_alive(),
            client=self.client,
        )
        limiter = self.edge.limiter_for(request)
        if limiter is not None and not limiter.allow(self.client, time.monotonic()):
            self.edge.count("rate_limited")
            retry = max(1, int(limiter.retry_after(self.client, time.monotonic()) + 0.999))
            self.queue.append(
                core.render(429, b"Too many requests.\n", headers=[("Retry-After", str(retry))])
            )
        elif not self.queue and self.worker is None and not self.paused and self.transport is not None:
            self._answer_now(request, self.transport)  # the common case: nothing waits before it
            return
        else:
            self.queue.append(request)
        if len(self.queue) > self.edge.config.max_pipeline and self.transport:
            self.transport.pause_reading()
        self._drain()

    def _answer_now(self, request: Request, transport: asyncio.Transport) -> None:
        edge = self.edge
        if edge.answering is not None:
            edge.answering(request)
        try:
            decision = edge.decide(request)
            answer = edge.immediate(request, decision)
        finally:
            if edge.answering is not None:
                edge.answering(None)
        if answer is None:
            self.worker = self.loop.create_task(self._slow(request, decision))
            return
        transport.write(answer)
        self._log(request, answer)
        if not request.keep_alive or decision.outcome is Outcome.bad_request:
            transport.close()
            return
        self._arm(self.edge.config.idle_timeout)

    # --- answering in order -------------------------------------------------------------

    def _drain(self) -> None:
        """Answer queued requests in order; hand over to a task at the first origin fetch."""
        if self.worker is not None and not self.worker.done():
            return
        transport = self.transport
        if transport is None:
            return
        while self.queue:
            if self.paused:  # resume_writing drains the rest
                return
            item = self.queue.popleft()
            if isinstance(item, bytes):
                transport.write(item)
                if self.closing:
                    transport.close()
                    return
                continue
            self._answer_now(item, transport)
            if self.worker is not None or transport.is_closing():
                return
        if not transport.is_closing() and not self.paused:
            transport.resume_reading()
            self._arm(self.edge.config.idle_timeout)

    async def _slow(self, request: Request, decision: Decision) -> None:
        transport = self.transport
        assert transport is not None
        keep = False
        sent = _Sent(transport, self)
        try:
            keep = await self.edge.fill(request, decision, sent)
        except Exception:
            log.exception("failed to answer %s %s", request.method, request.target)
            if not transport.is_closing():
                sent(core.render(500, b"Internal error.\n", close=True))
        self._log(request, sent.start, size=sent.size)
        if not keep or not request.keep_alive:
            transport.close()
            return
        self.worker = None
        self._drain()

    def _log(self, request: Request, answer: bytes | None, *, size: int | None = None) -> None:
        """One Common Log Format line per response (status and bytes as sent, body and head)."""
        if access_log.isEnabledFor(logging.INFO):
            status = answer[9:12].decode() if answer else "-"
            size = len(answer) if size is None and answer else size
            access_log.info(
                '%s - - [%s] "%s %s HTTP/1.1" %s %s',
                request.client,
                time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
                request.method,
                request.target,
                status,
                size if size else "-",
            )


class _Sent:
    """A connection's :class:`Output`: its transport's write, which remembers how the response
    began and how much of it went out, and its wait for the client to take what it holds."""

    __slots__ = ("connection", "size", "start", "transport")

    def __init__(self, transport: asyncio.Transport, connection: EdgeProtocol) -> None:
        self.transport, self.connection, self.start, self.size = transport, connection, b"", 0

    def __call__(self, data: bytes) -> None:
        if not self.start:
            self.start = bytes(data[:12])
        self.size += len(data)
        self.transport.write(data)

    async def drained(self) -> None:
        if self.connection.paused:
            await self.connection.writable()


async def serve(edge: Edge, sock: socket.socket) -> asyncio.Server:
    """Start serving ``edge`` on an already bound, listening socket."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: EdgeProtocol(edge), sock=sock)


async def close(server: asyncio.Server, edge: Edge) -> None:
    server.close()
    edge.stop_sweep()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(server.wait_closed(), 2)
    edge.pool.close()
    edge.hasher.shutdown(wait=False, cancel_futures=True)
    edge.after_serving.shutdown(wait=False, cancel_futures=True)
