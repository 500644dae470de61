"""Rows of the enforcement log, the notification outbox and durable timers."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from staydown.db.base import Base, BigIntPK, str_enum
from staydown.feedrecords import FeedKind

__all__ = ["FeedKind"]  # defined with the records it names (staydown.feedrecords); kept for old importers


class EnforcementRecord(Base):
    """One decision as the edges apply it; ``seq`` is gap-free and in commit order."""

    __tablename__ = "enforcement_records"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[FeedKind] = mapped_column(str_enum(FeedKind))
    at: Mapped[datetime]
    zone_id: Mapped[int | None] = mapped_column(Integer, index=True)
    target: Mapped[str | None] = mapped_column(Text)
    notice_id: Mapped[int | None] = mapped_column(Integer, index=True)
    item_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]]


class Channel(enum.StrEnum):
    email = "email"
    webhook = "webhook"


class OutboxStatus(enum.StrEnum):
    pending = "pending"  # waiting for its transport
    stored = "stored"  # no transport configured: kept here for the desk
    sent = "sent"
    failed = "failed"  # permanent failure or retries exhausted


class OutboxMessage(Base):
    """A notification written in the same transaction as the step that caused it, sent after commit."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    created_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(48))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    recipient: Mapped[str] = mapped_column(String(512))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]
    status: Mapped[OutboxStatus] = mapped_column(str_enum(OutboxStatus))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    # A worker's claim: nobody else sends the message until ``lease_until``; a crashed worker's
    # lease runs out and another worker sends it (with the same Message-ID).
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None]


class TimerStatus(enum.StrEnum):
    pending = "pending"
    done = "done"
    cancelled = "cancelled"
    failed = "failed"


class Timer(Base):
    """A step due at an instant (a deadline, a restoration); run by the worker or ``timers run``."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    due_at: Mapped[datetime]
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]]
    status: Mapped[TimerStatus] = mapped_column(str_enum(TimerStatus))
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None]


class EdgeContact(Base):
    """What the control plane last heard from one edge worker: its applied sequence, or a refusal."""

    __tablename__ = "edges"

    edge_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), default="")
    transport: Mapped[str] = mapped_column(String(16), default="http")
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    key_id: Mapped[int | None] = mapped_column(Integer)
    first_seen: Mapped[datetime]
    last_contact: Mapped[datetime | None]  # the last accepted poll or heartbeat
    refused_status: Mapped[int | None] = mapped_column(Integer)  # 401 or 403, while refused
    refused_at: Mapped[datetime | None]


class FeedCheckpoint(Base):
    """The log folded as of ``seq`` (a snapshot, gzip-compressed JSON lines): where a control plane
    process starts its fold instead of the log's first record."""

    __tablename__ = "feed_checkpoints"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    written_at: Mapped[datetime]
