"""The strike ledger and the policy steps taken against customers."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from staydown.db.base import Base, BigIntPK, str_enum


class StrikeStatus(enum.StrEnum):
    active = "active"
    voided = "voided"  # e.g. the item was restored after a counter-notice


class Strike(Base):
    """One strike: a notice with at least one actioned item against one customer, or one confirmed
    stay-down match (a copy of noticed or registered content found again on the customer's zones)."""

    __tablename__ = "strikes"
    __table_args__ = (
        # One strike per notice and customer; a stay-down match strikes once per match.
        Index(
            "uq_strikes_customer_notice",
            "customer_id",
            "notice_id",
            unique=True,
            sqlite_where=text("match_id IS NULL"),
            postgresql_where=text("match_id IS NULL"),
        ),
        Index("uq_strikes_match_id", "match_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), index=True)
    match_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("staydown_matches.id"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    # How many strikes this one counts for (a notice's size, see ``policy.flows.strike_weight``),
    # and the URLs actioned on the customer's zones it was weighed on (None for a match).
    weight: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    urls: Mapped[int | None] = mapped_column(Integer)
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
    review_kept = "review_kept"  # a serial-infringer review found no step warranted, with reasons


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
