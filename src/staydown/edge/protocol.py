"""The edge's HTTP/1.1 connections: an asyncio protocol driving httptools that only moves bytes.

It reads request heads as they arrive (bounded), hands each request to the :class:`Edge` in order,
and writes what the edge answers; cached answers to the requests of one read leave in one write.
Pipelined requests are answered strictly in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from typing import TYPE_CHECKING, cast

import httptools

from staydown.edge import core
from staydown.edge.body import BodyError, RequestBody, Unframed
from staydown.edge.core import Decision, Outcome, Request
from staydown.edge.responses import CONTINUE, REASONS, render, with_field

if TYPE_CHECKING:
    from staydown.edge.server import Edge

log = logging.getLogger("staydown.edge")
access_log = logging.getLogger("staydown.edge.access")

WRITE_BATCH = 256 * 1024  # cached answers of one read held back for one write, at most (bytes)


# Field names as sent → lowered, for the names seen first. Kept here, next to the one reader: a
# dict imported from another module measurably slowed the per-header lookup of the hot path.
_FIELD_NAMES: dict[bytes, str] = {}
_FIELD_NAMES_KEPT = 512


def _field_name(name: bytes) -> str:
    lowered = name.decode("latin-1").lower()
    if len(_FIELD_NAMES) < _FIELD_NAMES_KEPT:
        _FIELD_NAMES[name] = lowered
    return lowered


class EdgeProtocol(asyncio.Protocol):
    """One client connection."""

    __slots__ = (
        "body", "body_paused", "body_request", "client", "closing", "deadline", "edge", "framing",
        "headers", "loop", "parser", "paused", "pending", "pending_size", "queue", "resumed",
        "scheme", "tls_zone", "transport", "url", "wire_bytes", "wire_limit", "worker",
    )  # fmt: skip

    def __init__(self, edge: Edge, *, scheme: str = "http") -> None:
        self.edge = edge
        self.scheme = scheme  # "https" when it runs over TLS
        self.tls_zone: int | None = None  # over TLS: the zone whose certificate the client was given
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
        # While a request head, or a body with its framing, is being read (None otherwise): its
        # bytes in the reads after the one it began in, -1 while that read is parsed; and their bound.
        self.wire_bytes: int | None = None
        self.wire_limit = core.MAX_HEAD
        self.closing = False
        self.loop = asyncio.get_running_loop()
        # While a request body is being read (None otherwise): the body, the request it belongs to,
        # and whether reading stopped because the exchange has not taken what is held.
        self.body: RequestBody | None = None
        self.body_request: Request | None = None
        self.body_paused = False

    # --- connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.client = peer[0] if peer else "-"
        if self.scheme == "https":
            self.tls_zone = self.edge.tls_zone(transport)
        self.edge.connections += 1
        if self.edge.connections > self.edge.config.max_connections:
            self.edge.count("connection_refused")
            transport.write(render(503, b"Too many connections.\n", close=True))
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
            body = self.body
            if body is not None and body.unframed:  # its body comes first, read by its length
                # Only feed_data is called while it stands in: the parser's callbacks, which ask
                # the parser for the method or version, come from the parser it hands back to.
                self.parser = cast(httptools.HttpRequestParser, Unframed(self, body, self.parser))
            rest = data[upgrade.args[0] :] if upgrade.args else b""
            if rest and not self.closing:
                self.data_received(rest)
                return
        except httptools.HttpParserError as exc:
            if not self.closing:
                self._refuse(f"malformed request: {exc}")
        if self.wire_bytes is not None and not self.closing:
            # A head is read as it arrives, never buffered without bound: the bytes of reads after
            # the one it began in are counted (so the bound holds within one read). So is a body:
            # chunk framing (size lines, extensions, trailer fields) brings no body bytes.
            self.wire_bytes = self.wire_bytes + len(data) if self.wire_bytes >= 0 else 0
            if self.wire_bytes > self.wire_limit:
                if self.body is None:
                    self._refuse(f"the request head exceeds {core.MAX_HEAD} bytes", status=431)
                else:
                    limit = self.edge.config.max_body
                    self._refuse(f"the request body and its framing exceed {limit} bytes", status=413)
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
        self.edge.count("bad_request")
        body, request = self.body, self.body_request
        if body is not None and request is not None and request.body is body:
            self._body_failed(body, BodyError(status, f"{REASONS[status]}: {why}\n"))
            return
        if self.pending:
            self._flush()
        reason = REASONS[status]
        self.queue.append(render(status, f"{reason}: {why}\n".encode(), close=True))
        self.closing = True
        if self.transport:
            self.transport.pause_reading()
        self._drain()

    # --- httptools callbacks ------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.url = b""
        self.framing.clear()
        self.headers = {}
        self.wire_bytes = -1  # begun in the read being parsed
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
        self.wire_bytes = None
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
            self._body_begins()
        else:
            self.deadline = float("inf")  # the head is in: no timeout while it is answered

    def _body_begins(self) -> None:
        """A body follows the head: forward it as it arrives, or count and drop it (GET, HEAD and
        refused methods). It is answered 413 beyond ``max_body``, and cut off when it stalls."""
        edge, framing, parser = self.edge, self.framing, self.parser
        limit = edge.config.max_body
        length = int(framing.length) if framing.lengths else None
        if length is not None and length > limit:
            self._refuse(f"the request body exceeds {limit} bytes", status=413)
            raise httptools.HttpParserCallbackError("request body too large")
        # The parser takes what follows a head asking for an upgrade for the new protocol, not for
        # the body its framing declares (it decides before this callback, as it will act). The edge
        # never upgrades: a body of known length is read by its length past the parser (as curl's
        # h2c attempts send it); a chunked one cannot be, and is refused.
        if parser.should_upgrade() and length is None:
            self._refuse("a request asking for an upgrade carries a chunked body", status=400)
            raise httptools.HttpParserCallbackError("upgrade with a chunked body")
        self.deadline = edge.tick + edge.config.header_timeout
        http_11 = parser.get_http_version() == "1.1"
        method = parser.get_method().decode("ascii", "replace")
        forwarded = method not in core.CACHED_METHODS and method not in core.REFUSED_METHODS
        body = RequestBody(length=length, limit=limit, discarding=not forwarded)
        body.unframed = parser.should_upgrade()
        request = Request(
            method=method,
            target=self.url.decode("latin-1"),
            headers=self.headers,
            keep_alive=parser.should_keep_alive(),
            client=self.client,
            http_11=http_11,
            body=body if forwarded else None,
            scheme=self.scheme,
            tls_zone=self.tls_zone,
        )
        self.headers = {}  # trailer fields land here and are dropped: they never change a request
        self.body, self.body_request = body, request
        self.wire_bytes, self.wire_limit = -1, limit + limit // 64 + core.MAX_HEAD
        expect = http_11 and request.headers.get("expect", "").lower() == "100-continue"
        if expect and self._idle():
            assert self.transport is not None
            self.transport.write(CONTINUE)
        elif expect and forwarded:
            body.continue_owed = True
            body.on_start = self._continue  # once the exchange starts reading, in order
        if forwarded:
            body.on_taken = self._body_taken
            if self.pending:
                self._flush()
            self._dispatch(request)  # while its body is still arriving

    def on_body(self, data: bytes) -> None:
        body = self.body
        if body is None:
            return
        edge = self.edge
        self.deadline = edge.tick + edge.config.header_timeout  # a body that stalls is cut off
        if not body.feed(data):
            self._refuse(f"the request body exceeds {body.limit} bytes", status=413)
            raise httptools.HttpParserCallbackError("request body too large")
        if body.waiting and self.transport is not None:
            # The origin takes it slower than the client sends: the origin's timeouts apply now.
            self.body_paused = True
            self.deadline = float("inf")
            self.transport.pause_reading()

    def _body_taken(self) -> None:
        if self.body_paused:
            self.body_paused = False
            if self.transport is not None and not self.paused and not self.closing:
                self.deadline = self.edge.tick + self.edge.config.header_timeout
                self.transport.resume_reading()

    def _continue(self) -> None:
        body = self.body
        if body is not None and body.continue_owed and self.transport is not None and not self.closing:
            body.continue_owed = False
            self.transport.write(CONTINUE)

    def _body_failed(self, body: RequestBody, error: BodyError) -> None:
        """A forwarded body cannot be read to its end: its request's exchange answers the refusal,
        or, answered already, the connection closes once what it sends is out."""
        self.closing = True
        self.body = self.body_request = self.wire_bytes = None
        self.wire_limit = core.MAX_HEAD
        body.fail(error)
        if self.transport is not None:
            self.transport.pause_reading()
            if body.discarding and (self.worker is None or self.worker.done()) and not self.queue:
                if self.pending:
                    self._flush()
                self.transport.close()

    def _body_ends(self, body: RequestBody) -> None:
        request = self.body_request
        assert request is not None
        self.body = self.body_request = self.wire_bytes = None
        self.wire_limit = core.MAX_HEAD
        body.finish()
        if request.body is body:  # dispatched when its head arrived
            if body.buffered and not self.body_paused and self.transport is not None:
                # Held for an exchange that has not taken it yet: read no further until it does, so
                # pipelined requests never hold more than one body each connection.
                self.body_paused = True
                self.transport.pause_reading()
            if self.worker is None and not self.queue:
                self._arm(self.edge.config.idle_timeout)
            else:
                self.deadline = float("inf")
            return
        self.deadline = float("inf")
        if self.pending:
            self._flush()
        self._dispatch(request)

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
        if self.body is not None:
            if not self.body.unframed:  # else the body is still to be read, past the parser
                self._body_ends(self.body)
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
            answer = edge.fast_hit(self.headers.get("host"), target, self.headers, self.scheme, self.tls_zone)
            if answer is not None:
                self.pending.append(answer)
                self.pending_size += len(answer)
                if self.pending_size > WRITE_BATCH:  # a long pipelined read: send what is ready
                    self._flush()
                self.deadline = edge.tick + edge.config.idle_timeout
                if access_log.isEnabledFor(logging.INFO):
                    request = Request("GET", target, self.headers, True, self.client, scheme=self.scheme)
                    self._log(request, answer)
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
            http_11=self.parser.get_http_version() == "1.1",
            scheme=self.scheme,
            tls_zone=self.tls_zone,
        )
        self._dispatch(request)

    def _dispatch(self, request: Request) -> None:
        """Answer a request now when nothing waits before it, else queue it."""
        refusal = self.edge.throttled(request, self.client)
        if refusal is not None:
            self.queue.append(refusal)
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
        body = request.body
        if body is not None and not body.complete:
            # Answered without its body: the rest is dropped as it arrives, unless the client was
            # never told to send it (Expect: 100-continue), when what it sends next is not known.
            body.discard()
            if body.continue_owed or body.error is not None:
                transport.close()
                return
        if request.method == "CONNECT":  # what follows may be what it meant to tunnel: read no more
            self.closing = True
        if not request.keep_alive or decision.outcome is Outcome.bad_request or self.closing:
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
        if self.closing:
            transport.close()
        elif not transport.is_closing() and not self.paused:
            transport.resume_reading()
            self._arm(self.edge.config.idle_timeout)

    async def _slow(self, request: Request, decision: Decision) -> None:
        transport = self.transport
        assert transport is not None
        keep = False
        sent = _Sent(transport, self, self.edge.hsts(request, decision))
        try:
            keep = await self.edge.fill(request, decision, sent)
        except Exception:  # the exchange answers its own failures: this is a defect of the edge
            log.exception("failed to answer %s %s", request.method, request.target)
            if not transport.is_closing() and not sent.start:
                sent(render(500, b"Internal error.\n", close=True))
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

    __slots__ = ("connection", "size", "stamp", "start", "transport")

    def __init__(
        self, transport: asyncio.Transport, connection: EdgeProtocol, stamp: bytes | None = None
    ) -> None:
        self.transport, self.connection, self.start, self.size = transport, connection, b"", 0
        self.stamp = stamp  # a field line the response's head gains (Strict-Transport-Security)

    def __call__(self, data: bytes) -> None:
        if not self.start:
            self.start = bytes(data[:12])
            if self.stamp is not None and data.startswith(b"HTTP/"):
                data = with_field(bytes(data), self.stamp)
        self.size += len(data)
        self.transport.write(data)

    def interim(self, data: bytes) -> None:
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
    await edge.retire(2)  # HTTP/2 connections say GOAWAY and finish the streams they began
    edge.stop_sweep()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(server.wait_closed(), 2)
    edge.pool.close()
    edge.hasher.shutdown(wait=False, cancel_futures=True)
    edge.after_serving.shutdown(wait=False, cancel_futures=True)
