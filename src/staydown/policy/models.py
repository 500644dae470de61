"""The strike ledger and the policy steps taken against customers."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from staydown.db.base import Base, str_enum


class StrikeStatus(enum.StrEnum):
    active = "active"
    voided = "voided"  # e.g. the item was restored after a counter-notice


class Strike(Base):
    """One strike: a notice with at least one actioned item against one customer."""

    __tablename__ = "strikes"
    __table_args__ = (UniqueConstraint("customer_id", "notice_id", name="uq_strikes_customer_notice"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    created_at: Mapped[datetime]
    status: Mapped[StrikeStatus] = mapped_column(str_enum(StrikeStatus))
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(Text)


class StepKind(enum.StrEnum):
    warning = "warning"
    suspension = "suspension"
    termination_pending = "termination_pending"  # threshold reached, waiting for an agent
    termination = "termination"
    reinstatement = "reinstatement"


class PolicyStep(Base):
    """A step of the repeat-infringer policy taken against a customer, with the count it rests on."""

    __tablename__ = "policy_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[StepKind] = mapped_column(str_enum(StepKind))
    at: Mapped[datetime]
    strikes_counted: Mapped[int] = mapped_column(Integer)
    window_days: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    automatic: Mapped[bool] = mapped_column(Boolean, default=True)
    actor: Mapped[str] = mapped_column(String(64))
