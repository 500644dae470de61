"""Poll an IMAP mailbox: fetch each message, store it (committed), and only then move it to the
processed folder, so a message leaves the mailbox only once it is safe here. A crash between the
two leaves it in the mailbox; the next poll stores it again and the copy is recorded as a
duplicate, never lost.

The mailbox is named by a URL: ``imaps://USER[:PASSWORD]@HOST[:PORT]/MAILBOX`` (``imap://`` with
STARTTLS); the password may come from ``STAYDOWN_IMAP_PASSWORD`` instead.
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from staydown.config import Settings
from staydown.db.engine import Database
from staydown.inbound import service
from staydown.types import Clock, system_clock


class MailboxError(Exception):
    """The mailbox cannot be reached or read; the message says why."""


@dataclass(frozen=True, slots=True)
class Mailbox:
    host: str
    port: int
    user: str
    password: str
    mailbox: str
    implicit_tls: bool

    @classmethod
    def from_url(cls, url: str, *, password: str | None = None) -> Mailbox:
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
            raise MailboxError("give the mailbox as imaps://USER@HOST[:PORT]/MAILBOX")
        secret = unquote(parts.password) if parts.password else password
        if not secret:
            raise MailboxError("no IMAP password: put it in the URL or in STAYDOWN_IMAP_PASSWORD")
        implicit = parts.scheme == "imaps"
        return cls(
            host=parts.hostname,
            port=parts.port or (993 if implicit else 143),
            user=unquote(parts.username),
            password=secret,
            mailbox=unquote(parts.path.lstrip("/")) or "INBOX",
            implicit_tls=implicit,
        )


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(result: tuple[str, list[Any]], what: str) -> list[Any]:
    status, data = result
    if status != "OK":
        raise MailboxError(f"{what} failed: {data!r}"[:300])
    return data


def delivered_at(response: bytes) -> datetime | None:
    """When the IMAP server took the message in (its INTERNALDATE, set by our own mail server, never
    by the sender), from a FETCH response's first line; None if it names none."""
    try:
        when = imaplib.Internaldate2tuple(response)
        return datetime.fromtimestamp(time.mktime(when), UTC) if when is not None else None
    except (KeyError, ValueError, OverflowError):  # a month or a date out of range
        return None


def fetch(
    database: Database,
    settings: Settings,
    mailbox: Mailbox,
    *,
    move_to: str,
    context: ssl.SSLContext | None = None,
    clock: Clock = system_clock,
    limit: int = 500,
) -> list[int]:
    """Store every message in the mailbox (up to ``limit``), moving each to ``move_to`` after its
    commit; return the stored messages' ids."""
    context = context or ssl.create_default_context()
    try:
        client: imaplib.IMAP4 = (
            imaplib.IMAP4_SSL(mailbox.host, mailbox.port, ssl_context=context, timeout=30)
            if mailbox.implicit_tls
            else imaplib.IMAP4(mailbox.host, mailbox.port, timeout=30)
        )
        if not mailbox.implicit_tls:
            client.starttls(ssl_context=context)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"cannot connect to {mailbox.host}:{mailbox.port}: {exc}") from exc
    stored: list[int] = []
    try:
        client.login(mailbox.user, mailbox.password)
        _check(client.select(_quoted(mailbox.mailbox)), f"selecting {mailbox.mailbox}")
        client.create(_quoted(move_to))  # fails harmlessly when it exists
        listed = _check(client.capability(), "asking for capabilities")  # they grow after login
        can_move = b"MOVE" in (listed[0] or b"").upper().split() if listed else False
        data = _check(client.uid("SEARCH", "ALL"), "searching")
        uids = (data[0] or b"").decode("ascii").split() if data and isinstance(data[0], bytes) else []
        for uid in uids[:limit]:
            fetched = _check(client.uid("FETCH", uid, "(INTERNALDATE BODY.PEEK[])"), f"fetching {uid!r}")
            part = next((part for part in fetched if isinstance(part, tuple)), None)
            if part is None or not isinstance(part[1], bytes):
                continue
            try:
                message_id = service.receive(
                    database,
                    part[1],
                    via="imap",
                    now=clock(),
                    settings=settings,
                    recipients=[mailbox.user],
                    arrived_at=delivered_at(part[0]),
                )
            except service.TooLarge:
                message_id = None  # left in the mailbox for a person; it is never moved as if taken
            if message_id is None:
                continue
            stored.append(message_id)
            if can_move:
                _check(client.uid("MOVE", uid, _quoted(move_to)), "moving")
            else:
                _check(client.uid("COPY", uid, _quoted(move_to)), "copying")
                _check(client.uid("STORE", uid, "+FLAGS", "(\\Deleted)"), "flagging")
                client.expunge()
    except imaplib.IMAP4.error as exc:
        raise MailboxError(f"IMAP: {exc}") from exc
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()
    return stored
