"""Fetch from customer origins over HTTP/1.1 with keep-alive connections, parsing with httptools.

Requests to an origin are always unambiguous: the edge writes them itself from the canonical
target and a fixed set of forwarded fields, and frames a body itself (Content-Length when the
client's was known, else chunked) from the bytes the client's framing delimited, so nothing a
visitor sends can smuggle a second request onto an origin connection.

A request with a body, or of a method that is not idempotent, goes on a new connection and is
never retried (RFC 9110 section 9.2.2); a bodiless idempotent one is retried once when a pooled
connection turns out to have been closed by the origin.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
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


IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
# Methods that define a meaning for content: sent "Content-Length: 0" when they carry none.
WITH_CONTENT = frozenset({"POST", "PUT", "PATCH"})


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


Interim = Callable[[int, list[tuple[str, str]]], None]  # told of each 1xx before the final response


def end_to_end(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The fields of a message less this hop's: the hop-by-hop ones and those its Connection names
    (RFC 9110 section 7.6.1, for responses as for requests)."""
    named = {t.strip().lower() for n, v in headers if n.lower() == "connection" for t in v.split(",")}
    dropped = HOP_BY_HOP | named
    return [(n, v) for n, v in headers if n.lower() not in dropped]


def transfer_codings(headers: list[tuple[str, str]]) -> list[str]:
    """The transfer codings a message's Transfer-Encoding fields list, in order, lowered."""
    return [
        coding.strip().lower()
        for n, v in headers
        if n.lower() == "transfer-encoding"
        for coding in v.split(",")
        if coding.strip()
    ]


class _Parser:
    """httptools callbacks for one response and the interim (1xx) responses before it."""

    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []
        self.pieces: list[bytes] = []
        self.headers_done = False
        self.complete = False
        self.http: httptools.HttpResponseParser | None = None  # the parser these callbacks serve
        self.interim: list[tuple[int, list[tuple[str, str]]]] = []
        self.in_interim = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self.http.get_status_code() if self.http is not None else 200
        if 100 <= status < 200 and status != 101:  # an interim response: the final one follows
            self.interim.append((status, self.headers))
            self.headers = []
            self.in_interim = True
            return
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.pieces.append(body)

    def on_message_complete(self) -> None:
        if self.in_interim:
            self.in_interim = False
            return
        self.complete = True


@dataclass
class OriginResponse:
    """A response head from an origin, and its body to read. ``headers`` are its end-to-end fields;
    ``codings`` the transfer codings still applied to the body (all but a final chunked)."""

    status: int
    headers: list[tuple[str, str]]
    content_length: int | None
    _connection: _Connection
    _parser: _Parser
    _pool: OriginPool
    _head: bool
    _pending: list[bytes] = field(default_factory=list)
    # The origin answered before it was sent the whole request body: the connection is not reused.
    body_unsent: bool = False
    codings: tuple[str, ...] = ()
    chunked: bool = False

    async def body(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives; the connection returns to the pool once it is complete,
        and is closed when the reader stops before that (the client went away mid-stream)."""
        try:
            for piece in self._pending:
                yield piece
            self._pending.clear()
            while not self._parser.complete and not self._head:
                try:
                    data = await asyncio.wait_for(self._connection.read(), self._pool.read_timeout)
                except (OSError, TimeoutError) as exc:
                    raise OriginError(f"origin failed mid-body: {exc!r}") from exc
                if not data:
                    self._connection.close()
                    if self.content_length is None and not self.chunked:
                        return  # delimited by the connection closing (RFC 9112 section 6.3)
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
            self._connection.abort()
            raise
        self.release()

    def release(self) -> None:
        if self.body_unsent:
            self._connection.abort()  # the rest of the request body is not to be sent
        elif self._parser.complete and self._connection.parser.should_keep_alive():
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

    def abort(self) -> None:
        """Close at once, dropping what is still to be sent: the exchange on it is abandoned."""
        self.writer.transport.abort()
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

    async def _fresh(self, address: OriginAddress) -> _Connection:
        """A new connection, never a pooled one (those idle meanwhile stay in the pool)."""
        idle = self._idle.pop(address, None)
        try:
            connection, _ = await self._connect(address)
        finally:
            if idle:
                self._idle.setdefault(address, []).extend(idle)
        return connection

    async def fetch(
        self,
        origin: str,
        *,
        hostname: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        method: str = "GET",
        body: AsyncIterator[bytes] | None = None,
        length: int | None = None,
        interim: Interim | None = None,
    ) -> OriginResponse:
        """Send one request and return once the response head has arrived.

        The cache fills with GET (it answers HEAD itself from full responses); other methods pass
        with ``body`` (``length`` bytes when known, else sent chunked). A body is sent while the
        response is awaited, so an origin that answers early is heard; the rest is then not sent.
        Interim responses (1xx) go to ``interim`` as they arrive.
        """
        address = OriginAddress.parse(origin)
        once = body is not None or method not in IDEMPOTENT
        for attempt in (1, 2):  # a pooled connection may have been closed by the origin meanwhile
            if once:
                connection, reused = await self._fresh(address), False
            else:
                connection, reused = await self._connect(address)
            parser = _Parser()
            connection.parser = parser.http = httptools.HttpResponseParser(parser)
            lines = [f"{method} {address.base_path}{target} HTTP/1.1", f"Host: {hostname}"]
            lines += [f"{name}: {value}" for name, value in headers]
            if body is not None and length is None:
                lines.append("Transfer-Encoding: chunked")
            elif body is not None or method in WITH_CONTENT:
                lines.append(f"Content-Length: {length or 0}")
            connection.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            sender = None
            if body is not None:
                sender = asyncio.ensure_future(self._send(connection, body, chunked=length is None))
            try:
                await self._head(connection, parser, sender, interim)
            except (OriginError, OSError, httptools.HttpParserError, TimeoutError) as exc:
                connection.abort()
                if attempt == 1 and reused and isinstance(exc, OriginError | OSError):
                    continue
                raise OriginError(f"origin {address.host}:{address.port} failed: {exc!r}") from exc
            except BaseException:  # the client's body failed, or the exchange was cancelled
                connection.abort()
                raise
            finally:
                unsent = sender is not None and not sender.done()
                if sender is not None:
                    sender.cancel()
            status = connection.parser.get_status_code()
            length_field = next((v for n, v in parser.headers if n.lower() == "content-length"), None)
            pending, parser.pieces = parser.pieces, []
            codings = transfer_codings(parser.headers)
            chunked = bool(codings) and codings[-1] == "chunked"
            return OriginResponse(
                status=status,
                headers=end_to_end(parser.headers),
                content_length=int(length_field) if length_field and length_field.isdigit() else None,
                _connection=connection,
                _parser=parser,
                _pool=self,
                _head=status in (204, 304) or 100 <= status < 200,
                _pending=pending,
                body_unsent=unsent,
                codings=tuple(codings[:-1] if chunked else codings),
                chunked=chunked,
            )
        raise OriginError("unreachable")  # pragma: no cover

    async def _send(self, connection: _Connection, body: AsyncIterator[bytes], *, chunked: bool) -> None:
        """Write a request body as the client's framing delimits it, framed anew."""
        writer = connection.writer
        async for piece in body:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await asyncio.wait_for(writer.drain(), self.read_timeout)
        if chunked:
            writer.write(b"0\r\n\r\n")  # no trailer fields: the client's are not forwarded
        await asyncio.wait_for(writer.drain(), self.read_timeout)

    async def _head(
        self,
        connection: _Connection,
        parser: _Parser,
        sender: asyncio.Future[None] | None,
        interim: Interim | None,
    ) -> None:
        """Read until the response head is in. While a body is sent, the origin has as long as
        the body takes (the client's own timeouts bound that); then ``read_timeout``."""
        read: asyncio.Future[bytes] | None = None
        try:
            while not parser.headers_done:
                read = asyncio.ensure_future(connection.read())
                if sender is not None and not sender.done():
                    waits: set[asyncio.Future[Any]] = {read, sender}
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    failure = sender.exception() if sender.done() else None
                    # A failed write means the origin stopped reading: it may have answered, so
                    # what it sent is read. Any other failure is the client's body's.
                    if failure is not None and not isinstance(failure, OSError | TimeoutError):
                        raise failure
                data = await asyncio.wait_for(read, self.read_timeout)
                read = None
                if not data:
                    raise OriginError("origin closed the connection before answering")
                connection.parser.feed_data(data)
                for status, fields in parser.interim:
                    if interim is not None:
                        interim(status, end_to_end(fields))
                parser.interim.clear()
        finally:
            if read is not None and not read.done():
                read.cancel()

    def close(self) -> None:
        for connection in list(self._open):
            connection.abort()
        self._idle.clear()
