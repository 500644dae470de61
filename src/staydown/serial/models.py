"""Serial-infringer reviews, links between customers, and the identity marks links are found by."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from staydown.db.base import Base, str_enum


class ReviewStatus(enum.StrEnum):
    open = "open"
    decided = "decided"


class ReviewDecision(enum.StrEnum):
    terminate = "terminate"
    suspend = "suspend"
    keep = "keep"


class SerialReview(Base):
    """A case for an agent: a customer crossed a serial-infringer threshold. It carries what the
    provider knew when it opened (the evidence) and the date it must be decided by."""

    __tablename__ = "serial_reviews"
    __table_args__ = (Index("ix_serial_reviews_customer_status", "customer_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[ReviewStatus] = mapped_column(str_enum(ReviewStatus, 16))
    trigger: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]]
    opened_at: Mapped[datetime]
    due_at: Mapped[datetime]
    decision: Mapped[ReviewDecision | None] = mapped_column(str_enum(ReviewDecision, 16))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    policy_step_id: Mapped[int | None] = mapped_column(ForeignKey("policy_steps.id"))


class LinkStatus(enum.StrEnum):
    open = "open"  # found; the customer's zones stay pending until an agent reviews it
    cleared = "cleared"  # an agent found the customers unrelated (or the link harmless)
    confirmed = "confirmed"  # an agent found the same operator: the new customer is terminated


class CustomerLink(Base):
    """A customer who shares identity marks with a suspended or terminated one, and the evidence."""

    __tablename__ = "customer_links"
    __table_args__ = (UniqueConstraint("customer_id", "linked_customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    linked_customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    evidence: Mapped[list[Any]]
    found_during: Mapped[str] = mapped_column(String(32))
    status: Mapped[LinkStatus] = mapped_column(str_enum(LinkStatus, 16))
    found_at: Mapped[datetime]
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    review_reason: Mapped[str | None] = mapped_column(Text)


class IdentityMark(Base):
    """One normalised identity value of a customer (its phone, its e-mail domain, an origin
    address...), kept as a digest of kind and value, so that a new sign-up is compared against
    every suspended or terminated customer by index."""

    __tablename__ = "identity_marks"
    __table_args__ = (
        UniqueConstraint("customer_id", "kind", "digest"),
        Index("ix_identity_marks_digest", "digest"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))


class ContentProbe(Base):
    """A new zone's content compared with what terminated customers were noticed for: fetched from
    its origin at the paths their noticed images had, and matched against their bank entries."""

    __tablename__ = "content_probes"

    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # running | done
    probed_at: Mapped[datetime]
    matched: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(Text)


class ServedDay(Base):
    """Requests the edges answered with one zone's content on one day (UTC, as reports arrived),
    and the most any resource's count that day may be below its true count (edge/served.py)."""

    __tablename__ = "served_days"

    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger)
    error: Mapped[int] = mapped_column(BigInteger)


class ServedResource(Base):
    """Requests for one resource of a zone on one day, named by the hash of its block key (and of
    its path alone when it has a query, since a block on the path covers every query)."""

    __tablename__ = "served_resources"

    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(32), primary_key=True)
    path_hash: Mapped[str | None] = mapped_column(String(32))
    requests: Mapped[int] = mapped_column(BigInteger)


class ServedReport(Base):
    """A served-request report counted: one per (reporting worker, sequence number), so that a
    report sent again after a lost answer is not counted twice."""

    __tablename__ = "served_reports"
    __table_args__ = (Index("ix_served_reports_received_at", "received_at"),)

    reporter: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    edge: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime]
