"""The hash bank, what was fingerprinted for it, and the stay-down matches edges report."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from staydown.db.base import Base, BigIntPK, str_enum


class BankScope(enum.StrEnum):
    """Where an entry keeps copies out: one zone, every zone of one customer, or the whole network."""

    zone = "zone"
    customer = "customer"
    network = "network"


class BankSource(enum.StrEnum):
    notice = "notice"  # the noticed content itself, read from the zone's origin
    reference = "reference"  # a rightsholder's reference image of a registered work
    allowlist = "allowlist"  # licensed or public-domain: its copies are never blocked automatically


class BankStatus(enum.StrEnum):
    active = "active"
    quarantined = "quarantined"  # matched too many URLs too fast: off the edges until an agent decides
    removed = "removed"


class BankEntry(Base):
    """One fingerprinted image that keeps its copies out; travels to edges as ``hash_add``."""

    __tablename__ = "bank_entries"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    scope: Mapped[BankScope] = mapped_column(str_enum(BankScope))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    source: Mapped[BankSource] = mapped_column(str_enum(BankSource))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("notice_items.id"), index=True)
    work_id: Mapped[int | None] = mapped_column(ForeignKey("works.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    pdq: Mapped[list[str]]  # hex PDQ hashes; empty when the image is too weak for near matching
    quality: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    status: Mapped[BankStatus] = mapped_column(str_enum(BankStatus))
    created_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]
    removed_reason: Mapped[str | None] = mapped_column(Text)
    # Tighter than the global automatic-block distance for this entry (a work's own), or None.
    auto_block_distance: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)  # why an agent allowlisted it (a licence, PD)


class QuarantineStatus(enum.StrEnum):
    open = "open"  # the entry is off the edges; its automatic blocks wait for an agent
    released = "released"  # an agent put the entry back in the bank
    removed = "removed"  # an agent took it out and lifted the blocks it made alone


class BankQuarantine(Base):
    """A bank entry paused because it matched more distinct URLs in a window than any real
    work's copies would (a logo or a blank page registered by mistake): a review item."""

    __tablename__ = "bank_quarantines"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("bank_entries.id"), index=True)
    status: Mapped[QuarantineStatus] = mapped_column(str_enum(QuarantineStatus), index=True)
    urls: Mapped[int] = mapped_column(Integer)  # distinct URLs it matched within the window
    window_seconds: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decision_reason: Mapped[str | None] = mapped_column(Text)


class CaptureStatus(enum.StrEnum):
    """Where reading a noticed item's content from its zone's origin stands."""

    pending = "pending"
    banked = "banked"
    not_image = "not_image"
    rejected = "rejected"  # not a decodable image (corrupt, too large, a decompression bomb)
    failed = "failed"  # the origin could not be read after every attempt
    cancelled = "cancelled"  # the item was restored before its content was read


class ContentCapture(Base):
    """Reading one actioned item's content from its zone's origin into the bank: a durable job.

    Rows are written in the transaction that actions the item and worked off by the worker outside
    any transaction (the origin may be slow), so a capture is never lost and never holds a lock.
    """

    __tablename__ = "content_captures"
    __table_args__ = (Index("ix_content_captures_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    item_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("notice_items.id"), index=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    url: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    status: Mapped[CaptureStatus] = mapped_column(str_enum(CaptureStatus))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    http_status: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)
    entry_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("bank_entries.id"))
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None]


class MatchOutcome(enum.StrEnum):
    block = "block"  # within the automatic-block distance: the edge answered 451 at once
    review = "review"  # in the review band: served until an agent confirms


class MatchStatus(enum.StrEnum):
    blocked = "blocked"  # automatic block, not yet looked at by an agent
    pending_review = "pending_review"
    confirmed = "confirmed"
    dismissed = "dismissed"


class StaydownMatch(Base):
    """A copy of banked content that an edge found in a zone, linked to the entry, work and notice."""

    __tablename__ = "staydown_matches"
    __table_args__ = (
        Index("ix_staydown_matches_copy", "entry_id", "zone_id", "target"),
        Index("ix_staydown_matches_entry_found", "entry_id", "found_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("bank_entries.id"))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), index=True)
    work_id: Mapped[int | None] = mapped_column(ForeignKey("works.id"), index=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    distance: Mapped[int] = mapped_column(Integer)
    exact: Mapped[bool]
    copy_sha256: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[MatchOutcome] = mapped_column(str_enum(MatchOutcome))
    status: Mapped[MatchStatus] = mapped_column(str_enum(MatchStatus), index=True)
    reported_by: Mapped[str] = mapped_column(String(64))
    found_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decision_reason: Mapped[str | None] = mapped_column(Text)
