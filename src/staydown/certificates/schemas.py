"""Certificates as the API and the desk show them: never with a private key."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from staydown.certificates.models import CertificateSource, CertificateStatus, OrderPurpose, OrderStatus


class CertificateUpload(BaseModel):
    """A customer's own certificate chain (leaf first, then its issuers) and private key, in PEM."""

    model_config = ConfigDict(extra="forbid")

    certificate: str = Field(min_length=1, max_length=64 * 1024)
    private_key: str = Field(min_length=1, max_length=16 * 1024)


class OrderRead(BaseModel):
    id: int
    purpose: OrderPurpose
    status: OrderStatus
    due_at: datetime
    attempts: int
    last_error: str | None


class OcspRead(BaseModel):
    """A certificate's OCSP staple: where it is fetched, what the edges staple, when it is next fetched."""

    url: str
    status: str  # pending | good | failing | revoked
    this_update: datetime | None = None
    next_update: datetime | None = None  # the edges staple it until then, never after
    refresh_at: datetime | None = None
    checked_at: datetime | None = None
    failures: int = 0
    last_error: str | None = None
    revoked_at: datetime | None = None


class CertificateRead(BaseModel):
    id: int
    zone_id: int
    source: CertificateSource
    status: CertificateStatus
    hostnames: list[str]
    serial: str
    issuer: str
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime
    renew_at: datetime | None = None  # when ACME renews it (a pending renewal's due time)
    alerts: list[str] = []
    ocsp: OcspRead | None = None  # None: the certificate names no OCSP responder


class ZoneCertificates(BaseModel):
    """What a zone is served with, and what is being ordered for it."""

    zone_id: int
    certificate: CertificateRead | None
    order: OrderRead | None
