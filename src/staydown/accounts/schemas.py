"""API shapes for customers, verification, zones and keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool

from staydown.accounts.models import Standing, ZoneStatus
from staydown.types import Role, ServiceType, VerificationLevel


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerCreate(StrictModel):
    name: str = Field(min_length=1, max_length=300)
    email: EmailStr
    address: str | None = Field(None, max_length=2000)
    phone: str | None = Field(None, max_length=64)
    organization: str | None = Field(None, max_length=300)
    payment_reference: str | None = Field(None, max_length=200)
    webhook_url: str | None = Field(None, max_length=2048)
    locale: Literal["en", "ja"] | None = Field(
        None, description="the language of the letters to the customer; none: the configured default"
    )


class CustomerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str
    address: str | None
    phone: str | None
    organization: str | None
    verification_level: VerificationLevel
    standing: Standing
    risk_flags: list[str]
    signup_at: datetime
    locale: str | None = None
    zones: list[int] = []


class EvidenceCreate(StrictModel):
    kind: str = Field(
        min_length=1, max_length=64, description="e.g. passport, company_registry, utility_bill"
    )
    reference: str | None = Field(None, max_length=500)
    details: dict[str, Any] = {}


class EvidenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    kind: str
    reference: str | None
    details: dict[str, Any]
    submitted_at: datetime


class VerificationDecisionCreate(StrictModel):
    level: VerificationLevel
    reason: str = Field(min_length=1, max_length=4000)


class VerificationDecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    previous_level: VerificationLevel
    level: VerificationLevel
    reason: str
    decided_at: datetime


class ZoneCreate(StrictModel):
    customer_id: int
    hostname: str = Field(min_length=1, max_length=253)
    origin: str = Field(min_length=1, max_length=2048)
    aliases: list[str] = Field(default_factory=list, max_length=50)
    host_contact: EmailStr | None = None
    service_type: ServiceType = ServiceType.caching


class ZoneUpdate(StrictModel):
    """Changes to a zone: a new origin (its hostnames and domain-control proof stay as they are),
    plain HTTP redirected to HTTPS, and the HSTS max-age in seconds (``0`` tells browsers to forget
    it, ``null`` sends no HSTS). A field left out is left as it is."""

    origin: str | None = Field(None, min_length=1, max_length=2048)
    https_redirect: bool | None = None
    hsts_max_age: int | None = Field(None, ge=0, le=2 * 365 * 86400)


class Challenge(BaseModel):
    token: str
    http_path: str
    dns_name: str
    dns_value: str


class ValidationResult(BaseModel):
    method: Literal["http", "dns"]
    ok: bool
    detail: str
    checked_at: datetime


class RateLimitRead(BaseModel):
    per_second: float
    burst: float


class ZoneRead(BaseModel):
    id: int
    customer_id: int
    hostname: str
    hostnames: list[str]
    origin: str
    status: ZoneStatus
    status_reason: str | None
    challenge: Challenge
    domain_control_verified: bool
    activation_blockers: list[str]
    validation: ValidationResult | None = None
    created_at: datetime
    rate_limit: RateLimitRead | None = None
    service_type: ServiceType = ServiceType.caching
    https_redirect: bool = False
    hsts_max_age: int | None = None


class ZoneRateLimit(StrictModel):
    """Requests a second (and burst) each client address may make to this zone at each edge worker;
    ``per_second: null`` returns the zone to the edge's default."""

    per_second: float | None = Field(gt=0, le=1_000_000)
    burst: float | None = Field(None, gt=0, le=10_000_000)


class ZoneServiceType(StrictModel):
    """What the zone's service is in law (it selects the provider's duties), and why it is so."""

    service_type: ServiceType
    reason: str = Field(min_length=1, max_length=4000)


class ZoneValidate(StrictModel):
    method: Literal["http", "dns"] = "http"


class ZoneStatusChange(StrictModel):
    reason: str = Field(min_length=1, max_length=4000)


class KeyCreate(StrictModel):
    role: Role
    name: str = Field("", max_length=200)
    trusted: StrictBool = False
    customer_id: int | None = None


class KeyCreated(BaseModel):
    id: int
    role: Role
    trusted: bool
    customer_id: int | None
    key: str


class KeyRead(BaseModel):
    """A key as administrators see it: never its secret nor the secret's hash. ``prefix`` is the
    start of the secret, to tell which key a leaked secret is."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    trusted: bool
    customer_id: int | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
