"""An edge worker without a control plane and an origin that answers with exact bytes, for tests of
the edge's HTTP over real sockets (framing, methods, bodies, interim responses)."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httptools
import uvloop

from staydown.edge.server import Edge, EdgeConfig, close, serve
from staydown.edge.state import EnforcementState
from staydown.netguard import OriginAccess, OriginGuard
from staydown.netpolicy import OriginPolicy, parse_networks

HOST = "wire.example.test"


@dataclass
class Received:
    """One request as the origin read it."""

    method: str = ""
    target: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    raw: bytes = b""

    def field(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def names(self) -> set[str]:
        return {n.lower() for n, _ in self.headers}


def ok(received: Received) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: public, max-age=300\r\n\r\nok"


class WireOrigin:
    """An origin on 127.0.0.1 that records each request and answers with what ``answer`` returns
    for it (the bytes sent as they are, a list of them in separate writes a moment apart; None
    closes the connection without an answer), closing the connection after each answer when
    ``close`` is set. With ``early`` it answers a request with a body as soon as its head is in,
    and reads nothing more for a moment (as an origin refusing an upload does)."""

    def __init__(
        self,
        answer: Callable[[Received], bytes | list[bytes] | None] = ok,
        *,
        close: bool = False,
        early: bool = False,
    ) -> None:
        self.answer = answer
        self.close = close
        self.early = early
        self.received: list[Received] = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.done = threading.Condition()

    def __enter__(self) -> WireOrigin:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.listener.close()

    def requests(self, timeout: float = 5.0, count: int = 1) -> list[Received]:
        """The requests received so far, once there are at least ``count``."""
        with self.done:
            self.done.wait_for(lambda: len(self.received) >= count, timeout)
        return list(self.received)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        origin = self
        current = Received()
        complete: list[Received] = []

        class Parser:
            def on_message_begin(self) -> None:
                nonlocal current
                current = Received()

            def on_url(self, url: bytes) -> None:
                current.target += url.decode("latin-1")

            def on_header(self, name: bytes, value: bytes) -> None:
                current.headers.append((name.decode("latin-1"), value.decode("latin-1")))

            def on_body(self, body: bytes) -> None:
                current.body += body

            def on_headers_complete(self) -> None:
                current.method = parser.get_method().decode()
                if origin.early and current.field("content-length") not in (None, "0"):
                    reply = origin.answer(current)
                    if isinstance(reply, bytes):
                        conn.sendall(reply)
                        time.sleep(0.5)

            def on_message_complete(self) -> None:
                current.method = parser.get_method().decode()
                if origin.early and current.field("content-length") not in (None, "0"):
                    return  # answered already
                complete.append(current)

        parser = httptools.HttpRequestParser(Parser())
        conn.settimeout(10)
        with conn:
            while not self.stopping.is_set():
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                current.raw += data
                try:
                    parser.feed_data(data)
                except httptools.HttpParserError:
                    return
                while complete:
                    request = complete.pop(0)
                    with self.done:
                        origin.received.append(request)
                        self.done.notify_all()
                    reply = self.answer(request)
                    if reply is None:
                        return
                    try:
                        for index, part in enumerate([reply] if isinstance(reply, bytes) else reply):
                            if index:
                                time.sleep(0.05)  # so the edge reads the parts apart
                            conn.sendall(part)
                    except OSError:
                        return
                    if self.close:
                        return


class LocalEdge:
    """One edge worker on its own uvloop in a thread, serving zone ``HOST`` from ``origin``."""

    def __init__(self, origin: str, config: EdgeConfig | None = None) -> None:
        self.state = EnforcementState()
        self.state.apply(
            {"seq": 1, "kind": "zone", "zone_id": 1, "customer_id": 1, "hostnames": [HOST],
             "origin": origin, "status": "active"}
        )  # fmt: skip
        self.config = config or EdgeConfig(legal_url="https://cdn.example/legal", header_timeout=2.0)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])
        self.edge: Edge | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.seq = 1

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.stop = asyncio.Event()
            self.edge = Edge(self.state, self.config)
            # The tests' origins listen on loopback: allowed as an operator allows private origins;
            # the edge's own address never is.
            guard = OriginGuard(OriginAccess(OriginPolicy(allow=parse_networks(["127.0.0.0/8"]))))
            guard.serving("127.0.0.1", self.port)
            self.edge.pool.guard = guard
            server = await serve(self.edge, self.sock)
            self.ready.set()
            await self.stop.wait()
            await close(server, self.edge)

        uvloop.run(main())

    def __enter__(self) -> LocalEdge:
        self.thread.start()
        assert self.ready.wait(10), "edge did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None and self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)

    def apply(self, record: dict[str, Any]) -> None:
        """Apply one feed record on the edge's loop and wait until it is applied."""
        assert self.loop is not None and self.edge is not None
        self.seq += 1
        applied = threading.Event()
        edge = self.edge

        def run() -> None:
            edge.apply([{"seq": self.seq, **record}])
            applied.set()

        self.loop.call_soon_threadsafe(run)
        assert applied.wait(5)

    def block(self, target: str, notice_id: int = 7) -> None:
        self.apply({"kind": "block", "zone_id": 1, "target": target, "notice_id": notice_id})

    def counters(self) -> dict[str, int]:
        assert self.edge is not None
        return dict(self.edge.counters)

    def exchange(self, payload: bytes, *, responses: int = 1, timeout: float = 5.0) -> bytes:
        """Send ``payload`` on a new connection; read until ``responses`` complete responses
        (final ones; interim 1xx are read along) are in or the edge closes the connection."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(payload)
            return read_responses(sock, responses)


def read_responses(sock: socket.socket, count: int) -> bytes:
    """Read from ``sock`` until ``count`` final responses are complete or it closes or goes quiet."""
    received = bytearray()
    finals = 0

    class Counter:
        def on_message_complete(self) -> None:
            nonlocal finals
            if parser.get_status_code() >= 200:
                finals += 1

    parser = httptools.HttpResponseParser(Counter())
    while finals < count:
        try:
            data = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not data:
            break
        received += data
        try:
            parser.feed_data(data)
        except httptools.HttpParserError:
            break
    return bytes(received)


def statuses(data: bytes) -> list[int]:
    """The status codes of the responses in ``data``, in order (interim ones included)."""
    return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]


def request(method: str, target: str, *fields: str, body: bytes = b"", version: str = "1.1") -> bytes:
    """A request head with ``fields`` (Host first) followed by ``body`` as given (framing is the
    caller's: pass Content-Length or Transfer-Encoding among the fields)."""
    lines = [f"{method} {target} HTTP/{version}", f"Host: {HOST}", *fields, "", ""]
    return "\r\n".join(lines).encode("latin-1") + body
