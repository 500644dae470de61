"""The SMTP (or LMTP) receiver: an ``aiosmtpd`` server whose only work is to store each message and
acknowledge it once stored. ``250`` is answered only after the transaction holding it committed
(SQLite ``synchronous=FULL``, PostgreSQL's commit), so a message acknowledged survives a
``kill -9`` of this process; a message over ``mail_max_bytes`` gets ``552`` (the ``SIZE`` extension
announces the bound), a database that cannot store gets ``451`` so the sender retries.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.exc import SQLAlchemyError

from staydown.config import Settings
from staydown.db.engine import Database
from staydown.inbound import service
from staydown.types import Clock, system_clock

log = logging.getLogger(__name__)


class GroupCommit:
    """Store the messages that arrive together in one transaction: each DATA waits for the commit
    that includes it, and one disk flush serves every message of the group."""

    def __init__(self, database: Database, clock: Clock, *, most: int = 200) -> None:
        self.database, self.clock, self.most = database, clock, most
        self.waiting: list[tuple[service.Arrival, asyncio.Future[int]]] = []
        self.running = False
        self.drainer: asyncio.Task[None] | None = None  # held, so the loop cannot drop it midway

    async def store(self, arrival: service.Arrival) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.waiting.append((arrival, future))
        if not self.running:
            self.running = True
            self.drainer = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                group, self.waiting = self.waiting[: self.most], self.waiting[self.most :]
                try:
                    ids = await asyncio.to_thread(
                        service.receive_many, self.database, [a for a, _f in group], now=self.clock()
                    )
                except Exception as exc:
                    for _arrival, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_arrival, future), message_id in zip(group, ids, strict=True):
                    if not future.done():
                        future.set_result(message_id)
        finally:
            self.running = False


class IntakeHandler:
    """aiosmtpd handler: store the message, then answer."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        via: str = "smtp",
        clock: Clock = system_clock,
        stored: Callable[[int], None] | None = None,
    ) -> None:
        self.settings, self.via = settings, via
        self.stored = stored
        self.commits = GroupCommit(database, clock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="surrogateescape")
        try:
            service.check_size(len(raw), self.settings)
            arrival = service.Arrival(raw, self.via, envelope.mail_from, tuple(envelope.rcpt_tos))
            message_id = await self.commits.store(arrival)
        except service.TooLarge as exc:
            return self._reply(f"552 5.3.4 {exc}", envelope)
        except SQLAlchemyError:
            log.exception("could not store a received message")
            return self._reply("451 4.3.0 the message could not be stored now; try again later", envelope)
        if self.stored is not None:
            self.stored(message_id)
        return self._reply(f"250 2.0.0 stored as inbound message {message_id}", envelope)

    def _reply(self, status: str, envelope: Envelope) -> str:
        if self.via == "lmtp":  # RFC 2033 4.2: one reply per recipient (all for the one stored copy)
            return "\r\n".join([status] * max(1, len(envelope.rcpt_tos)))
        return status


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def start(
    database: Database,
    settings: Settings,
    sock: socket.socket,
    *,
    lmtp: bool = False,
    clock: Clock = system_clock,
    stored: Callable[[int], None] | None = None,
) -> asyncio.Server:
    """Serve SMTP (or LMTP) on ``sock`` until the returned server is closed."""
    handler = IntakeHandler(database, settings, via="lmtp" if lmtp else "smtp", clock=clock, stored=stored)
    protocol: type[SMTP] = LMTP if lmtp else SMTP
    options: dict[str, Any] = {
        "data_size_limit": settings.mail_max_bytes,
        "hostname": settings.mail_hostname,
        "decode_data": False,
        "enable_SMTPUTF8": True,
        "ident": "staydown mail intake",
    }
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: protocol(handler, **options), sock=sock)
