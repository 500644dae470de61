"""The edge's HTTPS listener: accept, handshake (bounded in time and in number), then hand the
connection to the protocol its ALPN chose.

Connections are accepted here rather than by ``create_server(ssl=...)`` so that, while an ACME
tls-alpn-01 challenge is pending, the ClientHello can be read (peeked, left in the socket) before
the handshake: a client offering ``acme-tls/1`` for a challenged name is given the challenge's
certificate, every other client the zone's own. The handshake itself is the event loop's
(``connect_accepted_socket``) with the certificate store's context, whose SNI callback picks the
certificate; the time a client may take, from its connection to a finished handshake, is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, cast

from staydown.edge.certs import ACME_TLS_ALPN, CertStore
from staydown.edge.clienthello import MAX_HELLO, ClientHello, Peek, peek_client_hello

if TYPE_CHECKING:
    from staydown.edge.server import Edge

log = logging.getLogger("staydown.edge.tls")

ProtocolFactory = Callable[["Edge"], asyncio.Protocol]
ACCEPT_BATCH = 64  # connections accepted per readiness of the listening socket
PEEK_PAUSE = 0.01  # seconds between looks at a ClientHello that has not fully arrived


def offered(protocols: Mapping[str, ProtocolFactory]) -> list[str]:
    """The ALPN protocols to offer, in the mapping's order of preference (h2 only when registered)."""
    return [name for name in protocols if name != ACME_TLS_ALPN]


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class AlpnSwitch(asyncio.Protocol):
    """Stands in for a connection until its handshake ends, then hands it to the protocol its
    ALPN names (HTTP/1.1 when the client named none); an ``acme-tls/1`` handshake is closed once
    done, as RFC 8737 asks."""

    def __init__(self, edge: Edge, protocols: Mapping[str, ProtocolFactory]) -> None:
        self.edge, self.protocols = edge, protocols

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        connection = cast(ssl.SSLObject | None, transport.get_extra_info("ssl_object"))
        alpn = connection.selected_alpn_protocol() if connection is not None else None
        if alpn == ACME_TLS_ALPN:
            self.edge.count("tls_acme_challenge")
            transport.close()
            return
        factory = self.protocols.get(alpn or "http/1.1")
        if factory is None:
            transport.close()
            return
        protocol = factory(self.edge)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)

    def data_received(self, data: bytes) -> None:  # never: the protocol is switched before any
        pass


class TlsListener:
    """Serve ``edge`` over TLS on a bound, listening socket."""

    def __init__(
        self,
        edge: Edge,
        sock: socket.socket,
        certs: CertStore,
        protocols: Mapping[str, ProtocolFactory],
    ) -> None:
        self.edge, self.sock, self.certs, self.protocols = edge, sock, certs, protocols
        self.loop = asyncio.get_running_loop()
        self.handshaking = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    def start(self) -> None:
        self.sock.setblocking(False)
        self.loop.add_reader(self.sock.fileno(), self._accept)

    def _accept(self) -> None:
        limit = self.edge.config.max_connections
        self.certs.tickets.refresh(time.time())
        for _ in range(ACCEPT_BATCH):
            try:
                connection, _address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors, say: the next readiness tries again
                log.warning("accepting a TLS connection failed: %s", exc)
                return
            if self.handshaking >= limit:
                self.edge.count("tls_refused")
                connection.close()
                continue
            connection.setblocking(False)
            # Set here, on the socket itself: a response of several TLS records must not wait on
            # Nagle's algorithm for the client's delayed acknowledgement.
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.handshaking += 1
            task = self.loop.create_task(self._handshake(connection))
            self.tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.handshaking -= 1
        self.tasks.discard(task)

    async def _handshake(self, connection: socket.socket) -> None:
        deadline = self.loop.time() + self.edge.config.tls_handshake_timeout
        context = self.certs.listening
        if self.edge.state.alpn_challenges:
            try:
                hello = await self._peek(connection, deadline)
            except (OSError, TimeoutError):
                self.edge.count("tls_handshake_failed")
                connection.close()
                return
            if hello is not None and ACME_TLS_ALPN in hello.alpn:
                context = self.certs.challenge_context(hello.server_name) or context
        remaining = max(0.001, deadline - self.loop.time())
        try:
            # From here the transport owns the socket (and closes it on a failed handshake).
            await self.loop.connect_accepted_socket(
                lambda: AlpnSwitch(self.edge, self.protocols),
                connection,
                ssl=context,
                ssl_handshake_timeout=remaining,
            )
        except (OSError, ssl.SSLError, TimeoutError, asyncio.CancelledError) as exc:
            self.edge.count("tls_handshake_failed")
            log.debug("TLS handshake failed: %r", exc)
            if isinstance(exc, asyncio.CancelledError):
                raise

    async def _peek(self, connection: socket.socket, deadline: float) -> ClientHello | None:
        """The ClientHello waiting in the socket, left there for the handshake; None if unreadable."""
        while True:
            try:
                data = connection.recv(MAX_HELLO, socket.MSG_PEEK)
            except BlockingIOError:
                data = None
            if data == b"":
                raise ConnectionResetError("closed before its ClientHello")
            if data:
                hello = peek_client_hello(data)
                if isinstance(hello, ClientHello):
                    return hello
                if hello is Peek.malformed:
                    return None
            if self.loop.time() >= deadline:
                raise TimeoutError("no ClientHello in time")
            if data:
                await asyncio.sleep(PEEK_PAUSE)  # partly arrived: the socket stays readable meanwhile
                continue
            ready = self.loop.create_future()
            self.loop.add_reader(connection.fileno(), _wake, ready)
            try:
                await asyncio.wait_for(ready, deadline - self.loop.time())
            finally:
                self.loop.remove_reader(connection.fileno())

    async def close(self) -> None:
        """Stop accepting; handshakes under way are abandoned."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(ValueError, OSError):
            self.loop.remove_reader(self.sock.fileno())
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.sock.close()
