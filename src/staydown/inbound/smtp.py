"""The SMTP (or LMTP) receiver: an ``aiosmtpd`` server whose only work is to store each message and
acknowledge it once stored. ``250`` is answered only after the message's transaction committed
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
        self.database, self.settings, self.via, self.clock = database, settings, via, clock
        self.stored = stored

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="surrogateescape")
        try:
            message_id = await asyncio.to_thread(
                service.receive,
                self.database,
                raw,
                via=self.via,
                now=self.clock(),
                settings=self.settings,
                envelope_from=envelope.mail_from,
                recipients=list(envelope.rcpt_tos),
            )
        except service.TooLarge as exc:
            return f"552 5.3.4 {exc}"
        except SQLAlchemyError:
            log.exception("could not store a received message")
            return "451 4.3.0 the message could not be stored now; try again later"
        if self.stored is not None:
            self.stored(message_id)
        return f"250 2.0.0 stored as inbound message {message_id}"


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
