"""Counter-notices, internal complaints, notifier-misuse measures and statements of reasons.

``statements_of_reasons`` keeps one row per restriction with the DSA Transparency Database field
names; ``reports`` reads it through ``service.list_statements``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from staydown.db.base import Base, str_enum
from staydown.due_process.awards import AwardStatus
from staydown.due_process.flows import (
    Complainant,
    ComplaintStatus,
    ComplaintSubject,
    CounterNoticeStatus,
    MeasureKind,
)
from staydown.due_process.statements import Restriction, StatementStatus


class CounterNotice(Base):
    """A customer's counter-notice (17 U.S.C. 512(g)(3)) against the block of items of one notice."""

    __tablename__ = "counter_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    filed_by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    channel: Mapped[str] = mapped_column(String(16), default="api")
    status: Mapped[CounterNoticeStatus] = mapped_column(str_enum(CounterNoticeStatus))

    name: Mapped[str | None] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    explanation: Mapped[str | None] = mapped_column(Text)
    statement_good_faith_mistake: Mapped[bool] = mapped_column(Boolean, default=False)
    statement_consent_to_jurisdiction: Mapped[bool] = mapped_column(Boolean, default=False)
    statement_accept_service: Mapped[bool] = mapped_column(Boolean, default=False)
    signature: Mapped[str | None] = mapped_column(String(300))
    missing_elements: Mapped[list[str]]

    received_at: Mapped[datetime]
    restore_business_days: Mapped[int | None] = mapped_column(Integer)
    restore_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    court_case: Mapped[str | None] = mapped_column(Text)


class CounterNoticeItem(Base):
    """An item a counter-notice contests (its link to the actioned item of the notice)."""

    __tablename__ = "counter_notice_items"

    counter_notice_id: Mapped[int] = mapped_column(ForeignKey("counter_notices.id"), primary_key=True)
    item_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("notice_items.id"), primary_key=True, index=True
    )


class Complaint(Base):
    """An internal complaint (DSA Art. 20) against a decision: on items of a notice, a policy step
    against the customer, or a misuse measure against the notifier."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_status_received", "status", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[ComplaintSubject] = mapped_column(str_enum(ComplaintSubject))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), index=True)
    policy_step_id: Mapped[int | None] = mapped_column(ForeignKey("policy_steps.id"))
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("notifier_measures.id"))
    match_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    complainant: Mapped[Complainant] = mapped_column(str_enum(Complainant))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    filed_by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    item_ids: Mapped[list[Any]]
    explanation: Mapped[str] = mapped_column(Text)
    status: Mapped[ComplaintStatus] = mapped_column(str_enum(ComplaintStatus))
    received_at: Mapped[datetime]
    decision_taken_at: Mapped[datetime]  # when the contested decision was taken (earliest item)
    decision_taken_by: Mapped[list[Any]]  # who took it: those may not decide the complaint
    informed_at: Mapped[datetime | None]  # when the complainant was told of it: the window starts then
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    answer: Mapped[str | None] = mapped_column(Text)


class UnfoundedNotice(Base):
    """A notice an agent found manifestly unfounded (counts toward DSA Art. 23(2) measures)."""

    __tablename__ = "unfounded_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), unique=True)
    submitter_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    found_at: Mapped[datetime]
    found_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)


class NotifierMeasure(Base):
    """A measure against a notifier: warning, suspension (with its end), trust revoked or restored."""

    __tablename__ = "notifier_measures"

    id: Mapped[int] = mapped_column(primary_key=True)
    submitter_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    kind: Mapped[MeasureKind] = mapped_column(str_enum(MeasureKind))
    at: Mapped[datetime]
    until: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text)
    unfounded_count: Mapped[int] = mapped_column(Integer, default=0)
    notices_count: Mapped[int] = mapped_column(Integer, default=0)
    automatic: Mapped[bool] = mapped_column(Boolean, default=True)
    actor: Mapped[str] = mapped_column(String(64))
    reverses_measure_id: Mapped[int | None] = mapped_column(ForeignKey("notifier_measures.id"))


class StatementOfReasons(Base):
    """One statement of reasons (DSA Art. 17) per restriction, kept as sent; DSA database field names."""

    __tablename__ = "statements_of_reasons"
    __table_args__ = (Index("ix_statements_of_reasons_created", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    puid: Mapped[str] = mapped_column(String(500), unique=True)
    restriction: Mapped[Restriction] = mapped_column(str_enum(Restriction))
    status: Mapped[StatementStatus] = mapped_column(str_enum(StatementStatus))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"), index=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(BigInteger)

    decision_visibility: Mapped[list[Any] | None]
    decision_provision: Mapped[str | None] = mapped_column(String(64))
    decision_account: Mapped[str | None] = mapped_column(String(64))
    account_type: Mapped[str | None] = mapped_column(String(32))
    decision_ground: Mapped[str] = mapped_column(String(64))
    illegal_content_legal_ground: Mapped[str | None] = mapped_column(Text)
    illegal_content_explanation: Mapped[str | None] = mapped_column(Text)
    incompatible_content_ground: Mapped[str | None] = mapped_column(Text)
    incompatible_content_explanation: Mapped[str | None] = mapped_column(Text)
    incompatible_content_illegal: Mapped[str | None] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(96))
    category_specification: Mapped[list[Any]]
    content_type: Mapped[list[Any]]
    content_type_other: Mapped[str | None] = mapped_column(Text)
    content_date: Mapped[date] = mapped_column(Date)
    application_date: Mapped[date] = mapped_column(Date)
    decision_facts: Mapped[str] = mapped_column(Text)
    source_type: Mapped[str] = mapped_column(String(48))
    automated_detection: Mapped[str] = mapped_column(String(8))
    automated_decision: Mapped[str] = mapped_column(String(48))
    territorial_scope: Mapped[list[Any]]


class TrustedFlaggerAward(Base):
    """A Digital Services Coordinator's award of trusted-flagger status (DSA Art. 22(2)) to a notifier,
    as the provider recorded it, and its suspension (Art. 22(6)) or revocation (Art. 22(7))."""

    __tablename__ = "trusted_flagger_awards"

    id: Mapped[int] = mapped_column(primary_key=True)
    submitter_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    entity: Mapped[str] = mapped_column(String(300))
    member_state: Mapped[str] = mapped_column(String(2))
    coordinator: Mapped[str] = mapped_column(String(300))
    reference: Mapped[str] = mapped_column(String(200))
    awarded_on: Mapped[date] = mapped_column(Date)
    areas: Mapped[list[str]]
    status: Mapped[AwardStatus] = mapped_column(str_enum(AwardStatus, length=16))
    status_on: Mapped[date | None] = mapped_column(Date)
    status_reference: Mapped[str | None] = mapped_column(String(200))
    status_reason: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime | None]
    changed_by: Mapped[str | None] = mapped_column(String(64))
