"""The edge's HTTP/2 connections: an asyncio protocol driving the ``h2`` state machine that only
moves bytes.

Each stream's fields become the same :class:`Request` an HTTP/1.1 head gives (``h2map``), and the
request takes the same path: rate limits, enforcement (421/403/451), the cache, the origin
(``exchange``), whose answers, serialised as HTTP/1.1, are mapped back to HTTP/2 fields and DATA.
So HTTP/2 and HTTP/1.1 decide, cache, block and count alike.

What a client may make one connection hold or do is bounded: streams at once (beyond them
REFUSED_STREAM), header blocks in bytes and frames (the CONTINUATION flood), decoded header lists
and the HPACK tables both ways, streams it resets (rapid reset, CVE-2023-44487: GOAWAY
ENHANCE_YOUR_CALM), SETTINGS, PING and other frames that cost work for nothing, request bodies by
flow control (a window is given back only as the origin takes the bytes), and responses by flow
control too: an exchange streaming from the origin waits while its stream holds more than
``STREAM_BUFFER`` unsent bytes, and a client that stops taking anything for ``idle_timeout`` is cut off.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Concatenate, ParamSpec, cast

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes
from hyperframe.frame import GoAwayFrame, SettingsFrame

from staydown.edge import core, h2map
from staydown.edge.body import BodyError, RequestBody
from staydown.edge.core import Decision, Request
from staydown.edge.ratelimit import RateLimiter
from staydown.edge.responses import REASONS, render, with_field

if TYPE_CHECKING:
    from staydown.edge.server import Edge

log = logging.getLogger("staydown.edge")
access_log = logging.getLogger("staydown.edge.access")

MAX_STREAMS = 100  # SETTINGS_MAX_CONCURRENT_STREAMS; more at once are refused (REFUSED_STREAM)
# The state machine's own bound, a client that ignores the advertised one by this much is cut off
# (a connection error): the advertised one is the edge's to enforce stream by stream.
HARD_STREAMS = 2 * MAX_STREAMS
MAX_HEADER_LIST = 64 * 1024  # SETTINGS_MAX_HEADER_LIST_SIZE, decoded (the edge's 431 bounds come first)
HEADER_TABLE = 4096  # the HPACK dynamic table the client's encoder may use (SETTINGS_HEADER_TABLE_SIZE)
# The table the edge's own encoder uses, whatever the client allows: its search is linear in the
# table, and a response's recurring fields fit in this much (measured: 10% less CPU a hit than 4096).
ENCODER_TABLE = 1024
HEADER_BLOCK_BUDGET = 64 * 1024  # encoded bytes of one header block, CONTINUATIONs included
HEADER_BLOCK_FRAMES = 16  # frames of one header block
STREAM_WINDOW = 256 * 1024  # a request body's window: unread bytes one stream may hold
CONNECTION_WINDOW = 1024 * 1024  # unread request bytes one connection may hold
STREAM_BUFFER = 64 * 1024  # unsent response bytes an exchange streaming from the origin may queue
QUANTUM = 64 * 1024  # bytes a stream sends before the next stream's turn
# Streams the client resets: past RESET_BUDGET, and more than half of those it opened, the
# connection is closed (rapid reset).
RESET_BUDGET = 100
# Frames that cost work and give nothing (SETTINGS, PING, PRIORITY, unknown, empty DATA): a
# token bucket per connection.
CONTROL_BURST = 200.0
CONTROL_RATE = 50.0


Params = ParamSpec("Params")


def _guarded(
    method: Callable[Concatenate[Http2Protocol, Params], None],
) -> Callable[Concatenate[Http2Protocol, Params], None]:
    """Close the connection when the state machine refuses a frame the method would send (a
    stream the client closed meanwhile is dropped before that; this is what is left)."""

    @functools.wraps(method)
    def guarded(self: Http2Protocol, /, *args: Params.args, **kwargs: Params.kwargs) -> None:
        try:
            method(self, *args, **kwargs)
        except h2.exceptions.ProtocolError as exc:
            log.info("HTTP/2 connection from %s closed: %s", self.client, exc)
            self._abort()

    return guarded


def connection_config() -> h2.config.H2Configuration:
    """The state machine's configuration for a client connection."""
    return h2.config.H2Configuration(
        client_side=False,
        header_encoding=None,
        validate_inbound_headers=True,
        normalize_inbound_headers=True,  # joins split Cookie fields (RFC 9113 section 8.2.3)
        # The edge writes its own fields: lowered, connection-specific ones left out (h2map).
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
    )


class _Stream:
    """One request and its response on a connection."""

    __slots__ = (
        "body", "body_sent", "declared", "ending", "head", "hsts", "id", "method", "pending",
        "pending_size", "released", "request", "start", "task", "upload", "waiter",
    )  # fmt: skip

    def __init__(self, stream_id: int) -> None:
        self.id = stream_id
        self.method = "GET"
        self.request: Request | None = None  # until dispatched, when it waits for its body
        self.body: RequestBody | None = None  # while its request body arrives
        self.upload: RequestBody | None = None  # its request body, arrived or not
        self.released = 0  # body bytes whose window was given back
        self.task: asyncio.Task[None] | None = None  # answering from the origin
        self.head = b""  # a response head not yet complete, as written
        self.hsts: bytes | None = None  # the zone's Strict-Transport-Security line, for a streamed head
        self.start = b""  # how the final response began (HTTP/1.1 status line), once it has
        self.declared: int | None = None  # its Content-Length
        self.body_sent = 0  # body bytes queued
        self.pending: list[memoryview] = []  # body bytes not yet sent
        self.pending_size = 0
        self.ending = False  # END_STREAM follows the pending bytes
        self.waiter: asyncio.Future[None] | None = None  # an exchange waiting for pending to shrink


class Http2Protocol(asyncio.Protocol):
    """One client connection speaking HTTP/2 (negotiated by ALPN ``h2``)."""

    def __init__(self, edge: Edge) -> None:
        self.edge = edge
        self.loop = asyncio.get_running_loop()
        self.h2 = h2.connection.H2Connection(config=connection_config())
        codes = h2.settings.SettingCodes
        settings = {
            codes.MAX_CONCURRENT_STREAMS: MAX_STREAMS,
            codes.MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST,
            codes.HEADER_TABLE_SIZE: HEADER_TABLE,
            codes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
            codes.ENABLE_PUSH: 0,
        }
        self.advertised = SettingsFrame(0, settings={int(code): value for code, value in settings.items()})
        settings[codes.MAX_CONCURRENT_STREAMS] = HARD_STREAMS
        self.h2.local_settings = h2.settings.Settings(client=False, initial_values=settings)
        self.watch = h2map.HeaderBlockWatch(budget=HEADER_BLOCK_BUDGET, frames=HEADER_BLOCK_FRAMES)
        self.control = RateLimiter(rate=CONTROL_RATE, burst=CONTROL_BURST)
        self.transport: asyncio.Transport | None = None
        self.client = "-"
        self.tls_zone: int | None = None
        self.streams: dict[int, _Stream] = {}
        self.sending: dict[int, _Stream] = {}  # streams with bytes or END_STREAM to send
        self.out: list[bytes | memoryview] = []  # frames queued past the state machine, in order
        self.uploading = 0  # streams whose request body is still arriving
        self.opened = self.resets = 0
        self.paused = False  # the transport holds more than it should: send and read nothing more
        self.closing = False
        self.retired = False  # GOAWAY sent: streams above last_stream are refused
        self.last_stream = 0
        self.deadline = float("inf")
        self.idle_since = self.data_in = self.data_out = 0.0
        self.finished: asyncio.Future[None] = self.loop.create_future()
        self.handlers: dict[type, Callable[[h2.events.Event], None]] = {
            h2.events.RequestReceived: self._request,
            h2.events.DataReceived: self._data,
            h2.events.StreamEnded: self._ended,
            h2.events.StreamReset: self._reset,
            h2.events.WindowUpdated: self._window,
            h2.events.RemoteSettingsChanged: self._settings,
            h2.events.PingReceived: self._costly,
            h2.events.PriorityUpdated: self._costly,
            h2.events.UnknownFrameReceived: self._costly,
            h2.events.ConnectionTerminated: self._terminated,
        }

    # --- connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.client = peer[0] if peer else "-"
        edge = self.edge
        # The zone whose certificate the client was given: a request for another zone's host is 421.
        self.tls_zone = edge.tls_zone(transport) if transport.get_extra_info("ssl_object") else None
        edge.connections += 1
        self.h2.initiate_connection()
        self.h2.data_to_send()  # its SETTINGS, sent as advertised instead (MAX_STREAMS, not HARD_STREAMS)
        transport.write(self.advertised.serialize())
        if edge.connections > edge.config.max_connections:
            edge.count("connection_refused")
            self.h2.close_connection(error_code=ErrorCodes.NO_ERROR, last_stream_id=0)
            self._abort()
            return
        self.h2.increment_flow_control_window(CONNECTION_WINDOW - 65535)
        self.h2.encoder.header_table_size = ENCODER_TABLE
        edge.watch(self)
        edge.retiring.add(self)
        self.idle_since = edge.tick
        self._flush()
        self._rearm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.edge.connections -= 1
        self.edge.open.discard(self)
        self.edge.retiring.discard(self)
        self.closing = True
        for stream in list(self.streams.values()):
            self._drop(stream)
        if not self.finished.done():
            self.finished.set_result(None)

    def pause_writing(self) -> None:
        self.paused = True
        if self.transport is not None:
            self.transport.pause_reading()  # what a client asks for while it reads nothing waits
        self._rearm()

    @_guarded
    def resume_writing(self) -> None:
        self.paused = False
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()
        self._pump()
        self._flush()
        self._rearm()

    def expire(self) -> None:
        """Close a connection the sweep found past its deadline (GOAWAY first, as it can); one
        still closing a deadline later (a TLS peer that never finishes its shutdown) is aborted."""
        transport = self.transport
        if transport is None:
            return
        if transport.is_closing():
            transport.abort()
            return
        self.edge.count("timeout")
        self._abort(ErrorCodes.NO_ERROR)

    def retire(self) -> None:
        """Tell the client no new streams will be taken (GOAWAY), finish those begun, then close."""
        if self.retired or self.closing or self.transport is None:
            return
        self.retired = True
        self.last_stream = self.h2.highest_inbound_stream_id
        self._flush()
        # Written past the state machine, which after its own GOAWAY would take no more frames for
        # the streams still being answered.
        goaway = GoAwayFrame(0, last_stream_id=self.last_stream, error_code=ErrorCodes.NO_ERROR)
        self.transport.write(goaway.serialize())
        if not self.streams:
            self._abort()

    def _abort(self, code: ErrorCodes | None = None, why: str = "") -> None:
        """Close the connection, with a GOAWAY carrying ``code`` unless one was sent."""
        if code is not None:
            self.h2.close_connection(error_code=code, additional_data=why.encode()[:256] or None)
        self._flush()
        self.closing = True
        # A TLS peer that never completes the shutdown is aborted by the sweep a deadline later.
        self.deadline = self.edge.tick + self.edge.config.header_timeout
        if self.transport is not None:
            self.transport.close()

    def _flush(self) -> None:
        """Write what the state machine and ``_data`` queued, in one piece (one TLS write)."""
        data = self.h2.data_to_send()
        out = self.out
        if out:
            if data:
                out.append(data)
            data = b"".join(out)
            out.clear()
        if data and self.transport is not None:
            self.transport.write(data)

    def _rearm(self) -> None:
        """Set the deadline the sweep holds the connection to, from what it is waiting for."""
        config = self.edge.config
        if self.closing:
            return  # the deadline _abort set stands
        if not self.streams:
            self.deadline = self.idle_since + config.idle_timeout  # PINGs do not keep it open
        elif self.uploading:
            self.deadline = self.data_in + config.header_timeout  # a body that stalls is cut off
        elif self.sending or self.paused:
            self.deadline = self.data_out + config.idle_timeout  # the client takes nothing
        else:
            self.deadline = float("inf")  # answering from the origin, under its timeouts

    # --- frames in ----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        if not self.watch.feed(data):
            self.edge.count("h2_header_flood")
            self._abort(ErrorCodes.ENHANCE_YOUR_CALM, "header block too large")
            return
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self.edge.count("bad_request")
            log.info("HTTP/2 connection from %s closed: %s", self.client, exc)
            # The library has queued its GOAWAY, except for a bad preface, read before its frames.
            said = self.h2.state_machine.state is h2.connection.ConnectionState.CLOSED
            self._abort(None if said else ErrorCodes.PROTOCOL_ERROR, str(exc))
            return
        self._handle(events)

    @_guarded
    def _handle(self, events: list[h2.events.Event]) -> None:
        handlers = self.handlers
        for event in events:
            handler = handlers.get(type(event))
            if handler is not None:
                handler(event)
            if self.closing:
                return
        self._pump()
        self._flush()
        self._rearm()

    def _costly(self, event: h2.events.Event) -> None:
        if not self.control.allow("", time.monotonic()):
            self.edge.count("h2_control_flood")
            self._abort(ErrorCodes.ENHANCE_YOUR_CALM, "too many control frames")

    def _settings(self, event: h2.events.Event) -> None:
        self._costly(event)
        encoder = self.h2.encoder
        allowed = encoder.header_table_size
        if allowed > ENCODER_TABLE:  # the client allows more: use no more (set only when it changes)
            encoder.header_table_size = ENCODER_TABLE
            # Nor announce the larger size on the way: the client is told sizes within the bound.
            encoder.table_size_changes = [min(size, ENCODER_TABLE) for size in encoder.table_size_changes]

    def _terminated(self, event: h2.events.Event) -> None:
        # The client's GOAWAY: the state machine sends nothing after it, so the connection ends.
        self._abort()

    def _window(self, event: h2.events.Event) -> None:
        pass  # what waited for the window is sent by the pump after these events

    def _request(self, event: h2.events.Event) -> None:
        assert isinstance(event, h2.events.RequestReceived) and event.headers is not None
        sid = event.stream_id
        if (self.retired and sid > self.last_stream) or len(self.streams) >= MAX_STREAMS:
            self.edge.count("h2_refused_stream")
            self.h2.reset_stream(sid, ErrorCodes.REFUSED_STREAM)
            return
        self.opened += 1
        stream = _Stream(sid)
        self.streams[sid] = stream
        self.deadline = float("inf")
        mapped = h2map.request_from_fields(list(event.headers), client=self.client, tls_zone=self.tls_zone)
        ended = event.stream_ended is not None
        limit = self.edge.config.max_body
        if isinstance(mapped, h2map.Refusal):
            self._refuse(stream, mapped.status, mapped.reason, ended=ended)
            return
        request = mapped
        stream.method = request.method
        length = request.headers.get("content-length")
        declared = int(length) if length is not None else None
        if ended:
            if declared:  # announced a body and sent none (h2 checks DATA against it, not this)
                self._refuse(stream, 400, "a Content-Length and no body", ended=True)
                return
            self._dispatch(stream, request)
            return
        if declared is not None and declared > limit:
            self._refuse(stream, 413, f"the request body exceeds {limit} bytes", ended=False)
            return
        forwarded = request.method not in core.CACHED_METHODS and request.method not in core.REFUSED_METHODS
        body = self._upload(stream, RequestBody(length=declared, limit=limit, discarding=not forwarded))
        expect = request.headers.get("expect", "").lower() == "100-continue"
        if forwarded:
            request.body = body
            body.on_taken = lambda: self._release(stream)
            if expect:
                body.continue_owed = True
                body.on_start = lambda: self._continue(stream)
            self._dispatch(stream, request)  # while its body is still arriving
        else:
            stream.request = request  # answered once its body is in, as HTTP/1.1 does
            if expect:
                self._continue(stream, owed=False)

    def _data(self, event: h2.events.Event) -> None:
        assert isinstance(event, h2.events.DataReceived)
        sid = event.stream_id
        data = event.data
        flow = event.flow_controlled_length
        if not data and event.stream_ended is None:
            self._costly(event)
        stream = self.streams.get(sid)
        body = stream.body if stream is not None else None
        if stream is None or body is None:
            self._acknowledge(flow, sid)  # nobody reads it: its window comes back at once
            return
        self._acknowledge(flow - len(data), sid)  # padding
        self.data_in = self.edge.tick
        if body.length is not None and body.received + len(data) > body.length:
            self._body_failed(stream, 400, "more DATA than its Content-Length")
            return
        if data and not body.feed(data):
            self._body_failed(stream, 413, f"the request body exceeds {body.limit} bytes")
            return
        self._release(stream)

    def _ended(self, event: h2.events.Event) -> None:
        assert isinstance(event, h2.events.StreamEnded)
        stream = self.streams.get(event.stream_id)
        if stream is None or stream.body is None:
            return
        body = stream.body
        if body.length is not None and body.received != body.length:
            self._body_failed(stream, 400, "less DATA than its Content-Length")
            return
        stream.body = None
        self.uploading -= 1
        body.finish()
        request = stream.request
        if request is not None:
            stream.request = None
            self._dispatch(stream, request)

    def _reset(self, event: h2.events.Event) -> None:
        assert isinstance(event, h2.events.StreamReset)
        stream = self.streams.get(event.stream_id)
        if event.remote_reset:
            self.resets += 1
            if self.resets > RESET_BUDGET and self.resets * 2 > self.opened:
                self.edge.count("h2_rapid_reset")
                self._abort(ErrorCodes.ENHANCE_YOUR_CALM, "too many streams reset")
                return
        if stream is not None:
            self._drop(stream)
            self._done(stream)

    # --- request bodies -------------------------------------------------------------------

    def _acknowledge(self, size: int, sid: int) -> None:
        if size > 0:
            self.h2.acknowledge_received_data(size, sid)

    def _release(self, stream: _Stream) -> None:
        """Give back the window of the body bytes the exchange took (or that were dropped)."""
        body = stream.upload
        if body is None or self.closing:
            return
        consumed = body.received - body.buffered
        if consumed > stream.released:
            self._acknowledge(consumed - stream.released, stream.id)
            stream.released = consumed
            self._flush()

    @_guarded
    def _continue(self, stream: _Stream, *, owed: bool = True) -> None:
        body = stream.body
        if owed and (body is None or not body.continue_owed):
            return
        if body is not None:
            body.continue_owed = False
        if stream.id in self.streams and not self.closing:
            self.h2.send_headers(stream.id, [(b":status", b"100")])
            self._flush()

    def _body_failed(self, stream: _Stream, status: int, why: str) -> None:
        """A request body cannot be read to its end: answered with ``status`` if nothing was yet."""
        self.edge.count("bad_request")
        body = stream.body
        assert body is not None
        stream.body = None
        self.uploading -= 1
        body.fail(BodyError(status, f"{REASONS[status]}: {why}\n"))
        self._release(stream)
        if stream.task is None and not stream.start:
            stream.request = None
            self._respond(stream, render(status, f"{REASONS[status]}: {why}\n".encode()), complete=True)
        # An exchange under way answers the refusal itself (or, answered already, is cut off).

    # --- answering ----------------------------------------------------------------------

    def _refuse(self, stream: _Stream, status: int, why: str, *, ended: bool) -> None:
        """Answer a request that is not served; a body it has yet to send is dropped (and the
        client asked to stop sending it once the answer is out)."""
        self.edge.count("bad_request")
        if not ended:
            self._upload(stream, RequestBody(length=None, limit=self.edge.config.max_body, discarding=True))
        self._respond(stream, render(status, f"{REASONS[status]}: {why}\n".encode()), complete=True)

    def _upload(self, stream: _Stream, body: RequestBody) -> RequestBody:
        """Expect a request body on ``stream``."""
        stream.body = stream.upload = body
        self.uploading += 1
        self.data_in = self.edge.tick
        return body

    def _dispatch(self, stream: _Stream, request: Request) -> None:
        edge = self.edge
        answer = edge.throttled(request, self.client)
        decision: Decision | None = None
        if answer is None and request.method == "GET" and not edge.limiter.rate and not edge.zone_limiters:
            answer = edge.fast_hit(
                request.headers.get("host"), request.target, request.headers, "https", self.tls_zone
            )
        if answer is None:
            if edge.answering is not None:
                edge.answering(request)
            try:
                decision = edge.decide(request)
                answer = edge.immediate(request, decision)
            finally:
                if edge.answering is not None:
                    edge.answering(None)
            if answer is None:
                stream.task = self.loop.create_task(self._slow(stream, request, decision))
                return
        self._respond(stream, answer, complete=True)
        body = request.body
        if body is not None and not body.complete:
            body.discard()  # answered without it: the rest is dropped as it arrives

    async def _slow(self, stream: _Stream, request: Request, decision: Decision) -> None:
        reply = _Reply(self, stream)
        stream.hsts = self.edge.hsts(request, decision)
        keep = False
        try:
            keep = await self.edge.fill(request, decision, reply)
        except Exception:  # the exchange answers its own failures: this is a defect of the edge
            log.exception("failed to answer %s %s", request.method, request.target)
            if not stream.start:
                reply(render(500, b"Internal error.\n"))
        stream.task = None
        self._finish(stream, keep)

    @_guarded
    def _finish(self, stream: _Stream, keep: bool) -> None:
        """End a response the exchange has written: END_STREAM, or RST_STREAM if it was cut off."""
        if stream.id not in self.streams or self.closing:
            return
        complete = stream.start and (
            stream.declared == stream.body_sent
            or not h2map.has_body(int(stream.start[9:12]), stream.method)
            or (keep and stream.declared is None)
        )
        if complete:
            stream.ending = True
            self.sending[stream.id] = stream
        else:  # cut off before its end: the client must not take it for the whole response
            self.h2.reset_stream(stream.id, ErrorCodes.INTERNAL_ERROR)
            self._drop(stream)
            self._done(stream)
        self._pump()
        self._flush()
        self._rearm()

    @_guarded
    def _write(self, stream: _Stream, data: bytes) -> None:
        """Send more of what the exchange answers on ``stream``."""
        self._respond(stream, data, complete=False)
        self._pump()
        self._flush()
        self._rearm()

    def _respond(self, stream: _Stream, data: bytes, *, complete: bool) -> None:
        """Send what the edge wrote for ``stream``: a response head (with what follows it), or
        more of its body; with ``complete`` the response ends there."""
        if stream.id not in self.streams or self.closing:
            return
        view = memoryview(data)
        if not stream.start:
            head = stream.head + data if stream.head else data
            end = head.find(b"\r\n\r\n")
            if end < 0:
                stream.head = head  # the rest of the head is still to come
                return
            stream.head = b""
            if stream.hsts is not None:
                head, end = with_field(head, stream.hsts), end + len(stream.hsts)
            mapped = h2map.mapped_head(head[:end])
            stream.declared = mapped.declared
            stream.start = head[:12]
            view = memoryview(head)[end + 4 :]
            if not h2map.has_body(mapped.status, stream.method):
                view = view[:0]
            last = complete and not view
            # The state machine takes the fields as ever, but their block is the one kept with the
            # head, not encoded again (it leaves the HPACK table alone, so any connection may send
            # it) -- unless the encoder owes the client a table size update, which its block begins.
            connection, encoder = self.h2, self.h2.encoder
            if encoder.header_table.resized:
                connection.send_headers(stream.id, mapped.fields, end_stream=last)
            else:
                connection.encoder = PresetEncoder(mapped.block)  # type: ignore[assignment]
                try:
                    connection.send_headers(stream.id, mapped.fields, end_stream=last)
                finally:
                    connection.encoder = encoder
            if last:
                self._done(stream)
                return
        if view:
            stream.pending.append(view)
            stream.pending_size += len(view)
            stream.body_sent += len(view)
            self.sending[stream.id] = stream
        if complete:
            stream.ending = True
            self.sending[stream.id] = stream

    @_guarded
    def _interim(self, stream: _Stream, data: bytes) -> None:
        if stream.id in self.streams and not stream.start and not self.closing:
            end = data.find(b"\r\n\r\n")
            _status, fields = h2map.response_fields(data[: end if end >= 0 else len(data)])
            self.h2.send_headers(stream.id, fields)
            self._flush()

    def _pump(self) -> None:
        """Send what the streams hold, as flow control and the transport allow, a quantum each in turn."""
        sent = False
        while self.sending and not self.paused and not self.closing:
            progress = False
            for stream in list(self.sending.values()):
                progress = self._send(stream) or progress
            if not progress:
                break
            sent = True
            self._flush()  # may pause writing: the loop then stops
        if sent:
            self.data_out = self.edge.tick

    def _send(self, stream: _Stream) -> bool:
        """Send up to a quantum of what one stream holds; whether anything went."""
        connection = self.h2
        quantum, progress = QUANTUM, False
        while stream.pending and quantum > 0:
            window = connection.local_flow_control_window(stream.id)
            if window <= 0:
                break
            piece = stream.pending[0]
            size = min(len(piece), window, quantum)
            end = stream.ending and size == len(piece) and len(stream.pending) == 1
            self._frames(stream, piece[:size], end=end)
            quantum -= size
            stream.pending_size -= size
            progress = True
            if size == len(piece):
                stream.pending.pop(0)
            else:
                stream.pending[0] = piece[size:]
            if end:
                self._done(stream)
                return True
        waiter = stream.waiter
        if waiter is not None and stream.pending_size <= STREAM_BUFFER:
            stream.waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if not stream.pending:
            if stream.ending:
                connection.end_stream(stream.id)
                self._done(stream)
                return True
            del self.sending[stream.id]
        return progress

    def _frames(self, stream: _Stream, data: memoryview, *, end: bool) -> None:
        """Send ``data`` on ``stream`` as DATA frames (within its window), the last with END_STREAM
        if ``end``. The frames before the last are framed here, with the windows they use taken from
        the state machine's own count (the library would copy each frame's bytes three times and
        run its checks frame by frame). The last frame, which may end the stream, goes through it."""
        connection = self.h2
        frame = connection.max_outbound_frame_size
        last = (len(data) - 1) // frame * frame if end else len(data)  # bytes before the library's frame
        if last > 0:
            queued = connection.data_to_send()
            if queued:
                self.out.append(queued)
            sid = stream.id.to_bytes(4, "big")
            for offset in range(0, last, frame):
                chunk = data[offset : min(offset + frame, last)]
                self.out.append(len(chunk).to_bytes(3, "big") + b"\x00\x00" + sid)  # DATA, no flags
                self.out.append(chunk)
            connection.outbound_flow_control_window -= last
            connection.streams[stream.id].outbound_flow_control_window -= last
        if last < len(data) or end:
            connection.send_data(stream.id, data[last:], end_stream=end)

    def _done(self, stream: _Stream) -> None:
        """The stream's response has ended (or it was reset): forget it."""
        self.sending.pop(stream.id, None)
        if self.streams.pop(stream.id, None) is None:
            return
        body = stream.body
        if body is not None:  # answered before its request body ended: the client is asked to stop
            stream.body = None
            self.uploading -= 1
            body.discard()
            if not self.closing:
                self.h2.reset_stream(stream.id, ErrorCodes.NO_ERROR)
        if stream.start:
            self._log(stream)
        if not self.streams:
            self.idle_since = self.edge.tick
            if self.retired:
                self._abort()

    def _drop(self, stream: _Stream) -> None:
        """Stop everything under way for a stream that was reset or whose connection closed."""
        if stream.task is not None and not stream.task.done():
            stream.task.cancel()
        body = stream.body
        if body is not None:
            stream.body = None
            self.uploading -= 1
            body.fail(BodyError(400, "Bad Request: the stream was reset\n"))
            self._release(stream)
        if stream.waiter is not None and not stream.waiter.done():
            stream.waiter.cancel()
        stream.pending.clear()
        stream.pending_size = 0

    def _log(self, stream: _Stream) -> None:
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                '%s - - [%s] "%s - HTTP/2.0" %s %s',
                self.client,
                time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
                stream.method,
                stream.start[9:12].decode(),
                stream.body_sent or "-",
            )


class PresetEncoder:
    """Stands in for the connection's HPACK encoder for one header block already encoded."""

    __slots__ = ("block",)

    def __init__(self, block: bytes) -> None:
        self.block = block

    def encode(self, headers: object, huffman: bool = True) -> bytes:
        return self.block


class _Reply:
    """A stream's :class:`Output`: the exchange's writes mapped to HEADERS and DATA, and its wait
    while the stream holds more than ``STREAM_BUFFER`` the client has not taken."""

    __slots__ = ("connection", "stream")

    def __init__(self, connection: Http2Protocol, stream: _Stream) -> None:
        self.connection, self.stream = connection, stream

    @property
    def start(self) -> bytes:
        return self.stream.start

    @start.setter
    def start(self, value: bytes) -> None:
        self.stream.start = value

    def __call__(self, data: bytes) -> None:
        self.connection._write(self.stream, data)

    def interim(self, data: bytes) -> None:
        self.connection._interim(self.stream, data)

    async def drained(self) -> None:
        stream, connection = self.stream, self.connection
        while stream.pending_size > STREAM_BUFFER and stream.id in connection.streams:
            stream.waiter = connection.loop.create_future()
            await stream.waiter


async def serve(edge: Edge, sock: socket.socket, *, context: ssl.SSLContext) -> asyncio.Server:
    """Serve HTTP/2 alone on ``sock`` under TLS (``context`` offers ALPN ``h2``), as tests and
    benchmarks do; the edge's own listener chooses this protocol by what ALPN selected."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: Http2Protocol(edge), sock=sock, ssl=context)
