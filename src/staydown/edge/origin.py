"""Fetch from customer origins over HTTP/1.1 with keep-alive connections, parsing with httptools.

Requests to an origin are always unambiguous: the edge writes them itself from the canonical
target and a fixed set of forwarded fields, with no body, so nothing a visitor sends can smuggle a
second request onto an origin connection.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

from staydown.netguard import OriginGuard, OriginRefused

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    }
)


class OriginError(Exception):
    """The origin could not be reached or answered with something that is not HTTP."""


@dataclass(frozen=True, slots=True)
class OriginAddress:
    host: str
    port: int
    tls: bool
    base_path: str

    @classmethod
    def parse(cls, origin: str) -> OriginAddress:
        parts = urlsplit(origin)
        tls = parts.scheme == "https"
        if not parts.hostname:
            raise OriginError(f"origin {origin!r} has no host")
        return cls(parts.hostname, parts.port or (443 if tls else 80), tls, parts.path.rstrip("/"))


class _Parser:
    """httptools callbacks for one response."""

    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []
        self.pieces: list[bytes] = []
        self.headers_done = False
        self.complete = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.pieces.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


@dataclass
class OriginResponse:
    status: int
    headers: list[tuple[str, str]]
    content_length: int | None
    _connection: _Connection
    _parser: _Parser
    _pool: OriginPool
    _head: bool
    _pending: list[bytes] = field(default_factory=list)

    async def body(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives; the connection returns to the pool once it is complete,
        and is closed when the reader stops before that (the client went away mid-stream)."""
        try:
            for piece in self._pending:
                yield piece
            self._pending.clear()
            while not self._parser.complete and not self._head:
                data = await self._connection.read()
                if not data:
                    self._connection.close()
                    if self.content_length is None and not self._chunked:
                        return  # body delimited by the connection closing
                    raise OriginError("origin closed the connection mid-body")
                try:
                    self._connection.parser.feed_data(data)
                except httptools.HttpParserError as exc:
                    self._connection.close()
                    raise OriginError(f"invalid response body from origin: {exc}") from exc
                pieces, self._parser.pieces = self._parser.pieces, []
                for piece in pieces:
                    yield piece
        except BaseException:  # cancelled, closed early, or failed: the rest of the body is unread
            self._connection.close()
            raise
        self.release()

    @property
    def _chunked(self) -> bool:
        return any(n.lower() == "transfer-encoding" for n, _ in self.headers)

    def release(self) -> None:
        if self._parser.complete and self._connection.parser.should_keep_alive():
            self._pool.give_back(self._connection)
        else:
            self._connection.close()


class _Connection:
    def __init__(
        self,
        address: OriginAddress,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        registry: set[_Connection],
    ) -> None:
        self.address, self.reader, self.writer = address, reader, writer
        self.parser: httptools.HttpResponseParser = httptools.HttpResponseParser(_Parser())
        self.registry = registry
        registry.add(self)

    async def read(self) -> bytes:
        return await self.reader.read(65536)

    def close(self) -> None:
        self.writer.close()
        self.registry.discard(self)


class OriginPool:
    """Keep-alive connections per origin address."""

    def __init__(
        self, *, connect_timeout: float = 5.0, read_timeout: float = 30.0, max_idle: int = 64
    ) -> None:
        self.connect_timeout, self.read_timeout, self.max_idle = connect_timeout, read_timeout, max_idle
        self._idle: dict[OriginAddress, list[_Connection]] = {}
        self._open: set[_Connection] = set()  # idle or in use, so shutdown closes every one
        self._tls = ssl.create_default_context()
        self.guard = OriginGuard()  # public addresses only, until the worker installs its own

    def give_back(self, connection: _Connection) -> None:
        idle = self._idle.setdefault(connection.address, [])
        if len(idle) < self.max_idle and not connection.writer.is_closing():
            idle.append(connection)
        else:
            connection.close()

    async def _connect(self, address: OriginAddress) -> tuple[_Connection, bool]:
        idle = self._idle.get(address)
        while idle:
            connection = idle.pop()
            if not connection.writer.is_closing() and not connection.reader.at_eof():
                return connection, True
            connection.close()
        # A new connection only: the guard resolves the host (briefly cached), checks every address
        # against the origin policy and connects to a checked address itself.
        try:
            reader, writer = await asyncio.wait_for(
                self.guard.open_connection(
                    address.host,
                    address.port,
                    ssl=self._tls if address.tls else None,
                    server_hostname=address.host if address.tls else None,
                ),
                self.connect_timeout,
            )
        except OriginRefused as exc:
            raise OriginError(f"origin {address.host}:{address.port} refused: {exc.reason}") from exc
        except (OSError, TimeoutError) as exc:
            raise OriginError(f"cannot connect to origin {address.host}:{address.port}: {exc}") from exc
        return _Connection(address, reader, writer, self._open), False

    async def fetch(
        self,
        origin: str,
        *,
        hostname: str,
        target: str,
        headers: Sequence[tuple[str, str]],
    ) -> OriginResponse:
        """Send one GET and return once the response head has arrived (the edge never sends HEAD:
        it fills its cache from full responses and answers HEAD itself)."""
        address = OriginAddress.parse(origin)
        for attempt in (1, 2):  # a pooled connection may have been closed by the origin meanwhile
            connection, reused = await self._connect(address)
            parser = _Parser()
            connection.parser = httptools.HttpResponseParser(parser)
            lines = [f"GET {address.base_path}{target} HTTP/1.1", f"Host: {hostname}"]
            lines += [f"{name}: {value}" for name, value in headers]
            connection.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            try:
                while not parser.headers_done:
                    data = await asyncio.wait_for(connection.read(), self.read_timeout)
                    if not data:
                        raise OriginError("origin closed the connection before answering")
                    connection.parser.feed_data(data)
            except (OriginError, OSError, httptools.HttpParserError, TimeoutError) as exc:
                connection.close()
                if attempt == 1 and reused and isinstance(exc, OriginError | OSError):
                    continue
                raise OriginError(f"origin {address.host}:{address.port} failed: {exc!r}") from exc
            status = connection.parser.get_status_code()
            length = next((v for n, v in parser.headers if n.lower() == "content-length"), None)
            pending, parser.pieces = parser.pieces, []
            return OriginResponse(
                status=status,
                headers=parser.headers,
                content_length=int(length) if length and length.isdigit() else None,
                _connection=connection,
                _parser=parser,
                _pool=self,
                _head=status in (204, 304) or 100 <= status < 200,
                _pending=pending,
            )
        raise OriginError("unreachable")  # pragma: no cover

    def close(self) -> None:
        for connection in list(self._open):
            connection.close()
        self._idle.clear()
