"""Customers, their identity evidence, zones and the API keys that act in staydown."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from staydown.db.base import Base, str_enum
from staydown.types import Role, ServiceType, VerificationLevel


class Standing(enum.StrEnum):
    """Where a customer stands under the repeat-infringer policy."""

    good = "good"
    warned = "warned"
    suspended = "suspended"
    terminated = "terminated"


class ZoneStatus(enum.StrEnum):
    pending = "pending"
    active = "active"
    suspended = "suspended"
    terminated = "terminated"


class ApiKey(Base):
    """A bearer key; only the SHA-256 of the secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # The desk's language for whoever signs in with this key, or as the desk user it belongs to
    # (each user has a key of their own): "en", "ja"; None: the browser's (see staydown.i18n).
    locale: Mapped[str | None] = mapped_column(String(8))


class Customer(Base):
    """A customer of the network, with what a lawful disclosure order would need."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str] = mapped_column(String(320), index=True)
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(64))
    organization: Mapped[str | None] = mapped_column(String(300))
    payment_reference: Mapped[str | None] = mapped_column(String(200))
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    signup_ip: Mapped[str | None] = mapped_column(String(64))
    signup_at: Mapped[datetime]
    verification_level: Mapped[VerificationLevel] = mapped_column(str_enum(VerificationLevel))
    standing: Mapped[Standing] = mapped_column(str_enum(Standing))
    standing_changed_at: Mapped[datetime | None]
    risk_flags: Mapped[list[str]]
    # The language of the letters to the customer ("en" or "ja"); none: the configured default.
    locale: Mapped[str | None] = mapped_column(String(8))

    zones: Mapped[list[Zone]] = relationship(back_populates="customer", order_by="Zone.id")


class VerificationEvidence(Base):
    """Something a customer submitted to establish who they are (a document, a registry entry)."""

    __tablename__ = "verification_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, Any]]
    submitted_at: Mapped[datetime]
    submitted_by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))


class VerificationDecision(Base):
    """A reviewer's decision on a customer's verification level: who, when, why."""

    __tablename__ = "verification_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    previous_level: Mapped[VerificationLevel] = mapped_column(str_enum(VerificationLevel))
    level: Mapped[VerificationLevel] = mapped_column(str_enum(VerificationLevel))
    reason: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime]
    decided_by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))


class Zone(Base):
    """Hostnames served for a customer from one origin."""

    __tablename__ = "zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    hostname: Mapped[str] = mapped_column(String(253))
    origin: Mapped[str] = mapped_column(String(2048))
    host_contact: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[ZoneStatus] = mapped_column(str_enum(ZoneStatus))
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime]
    challenge_token: Mapped[str] = mapped_column(String(128))
    dcv_method: Mapped[str | None] = mapped_column(String(8))
    dcv_verified_at: Mapped[datetime | None]
    dcv_last_checked_at: Mapped[datetime | None]
    dcv_last_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    # Per-client request rate at the edge for this zone; None keeps the edge's own default.
    rate_per_second: Mapped[float | None] = mapped_column(Float)
    rate_burst: Mapped[float | None] = mapped_column(Float)
    # What the service is in law (caching, hosting, platform): it selects the provider's duties.
    service_type: Mapped[ServiceType] = mapped_column(str_enum(ServiceType, 16), default=ServiceType.caching)
    # HTTPS at the edge: answer plain HTTP with a redirect to HTTPS, and the HSTS max-age to send.
    https_redirect: Mapped[bool] = mapped_column(Boolean, default=False)
    hsts_max_age: Mapped[int | None] = mapped_column(Integer)

    customer: Mapped[Customer] = relationship(back_populates="zones")
    hostnames: Mapped[list[ZoneHostname]] = relationship(
        back_populates="zone", order_by="ZoneHostname.position", cascade="all, delete-orphan"
    )

    @property
    def all_hostnames(self) -> list[str]:
        return [entry.hostname for entry in self.hostnames]


class ZoneHostname(Base):
    """A hostname belongs to at most one zone that is not terminated."""

    __tablename__ = "zone_hostnames"

    hostname: Mapped[str] = mapped_column(String(253), primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    zone: Mapped[Zone] = relationship(back_populates="hostnames")
