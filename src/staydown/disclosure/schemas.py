"""API shapes for disclosure orders, legal holds, packages and erasure requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from staydown.disclosure.flows import IdentityField, LegalBasis, OrderEvent, OrderStatus


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OrderCreate(StrictModel):
    customer_id: int
    authority: str = Field(min_length=1, max_length=300, description="The court or authority that issued it.")
    authority_kind: Literal["court", "authority"] = "court"
    case_number: str = Field(min_length=1, max_length=200)
    jurisdiction: str = Field(min_length=2, max_length=64, description="e.g. US, JP, EU/DE")
    legal_basis: LegalBasis
    legal_basis_detail: str | None = Field(None, max_length=4000)
    scope: list[IdentityField] = Field(min_length=1, description="The identity fields the order asks for.")
    scope_note: str | None = Field(None, max_length=4000)
    issued_at: datetime | None = None
    deadline_at: datetime | None = None
    gagged: StrictBool = Field(False, description="The order forbids telling the customer.")
    gag_note: str | None = Field(None, max_length=2000)
    hold: StrictBool = Field(True, description="Place a legal hold on the customer's identity and logs.")

    @field_validator("scope")
    @classmethod
    def _distinct(cls, value: list[IdentityField]) -> list[IdentityField]:
        return list(dict.fromkeys(value))

    @field_validator("issued_at", "deadline_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-12-01T17:00:00+09:00)")
        return value


class OrderDecision(StrictModel):
    decision: OrderEvent
    reason: str = Field(min_length=1, max_length=8000)
    fields: list[IdentityField] | None = Field(
        None, description="partially_comply: the fields released (a strict subset of the scope)."
    )


class HoldRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    order_id: int | None
    reason: str
    placed_at: datetime
    placed_by: str
    released_at: datetime | None
    released_by: str | None
    release_reason: str | None


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    authority: str
    authority_kind: str
    case_number: str
    jurisdiction: str
    legal_basis: LegalBasis
    legal_basis_detail: str | None
    scope: list[IdentityField]
    scope_note: str | None
    issued_at: datetime | None
    received_at: datetime
    deadline_at: datetime | None
    gagged: bool
    gag_note: str | None
    status: OrderStatus
    released: list[IdentityField]
    decision_reason: str | None
    decided_at: datetime | None
    decided_by: str | None
    created_by: str
    customer_notified_at: datetime | None
    package_available: bool = False
    holds: list[HoldRead] = []


class HoldCreate(StrictModel):
    customer_id: int
    order_id: int | None = None
    reason: str = Field(min_length=1, max_length=4000)


class HoldRelease(StrictModel):
    reason: str = Field(min_length=1, max_length=4000)


class ErasureRequest(StrictModel):
    reason: str = Field(min_length=1, max_length=4000, description="e.g. GDPR Art. 17 request of <date>")


class ErasureResult(BaseModel):
    customer_id: int
    erased_fields: list[str]
    evidence_erased: int
    erased_at: datetime


class DisclosurePackage(BaseModel):
    """What is handed to the court or authority: the order, the decision and the released identity data."""

    format: Literal["staydown.disclosure-package/1"] = "staydown.disclosure-package/1"
    provider: str
    generated_at: datetime
    order: dict[str, Any]
    decision: dict[str, Any]
    customer_id: int
    identity: dict[str, Any]
    withheld: list[str]
    sha256: str = Field("", description="SHA-256 of this package's canonical JSON without this field.")
