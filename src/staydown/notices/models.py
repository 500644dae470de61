"""Notices and their items."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from staydown.db.base import Base, BigIntPK, JSONType, str_enum
from staydown.notices.flows import ItemStatus, NoticeStatus
from staydown.types import Regime


class Notice(Base):
    """An infringement notice as received, with its legal elements stored one by one."""

    __tablename__ = "notices"
    __table_args__ = (
        Index("ix_notices_status_deadline", "status", "deadline_at"),
        Index("ix_notices_submitter_external", "submitter_key_id", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    regime: Mapped[Regime] = mapped_column(str_enum(Regime))
    status: Mapped[NoticeStatus] = mapped_column(str_enum(NoticeStatus))
    submitter_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(16), default="api")
    source_ip: Mapped[str | None] = mapped_column(String(64))

    submitter_name: Mapped[str | None] = mapped_column(String(300))
    submitter_email: Mapped[str | None] = mapped_column(String(320))
    submitter_address: Mapped[str | None] = mapped_column(Text)
    submitter_phone: Mapped[str | None] = mapped_column(String(64))
    submitter_organization: Mapped[str | None] = mapped_column(String(300))
    on_behalf_of: Mapped[str | None] = mapped_column(String(300))
    works: Mapped[list[Any]]
    explanation: Mapped[str | None] = mapped_column(Text)
    statement_good_faith: Mapped[bool] = mapped_column(Boolean, default=False)
    statement_accurate: Mapped[bool] = mapped_column(Boolean, default=False)
    statement_authorized: Mapped[bool] = mapped_column(Boolean, default=False)
    signature: Mapped[str | None] = mapped_column(String(300))
    missing_elements: Mapped[list[str]]
    content_sha256: Mapped[str] = mapped_column(String(64))
    # A measure against the notifier that applies to this notice, as stated to everyone who reads it.
    sanction: Mapped[str | None] = mapped_column(Text)
    # The sender's own reference for the notice (bulk senders search by it).
    external_id: Mapped[str | None] = mapped_column(String(200))
    # Entries of the submission that could not become items, each with its index and the reason.
    rejected_items: Mapped[list[Any] | None] = mapped_column(JSONType)
    # The language of every letter to the notifier ("en" or "ja"); none: the configured default.
    language: Mapped[str | None] = mapped_column(String(8))

    received_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    first_actioned_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    time_to_action_seconds: Mapped[float | None] = mapped_column(Float)
    item_count: Mapped[int] = mapped_column(Integer, default=0)

    items: Mapped[list[NoticeItem]] = relationship(
        back_populates="notice", order_by="NoticeItem.position", lazy="raise_on_sql"
    )


class NoticeItem(Base):
    """One URL of a notice, resolved to the zone that serves it (if any)."""

    __tablename__ = "notice_items"
    __table_args__ = (
        Index("ix_notice_items_zone_target", "zone_id", "target"),
        Index("ix_notice_items_notice_position", "notice_id", "position"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"))
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    hostname: Mapped[str] = mapped_column(String(253))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    work_index: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[ItemStatus] = mapped_column(str_enum(ItemStatus))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("notice_items.id"))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    automated: Mapped[bool] = mapped_column(Boolean, default=False)
    # 17 U.S.C. 512(b)(2)(E): why a cached copy was removed (origin_removed | court_ordered).
    caching_trigger: Mapped[str | None] = mapped_column(String(32))
    # The Japanese sender inquiry: when the sender's time to object ends, and whether it is election content.
    inquiry_due_at: Mapped[datetime | None]
    election: Mapped[bool | None] = mapped_column(Boolean)
    external_id: Mapped[str | None] = mapped_column(String(200))  # the sender's own reference

    notice: Mapped[Notice] = relationship(back_populates="items")


class IdempotentSubmission(Base):
    """A notice submitted with an ``Idempotency-Key``: what was sent and what was answered, so a
    replay of the same request gets the same answer and a different request under the key is refused.
    """

    __tablename__ = "notice_idempotency"
    __table_args__ = (UniqueConstraint("key_id", "idempotency_key", name="uq_notice_idempotency_key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_sha256: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    status_code: Mapped[int] = mapped_column(Integer, default=201)
    response: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class SubmitterWebhook(Base):
    """Where a submitter's key wants to hear about its notices, and the secret deliveries are signed with."""

    __tablename__ = "submitter_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
