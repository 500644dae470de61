"""The feed's long-poll as lean ASGI: what a thousand edges ask again after every release.

Each notice releases every waiting poll, and every edge asks again at once. Through FastAPI each of
those requests passed a dozen middleware layers, solved a tree of dependencies and validated its
query: most of a millisecond of CPU, a second per notice across a thousand edges. ``FeedPoll``
answers a request whose query is plainly spelled (``after``, ``wait`` and ``limit`` as decimal
numbers within their bounds, each at most once) with the same authentication, answers and errors as
the documented route (``enforcement.api.feed``), which stays in the OpenAPI document and answers
every other spelling, so that what a malformed query is told does not change.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from starlette.datastructures import State
from starlette.types import Receive, Scope, Send

from staydown.api.errors import ApiError, error_response, internal_error
from staydown.api.metrics import ApiMetrics
from staydown.enforcement.api import Caller, answer_poll, authenticate_edge

FEED_PATH = "/v1/edge/feed"
MAX_WAIT = 300  # the documented route's bound on ``wait``
MAX_LIMIT = 100_000  # and on ``limit``

_INTEGER = re.compile(rb"[0-9]{1,18}")
_SECONDS = re.compile(rb"[0-9]{1,6}(?:\.[0-9]{1,6})?")


@dataclass(frozen=True, slots=True)
class FeedQuery:
    after: int = 0
    wait: float = 0.0
    limit: int | None = None


def parse_feed_query(raw: bytes) -> FeedQuery | None:
    """The feed's parameters when ``raw`` spells them plainly and within their bounds; None for any
    other query (another parameter, a repeated one, a sign, an exponent, percent-encoding, a value
    out of bounds), which the documented route validates and answers. Linear in ``raw``."""
    if not raw:
        return FeedQuery()
    after, wait, limit = 0, 0.0, None
    seen: set[bytes] = set()
    for part in raw.split(b"&"):
        name, equals, value = part.partition(b"=")
        if not equals or name in seen:
            return None
        seen.add(name)
        if name == b"after" and _INTEGER.fullmatch(value):
            after = int(value)
        elif name == b"wait" and _SECONDS.fullmatch(value):
            wait = float(value)
            if wait > MAX_WAIT:
                return None
        elif name == b"limit" and _INTEGER.fullmatch(value):
            limit = int(value)
            if not 1 <= limit <= MAX_LIMIT:
                return None
        else:
            return None
    return FeedQuery(after, wait, limit)


def caller_of(headers: list[tuple[bytes, bytes]]) -> Caller:
    """The request's key and edge name from raw ASGI headers (the first of each, as Starlette)."""
    found: dict[bytes, str] = {}
    for name, value in headers:
        if name in _CALLER_HEADERS and name not in found:
            found[name] = value.decode("latin-1")
    return Caller(
        found.get(b"authorization", ""),
        found.get(b"staydown-edge"),
        found.get(b"staydown-edge-version", "")[:64],
    )


_CALLER_HEADERS = frozenset({b"authorization", b"staydown-edge", b"staydown-edge-version"})
_BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})


class FeedPoll:
    """``GET /v1/edge/feed`` as edges send it, answered before the application's middleware and
    routing (``ControlPlane`` calls it first): the checks that stack makes for every request are
    made here for this one: no body, the same error shape (``ApiError`` and unexpected failures),
    and the same request count and latency in the metrics, under the documented route's path."""

    def __init__(self, metrics: ApiMetrics) -> None:
        self.metrics = metrics
        self.served = 0  # requests answered here
        self._answered = metrics.requests.labels("GET", FEED_PATH, "200")
        self._latency = metrics.latency.labels(FEED_PATH)

    def takes(self, scope: Scope) -> FeedQuery | None:
        """The request's query when this is such a request, else None (the application answers it)."""
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != FEED_PATH:
            return None
        for name, value in scope["headers"]:
            if name in _BODY_HEADERS and value != b"0":
                return None  # a body: the application's limits and answers apply
        return parse_feed_query(scope.get("query_string", b""))

    async def serve(self, state: State, query: FeedQuery, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        self.served += 1
        status = 500
        try:
            status = await self._answer(state, query, scope, receive, send)
        finally:
            if status == 200:
                self._answered.inc()
            else:
                self.metrics.requests.labels("GET", FEED_PATH, str(status)).inc()
            self._latency.observe(time.perf_counter() - started)

    async def _answer(
        self, state: State, query: FeedQuery, scope: Scope, receive: Receive, send: Send
    ) -> int:
        caller = caller_of(scope["headers"])
        now = state.clock()
        try:
            who = await authenticate_edge(state, caller, now)
            body = await answer_poll(
                state, who, caller, now, receive, after=query.after, wait=query.wait, limit=query.limit
            )
        except ApiError as exc:
            refusal = error_response(exc.status, exc.code, exc.message, exc.details, headers=exc.headers)
            await refusal(scope, receive, send)
            return exc.status
        except Exception as exc:
            await internal_error("GET", FEED_PATH, exc)(scope, receive, send)
            return 500
        if body is None:  # the edge left while it waited
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return 204
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return 200
