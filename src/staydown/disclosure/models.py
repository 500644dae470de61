"""Disclosure orders and legal holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from staydown.db.base import Base, str_enum
from staydown.disclosure.flows import LegalBasis, OrderStatus


class DisclosureOrder(Base):
    """A court's or authority's order about one customer, and what legal decided to do with it."""

    __tablename__ = "disclosure_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # The notice the order rests on: required for a 17 U.S.C. 512(h) subpoena (see ``subpoena``).
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), index=True)
    authority: Mapped[str] = mapped_column(String(300))
    authority_kind: Mapped[str] = mapped_column(String(16))  # court | authority
    case_number: Mapped[str] = mapped_column(String(200))
    jurisdiction: Mapped[str] = mapped_column(String(64))
    legal_basis: Mapped[LegalBasis] = mapped_column(str_enum(LegalBasis, length=32))
    legal_basis_detail: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[list[str]]
    scope_note: Mapped[str | None] = mapped_column(Text)
    issued_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    deadline_at: Mapped[datetime | None]
    gagged: Mapped[bool] = mapped_column(Boolean, default=False)
    gag_note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus))
    released: Mapped[list[str]]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    customer_notified_at: Mapped[datetime | None]


class LegalHold(Base):
    """While a hold is active, the customer's identity record and logs must not be erased."""

    __tablename__ = "legal_holds"
    __table_args__ = (Index("ix_legal_holds_customer_released", "customer_id", "released_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("disclosure_orders.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_at: Mapped[datetime]
    placed_by: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(64))
    release_reason: Mapped[str | None] = mapped_column(Text)
