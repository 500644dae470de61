"""Rows of the certificates a zone is served with and of the ACME orders the worker claims."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from staydown.db.base import Base, BigIntPK, str_enum


class CertificateSource(enum.StrEnum):
    acme = "acme"
    upload = "upload"
    demo = "demo"


class CertificateStatus(enum.StrEnum):
    active = "active"  # served by the edges
    withdrawn = "withdrawn"  # the zone is suspended: not served, served again on reinstatement
    replaced = "replaced"  # a newer certificate of the zone took its place
    removed = "removed"  # the zone is terminated


class Certificate(Base):
    """One certificate of a zone. The private key is kept sealed (``certseal``), as the edges get it."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), index=True)
    source: Mapped[CertificateSource] = mapped_column(str_enum(CertificateSource, 16))
    status: Mapped[CertificateStatus] = mapped_column(str_enum(CertificateStatus, 16))
    hostnames: Mapped[list[str]]
    chain_pem: Mapped[str] = mapped_column(Text)
    key_sealed: Mapped[str] = mapped_column(Text, default="")
    serial: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(1000))
    fingerprint_sha256: Mapped[str] = mapped_column(String(64))
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    created_at: Mapped[datetime]
    status_changed_at: Mapped[datetime]


class OrderPurpose(enum.StrEnum):
    issue = "issue"  # the zone has no certificate from ACME yet
    renew = "renew"  # the zone's certificate reached two thirds of its lifetime


class OrderStatus(enum.StrEnum):
    pending = "pending"  # due at ``due_at`` (again after a failure, with back-off)
    done = "done"
    cancelled = "cancelled"  # the zone left service, or its customer uploaded a certificate


class CertificateOrder(Base):
    """A certificate to obtain from the ACME directory: claimed by one worker at a time."""

    __tablename__ = "certificate_orders"
    __table_args__ = (Index("ix_certificate_orders_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), index=True)
    purpose: Mapped[OrderPurpose] = mapped_column(str_enum(OrderPurpose, 16))
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus, 16))
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    certificate_id: Mapped[int | None] = mapped_column(Integer)  # the certificate it obtained
    renews_id: Mapped[int | None] = mapped_column(Integer)  # the certificate it renews
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None]
