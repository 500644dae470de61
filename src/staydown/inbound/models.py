"""Messages received by the mail intake, stored raw, and the senders bound to API keys."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from staydown.db.base import Base, BigIntPK, str_enum
from staydown.inbound.parsers.base import InboundFormat


class InboundStatus(enum.StrEnum):
    """Where a received message stands: ``pending`` until read, then what it amounted to."""

    pending = "pending"
    notice = "notice"
    triage = "triage"
    not_applicable = "not_applicable"
    duplicate = "duplicate"
    refused = "refused"
    host_answer = "host_answer"  # a host's reply to a notice forwarded to it (hosts/)


class InboundMessage(Base):
    """One received message, raw as it arrived, committed before it is acknowledged.

    Reading it (parse, notice, letters) is a durable job claimed like the worker's others, so a
    process that dies between storing and reading loses nothing: the row stays ``pending``.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_due", "status", "received_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    received_at: Mapped[datetime]
    via: Mapped[str] = mapped_column(String(16))  # smtp, lmtp, pipe, imap, api
    envelope_from: Mapped[str | None] = mapped_column(String(320))
    recipients: Mapped[list[str]]
    from_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(500))
    message_id: Mapped[str | None] = mapped_column(String(500), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    format: Mapped[InboundFormat | None] = mapped_column(str_enum(InboundFormat))
    status: Mapped[InboundStatus] = mapped_column(str_enum(InboundStatus))
    reason: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(200), index=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    duplicate_of_id: Mapped[int | None] = mapped_column(BigIntPK)
    extracted: Mapped[dict[str, Any]]  # what was read, for the desk's pre-filled form
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(64))
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None]


class InboundReference(Base):
    """A reference a sender gives its notice (Message-ID, ACNS Case ID, X-ARF report id, content or
    raw hash), claimed by the first message read that carries it. The key is the database's: a
    second message with the same reference, read at the same instant by another process, cannot
    claim it too, and becomes that message's ``duplicate`` (``inbound.references``).
    """

    __tablename__ = "inbound_references"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(500), primary_key=True)
    message_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("inbound_messages.id"))


class MailSender(Base):
    """An e-mail address whose messages are submitted as an API key's (a trusted flagger's, say)."""

    __tablename__ = "mail_senders"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
