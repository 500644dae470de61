"""RDAP answers kept for their time to live, and every forward of a notice to an origin's host."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from staydown.db.base import Base, str_enum


class LookupStatus(enum.StrEnum):
    found = "found"  # the network's holder names an abuse contact
    no_contact = "no_contact"  # an answer, but no abuse entity with an e-mail address
    failed = "failed"  # no usable answer (timeout, garbage, too large, refused redirect...)


class HostLookup(Base):
    """What RDAP said about one address, where it said it, and until when it is believed."""

    __tablename__ = "host_lookups"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[LookupStatus] = mapped_column(str_enum(LookupStatus, 16))
    source: Mapped[str | None] = mapped_column(Text)
    handle: Mapped[str | None] = mapped_column(String(100))
    network: Mapped[str | None] = mapped_column(String(200))
    holder: Mapped[str | None] = mapped_column(String(300))
    abuse_email: Mapped[str | None] = mapped_column(String(320))
    abuse_name: Mapped[str | None] = mapped_column(String(300))
    reason: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ForwardStatus(enum.StrEnum):
    pending = "pending"  # waiting for the worker to find the host
    sent = "sent"  # queued to the host's abuse contact
    unreachable = "unreachable"  # no contact could be found; the reasons are recorded
    answered = "answered"  # the host answered (recorded by an agent)


class HostForward(Base):
    """A notice forwarded to the host behind one zone's origin: the letter, who it went to, on
    whose word (a contact set by hand, or RDAP), and whether the host has answered."""

    __tablename__ = "host_forwards"
    __table_args__ = (Index("ix_host_forwards_due", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    urls: Mapped[list[str]]
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]
    complainant_email: Mapped[str | None] = mapped_column(String(320))  # until the receipt is queued
    complainant_trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[ForwardStatus] = mapped_column(str_enum(ForwardStatus, 16))
    created_at: Mapped[datetime]
    host_contact: Mapped[str | None] = mapped_column(String(320))
    contact_source: Mapped[str | None] = mapped_column(String(16))
    host_name: Mapped[str | None] = mapped_column(String(300))
    rdap_source: Mapped[str | None] = mapped_column(Text)
    origin_addresses: Mapped[list[str]]
    reasons: Mapped[list[str]]
    sent_at: Mapped[datetime | None]
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None]
