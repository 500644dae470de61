"""A request body on its way from a client to an origin.

The connection feeds the body as the parser frames it (RFC 9112 section 6: Content-Length or
chunked, never both) and the exchange that forwards it takes it piece by piece, so a body is never
held whole: the connection stops reading while more than ``BUFFERED`` bytes wait to be taken. A body
nobody forwards (a GET's, or one whose request was answered without the origin) is counted and
dropped. Either way no more than ``limit`` bytes are accepted.

A body the parser does not frame (it takes what follows a head asking for an upgrade for the new
protocol, and the edge never upgrades) is read by its Content-Length by :class:`Unframed`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import httptools

BUFFERED = 256 * 1024  # bytes of a body held for the exchange before the connection stops reading


class BodyError(Exception):
    """The client's body could not be read to its end; ``status`` is what the client is answered."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _nothing() -> None:
    pass


class RequestBody:
    """A body fed by the connection and taken by one reader (``chunks``), or dropped."""

    __slots__ = (
        "buffered", "complete", "continue_owed", "discarding", "error", "length", "limit", "on_start",
        "on_taken", "pieces", "received", "started", "unframed", "waiter",
    )  # fmt: skip

    def __init__(self, *, length: int | None, limit: int, discarding: bool = False) -> None:
        self.length = length  # the request's Content-Length; None when chunked
        self.limit = limit
        self.received = 0
        self.pieces: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.error: BodyError | None = None
        self.discarding = discarding
        self.started = False
        self.continue_owed = False  # the client waits for 100 Continue before it sends the body
        self.unframed = False  # read by its length past the parser (after a head asking to upgrade)
        self.waiter: asyncio.Future[None] | None = None
        self.on_start: Callable[[], None] = _nothing  # the reader began (time for 100 Continue)
        self.on_taken: Callable[[], None] = _nothing  # the reader took what was held back

    def feed(self, data: bytes) -> bool:
        """Add bytes as framed by the parser; False once the body exceeds its limit."""
        self.received += len(data)
        if self.received > self.limit:
            return False
        if not self.discarding:
            self.pieces.append(data)
            self.buffered += len(data)
            self._wake()
        return True

    def finish(self) -> None:
        """The body ended where its framing says it does."""
        self.complete = True
        self._wake()

    def fail(self, error: BodyError) -> None:
        """The body will not be read to its end (too large, malformed, or cut off)."""
        if self.error is None:
            self.error = error
        self.pieces.clear()
        self.buffered = 0
        self._wake()

    def discard(self) -> None:
        """Drop what is held and what is still to come: nobody will take it."""
        self.discarding = True
        self.pieces.clear()
        self.buffered = 0
        self._wake()
        self.on_taken()

    @property
    def waiting(self) -> bool:
        """Whether more is held than the reader has taken (the connection should stop reading)."""
        return self.buffered > BUFFERED

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives; raise ``BodyError`` when it cannot be read to its end."""
        if not self.started:
            self.started = True
            self.on_start()
        while True:
            if self.error is not None:
                raise self.error
            if self.pieces:
                piece = self.pieces.popleft()
                self.buffered -= len(piece)
                if self.buffered <= BUFFERED // 2:
                    self.on_taken()
                yield piece
                continue
            if self.complete or self.discarding:
                return
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Connection(Protocol):
    """What :class:`Unframed` reads a body for: the parser's callbacks, and its parser."""

    parser: httptools.HttpRequestParser
    closing: bool

    def on_body(self, data: bytes) -> None: ...

    def on_message_complete(self) -> None: ...


class Unframed:
    """Stands in for the parser while a body it does not frame (after a head asking for an upgrade,
    which the edge ignores) is read by its Content-Length; then parsing goes on after the body."""

    __slots__ = ("body", "connection", "left", "parser")

    def __init__(
        self, connection: Connection, body: RequestBody, parser: httptools.HttpRequestParser
    ) -> None:
        self.connection, self.body, self.parser = connection, body, parser
        self.left = body.length or 0

    def feed_data(self, data: bytes) -> None:
        piece, rest = data[: self.left], data[self.left :]
        self.left -= len(piece)
        connection = self.connection
        if piece:
            connection.on_body(piece)
        if self.left:
            return
        connection.parser = self.parser
        self.body.unframed = False
        connection.on_message_complete()
        if rest and not connection.closing:
            try:
                self.parser.feed_data(rest)
            except httptools.HttpParserUpgrade as upgrade:  # where it is in what this was fed
                raise httptools.HttpParserUpgrade(len(piece) + upgrade.args[0]) from None
