"""The edge's exchanges with origins: fill the cache from an origin (one fetch per key while other
requests for it wait, the stay-down verdict before a filled image is first served), pass a
response through uncached when it may not be shared or is too large, and pass every other method
through with its body, invalidating what its success changes (RFC 9111 section 4.4).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urljoin

from staydown.edge.body import BodyError
from staydown.edge.cache import CachedResponse, CacheKey, fields_by_name
from staydown.edge.core import CACHED_METHODS, SAFE_METHODS, Decision, Outcome, Request, tokens
from staydown.edge.freshness import (
    ERROR_STATUSES,
    CacheControl,
    freshens,
    request_cache_control,
    response_cache_control,
    serve_on_error,
    storability,
)
from staydown.edge.httpdate import format_http_date
from staydown.edge.origin import HOP_BY_HOP, Interim, OriginError, OriginResponse
from staydown.edge.responses import LAST_CHUNK, chunk, interim_head, render, serve_entry, stream_head
from staydown.edge.state import ZoneState
from staydown.edge.staydown import SECOND_STAGE_BACKLOG, StaydownGuard, Verdict
from staydown.fingerprints.hashing import (
    Fingerprint,
    ImageLimits,
    ImageRejected,
    fingerprint,
    is_image_type,
    sniff,
)
from staydown.urls import CanonicalURL, URLError, canonicalize_url

if TYPE_CHECKING:
    from staydown.edge.server import Edge

log = logging.getLogger("staydown.edge")


class Output(Protocol):
    """Where an answer that needs the origin goes: a write, and a wait while the client has not
    taken what was written (so a slow client slows the origin read instead of filling memory)."""

    start: bytes  # how the final response began (empty while nothing of it was written)

    def __call__(self, data: bytes) -> None: ...

    def interim(self, data: bytes) -> None:
        """Write an interim (1xx) response, which leaves ``start`` as it is."""

    async def drained(self) -> None: ...


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


# What the edge does not pass on with a method it does not cache: this hop's fields and those it
# sets itself. Conditionals and ranges go to the origin, which alone can evaluate them there.
NOT_PASSED = HOP_BY_HOP | {"host", "content-length", "expect", "x-forwarded-for", "via", "forwarded"}


def forwarded_fields(request: Request, dropped: frozenset[str]) -> list[tuple[str, str]]:
    """The request's fields for the origin: less ``dropped`` and the fields its Connection names
    (RFC 9110 section 7.6.1), plus who asked and through what."""
    if "connection" in request.headers:
        dropped = dropped | tokens(request.headers["connection"])
    headers = [(n, v) for n, v in request.headers.items() if n not in dropped]
    headers.append(("X-Forwarded-For", request.client))
    headers.append(("Via", "1.1 staydown"))
    return headers


def credentialed(request: Request) -> bool:
    """Whether a request carries credentials (the cache then answers it only from public responses)."""
    return "authorization" in request.headers or "cookie" in request.headers


async def answer(edge: Edge, request: Request, decision: Decision, write: Output) -> bool:
    """Answer a request that needs the origin; False when the connection must close.

    No failure while an origin's response is read or stored reaches the client as anything but a
    502 (or, once the response has begun, as a connection closed before its end).
    """
    try:
        if request.method not in CACHED_METHODS:
            return await pass_through(edge, request, decision, write)
        return await fill(edge, request, decision, write)
    except Exception:
        log.exception("answering %s %s from the origin failed", request.method, request.target)
        edge.count("origin_error")
        if not write.start:
            failed = b"The origin's response could not be read.\n"
            write(render(502, failed, close=True, head=request.method == "HEAD"))
        return False


def forward_interim(request: Request, write: Output) -> Interim | None:
    """What passes the origin's interim responses on: 103 Early Hints and the like, to HTTP/1.1
    clients only (RFC 9110 section 15.2); a 100 Continue is the edge's own to send, or not."""
    if not request.http_11:
        return None

    def forward(status: int, fields: list[tuple[str, str]]) -> None:
        if status != 100:
            write.interim(interim_head(status, fields))

    return forward


async def fill(edge: Edge, request: Request, decision: Decision, write: Output) -> bool:
    """Fetch from the origin (or wait for the fetch in flight) and answer; False to close."""
    assert decision.zone is not None and decision.url is not None
    key = (decision.zone.zone_id, decision.url.target)
    shared = not credentialed(request)
    if request_cache_control(request.headers.get("cache-control", "")).only_if_cached:
        # Nothing stored answers it, and it asks for nothing else (RFC 9111 section 5.2.1.7).
        edge.count("only_if_cached")
        write(render(504, b"Not in the cache.\n", head=request.method == "HEAD"))
        return True
    if shared and key in edge.inflight:
        entry = await asyncio.shield(edge.inflight[key])
        blocked = edge.decide(request)  # a block may have arrived while waiting
        if blocked.outcome is not Outcome.proxy:
            write(edge.immediate(request, blocked) or b"")
            return True
        if entry is not None and entry.matches(request.headers):  # the variant this one asks for
            edge.count("coalesced")
            write(serve_entry(entry, request, now=edge.clock(), state="hit"))
            return True
    future: asyncio.Future[CachedResponse | None] | None = None
    if shared:
        future = asyncio.get_running_loop().create_future()
        edge.inflight[key] = future
    try:
        return await _fetch(edge, request, decision, key, write, shared=shared, future=future)
    finally:
        if future is not None:
            if not future.done():
                future.set_result(None)
            if edge.inflight.get(key) is future:
                del edge.inflight[key]


async def _fetch(
    edge: Edge,
    request: Request,
    decision: Decision,
    key: tuple[int, str],
    write: Output,
    *,
    shared: bool,
    future: asyncio.Future[CachedResponse | None] | None,
    conditional: bool = True,
) -> bool:
    assert decision.zone is not None and decision.url is not None
    stale = edge.cache.get(key, request.headers) if shared and conditional else None
    headers = forwarded_fields(request, NOT_FORWARDED)
    if stale is not None and stale.etag:
        headers.append(("If-None-Match", stale.etag))
    elif stale is not None and stale.last_modified:
        headers.append(("If-Modified-Since", stale.last_modified))
    request_time = edge.clock()
    request_cc = request_cache_control(request.headers.get("cache-control", ""))
    try:
        response = await edge.pool.fetch(
            decision.zone.origin,
            hostname=decision.url.host,
            target=decision.url.target,
            headers=headers,
            interim=forward_interim(request, write),
        )
    except OriginError as exc:
        log.warning("origin fetch for %s failed: %s", decision.url.url, exc)
        edge.count("origin_error")
        if stale is not None and _stale_if_error(edge, stale, request_cc):
            write(serve_entry(stale, request, now=edge.clock(), state="stale"))
            return True
        write(render(502, b"The origin could not be reached.\n", head=request.method == "HEAD"))
        return True
    response_time = edge.clock()
    _received(response, response_time)
    if response.status == 304 and stale is not None:
        async for _ in response.body():
            pass
        if not freshens(
            stored_etag=stale.etag, stored_last_modified=stale.last_modified, fields=response.headers
        ):
            # It names another representation, so it updates nothing: ask again without conditions.
            edge.count("revalidation_mismatch")
            return await _fetch(
                edge, request, decision, key, write, shared=shared, future=future, conditional=False
            )
        refreshed = stale.refreshed(response.headers, request_time=request_time, response_time=response_time)
        edge.cache.put(key, refreshed)
        if future is not None:
            future.set_result(refreshed)
        edge.count("revalidated")
        write(serve_entry(refreshed, request, now=response_time, state="revalidated"))
        return True
    if response.status in ERROR_STATUSES and stale is not None and _stale_if_error(edge, stale, request_cc):
        async for _ in response.body():
            pass
        write(serve_entry(stale, request, now=response_time, state="stale"))
        return True
    response_cc = response_cache_control(response.headers)
    verdict = storability(
        method="GET",
        status=response.status,
        request_cc=request_cc,
        response_cc=response_cc,
        response_headers=fields_by_name(response.headers),
        request_has_authorization="authorization" in request.headers,
    )
    storable = verdict.storable and (shared or response_cc.public or response_cc.s_maxage is not None)
    too_big = response.content_length is not None and response.content_length > edge.config.max_object
    # A body with transfer codings the edge cannot undo is passed on as it is, never stored.
    if not storable or too_big or response.codings:
        edge.count("bypass")
        return await stream(response, request, write, state="bypass")
    return await _store(edge, request, response, key, write, response_cc, request_time, future)


def _received(response: OriginResponse, response_time: float) -> None:
    """Date an undated origin response when it arrives, as a cache with a clock must before it
    stores or passes it on (RFC 9110 section 6.6.1)."""
    if not any(n.lower() == "date" for n, _ in response.headers):
        response.headers.append(("Date", format_http_date(response_time)))


def _stale_if_error(edge: Edge, stale: CachedResponse, request_cc: CacheControl) -> bool:
    """Whether the stored response answers for an origin that failed (stale-if-error allows it)."""
    age = stale.age(edge.clock())
    allowed = serve_on_error(
        lifetime=stale.lifetime, age=age, request_cc=request_cc, response_cc=stale.response_cc
    )
    if allowed:
        edge.count("stale_if_error")
    return allowed


class _Discard:
    """The :class:`Output` of a revalidation nobody waits for."""

    start = b""

    def interim(self, data: bytes) -> None:
        pass

    def __call__(self, data: bytes) -> None:
        pass

    async def drained(self) -> None:
        pass


def revalidate_in_background(edge: Edge, request: Request, decision: Decision) -> None:
    """Revalidate a stale stored response served under stale-while-revalidate (RFC 5861 section 3),
    unless a fetch for its key is already under way: one at a time per key."""
    assert decision.zone is not None and decision.url is not None
    key = (decision.zone.zone_id, decision.url.target)
    if key in edge.revalidating or key in edge.inflight:
        return
    # Asked as the request that found it stale would have asked, so that Vary selects the same variant,
    # less its cache directives: the revalidation is the cache's own.
    headers = {n: v for n, v in request.headers.items() if n not in ("cache-control", "pragma")}
    revalidation = Request("GET", request.target, headers, True, request.client)
    task = asyncio.get_running_loop().create_task(fill(edge, revalidation, decision, _Discard()))
    edge.revalidating[key] = task  # and the loop's reference to a task is weak: this one is not
    edge.count("background_revalidation")

    def done(finished: asyncio.Task[bool]) -> None:
        edge.revalidating.pop(key, None)
        if not finished.cancelled() and finished.exception() is not None:
            log.error("background revalidation of %s failed", key, exc_info=finished.exception())

    task.add_done_callback(done)


async def _store(
    edge: Edge,
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
        if len(body) > edge.config.max_object:
            edge.count("bypass")
            return await stream(response, request, write, state="bypass", first=bytes(body), rest=pieces)
    entry = CachedResponse.from_origin(
        status=response.status,
        headers=response.headers,
        body=bytes(body),
        request_headers=request.headers,
        request_time=request_time,
        response_time=edge.clock(),
        response_cc=response_cc,
    )
    decision = edge.decide(request)  # a block may have arrived while the body was read
    assessed = None
    if entry.status == 200 and decision.outcome is Outcome.proxy:
        assessed = await _assess_image(edge, entry, decision)
        decision = edge.decide(request)  # or while the image was judged
    fp = assessed[0] if assessed is not None else None
    if assessed is not None and decision.outcome is Outcome.proxy:
        _judge(edge, decision, key, *assessed, body=entry.body)
        decision = edge.decide(request)
    if decision.outcome is not Outcome.proxy:
        write(edge.immediate(request, decision) or b"")
        return True
    edge.cache.put(key, entry)
    if fp is not None and key in edge.cache:
        edge.guard.cached.remember(key, fp)
    if future is not None:
        future.set_result(entry)
    edge.count("miss")
    write(serve_entry(entry, request, now=edge.clock(), state="miss"))
    return True


async def _assess_image(
    edge: Edge, entry: CachedResponse, decision: Decision
) -> tuple[Fingerprint, Verdict | None, int] | None:
    """Fingerprint a filled image and ask the bank, both off the event loop; None for non-images."""
    content_type = next((v for n, v in entry.headers if n.lower() == "content-type"), "")
    if not (is_image_type(content_type) or sniff(entry.body) is not None):
        return None
    assert decision.zone is not None
    generation = edge.guard.generation
    loop = asyncio.get_running_loop()
    try:
        fp, verdict = await loop.run_in_executor(
            edge.hasher, _assess, edge.guard, entry.body, edge.image_limits, decision.zone
        )
    except ImageRejected as exc:
        edge.count("image_rejected")
        log.info("cached image not fingerprinted: %s", exc)
        return None
    return fp, verdict, generation


def _judge(
    edge: Edge,
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
    if generation != edge.guard.generation:  # the bank changed meanwhile: ask it again
        verdict = edge.guard.verdict(fp, zone_id=zone.zone_id, customer_id=zone.customer_id)
    if edge.state.exempted(*key):
        return
    if verdict is not None:
        edge.count("staydown_blocked")
        edge.guard.cached.forget(key)
        edge.block_copy(key, verdict, host=decision.url.host)
        return
    # Served: the second stage, and whether a person should look at it (the review band), are
    # asked after, off the loop. The second stage's queue holds image bodies: past a bounded
    # backlog a copy gets the review band only.
    host = decision.url.host
    second = edge.second_stage_pending < SECOND_STAGE_BACKLOG
    zone_id, customer_id = zone.zone_id, zone.customer_id
    if second:
        edge.second_stage_pending += 1
        job = partial(
            edge.guard.after_serving,
            fp,
            body,
            zone_id=zone_id,
            customer_id=customer_id,
            limits=edge.image_limits,
        )
    else:
        edge.count("staydown_second_stage_skipped")
        job = partial(edge.guard.review, fp, zone_id=zone_id, customer_id=customer_id)
    review = asyncio.get_running_loop().run_in_executor(edge.after_serving if second else edge.hasher, job)
    review.add_done_callback(partial(_reviewed, edge, key, host=host, sha256=fp.sha256, second=second))


def _reviewed(
    edge: Edge,
    key: CacheKey,
    done: asyncio.Future[Verdict | None],
    *,
    host: str,
    sha256: bytes,
    second: bool = False,
) -> None:
    if second:
        edge.second_stage_pending -= 1
    try:
        verdict = done.result()
    except Exception:
        log.exception("review search failed for %s", key)
        return
    if verdict is None or edge.state.exempted(*key):
        return
    if verdict.outcome == "block":  # the second stage: purge the copy just served, and block it
        edge.count("staydown_blocked_late")
        edge.cache.purge(*key)
        edge.guard.cached.forget(key)
        edge.block_copy(key, verdict, host=host)
        return
    edge.count("staydown_review")
    edge.report_match(key, verdict, host=host, sha256=sha256)


def _assess(
    guard: StaydownGuard, body: bytes, limits: ImageLimits, zone: ZoneState
) -> tuple[Fingerprint, Verdict | None]:
    """Run in the verdict threads: the bank's index is safe to search while the loop changes it."""
    fp = fingerprint(body, limits=limits)
    return fp, guard.verdict(fp, zone_id=zone.zone_id, customer_id=zone.customer_id)


async def stream(
    response: OriginResponse,
    request: Request,
    write: Output,
    *,
    state: str,
    first: bytes = b"",
    rest: AsyncIterator[bytes] | None = None,
) -> bool:
    """Pass a response through without storing it; False when the connection must close after it."""
    if request.http_2 and response.codings:
        # HTTP/2 has no transfer codings (RFC 9113 section 8.2.2) and the edge cannot undo them:
        # the body cannot pass, and the origin's connection closes with it unread.
        response.release()
        refusal = b"The origin's response has a transfer coding HTTP/2 cannot carry.\n"
        write(render(502, refusal, head=request.method == "HEAD"))
        return True
    head, chunked, close = stream_head(
        response.status,
        response.headers,
        length=response.content_length,
        codings=response.codings,
        request=request,
        state=state,
    )
    write(head)
    send = request.method != "HEAD"
    if send and first:
        write(chunk(first) if chunked else first)
    async for piece in rest if rest is not None else response.body():
        if send:
            write(chunk(piece) if chunked else piece)
            await write.drained()  # read no more from the origin than the client takes
    if send and chunked:
        write(LAST_CHUNK)
    return request.keep_alive and not close


async def pass_through(edge: Edge, request: Request, decision: Decision, write: Output) -> bool:
    """Pass a request of a method the cache does not answer to the origin, body and all, and its
    response back uncached; a success of an unsafe method invalidates what it names."""
    assert decision.zone is not None and decision.url is not None
    body = request.body
    try:
        response = await edge.pool.fetch(
            decision.zone.origin,
            hostname=decision.url.host,
            target=decision.url.target,
            headers=forwarded_fields(request, NOT_PASSED),
            method=request.method,
            body=body.chunks() if body is not None else None,
            length=body.length if body is not None else None,
            interim=forward_interim(request, write),
        )
    except BodyError as exc:  # counted where the connection found it
        if not write.start:
            write(render(exc.status, exc.reason.encode(), close=True))
        return False
    except OriginError as exc:
        log.warning("origin %s for %s failed: %s", request.method, decision.url.url, exc)
        edge.count("origin_error")
        write(
            render(502, b"The origin could not be reached.\n", close=body is not None and not body.complete)
        )
        return body is None or body.complete
    _received(response, edge.clock())
    if response.body_unsent and body is not None:
        body.discard()  # the origin answered without the rest: it is read and dropped
    if request.method not in SAFE_METHODS and 200 <= response.status < 400:
        invalidate(edge, decision, response.headers)
    edge.count("pass")
    return await stream(response, request, write, state="bypass")


def invalidate(edge: Edge, decision: Decision, headers: list[tuple[str, str]]) -> None:
    """Drop the stored responses for the target and for the Location and Content-Location of the
    response when they name the same host (RFC 9111 section 4.4)."""
    assert decision.zone is not None and decision.url is not None
    zone_id, url = decision.zone.zone_id, decision.url
    targets = {url.target}
    for name, value in headers:
        if name.lower() in ("location", "content-location"):
            target = same_host_target(url, value)
            if target is not None:
                targets.add(target)
    for target in targets:
        if edge.cache.invalidate((zone_id, target)):
            edge.count("invalidated")


def same_host_target(base: CanonicalURL, reference: str) -> str | None:
    """The canonical target ``reference`` names, resolved against ``base``, when it is on the same
    host and port; else None."""
    try:
        resolved = canonicalize_url(urljoin(base.url, reference.strip()))
    except (URLError, ValueError):
        return None
    if resolved.host != base.host or resolved.port != base.port or resolved.scheme != base.scheme:
        return None
    return resolved.target
