"""API shapes for disclosure orders, legal holds, packages and erasure requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from staydown.disclosure.flows import IdentityField, LegalBasis, OrderEvent, OrderStatus


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OrderCreate(StrictModel):
    customer_id: int
    notice_id: int | None = Field(
        None, description="The notice the order rests on; required for us_512h_subpoena (its DMCA notice)."
    )
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

    @model_validator(mode="after")
    def _subpoena_rests_on_a_notice(self) -> OrderCreate:
        if self.legal_basis is LegalBasis.us_512h_subpoena and self.notice_id is None:
            raise ValueError(
                "a 17 U.S.C. 512(h) subpoena is issued on a copy of a DMCA notification: give its notice_id"
            )
        return self

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


class SubpoenaObjection(BaseModel):
    code: str
    message: str


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    notice_id: int | None
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
    answerable: bool | None = Field(
        None, description="us_512h_subpoena: whether it can be complied with now (else see objections)."
    )
    objections: list[SubpoenaObjection] = []


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
    notice: dict[str, Any] | None = Field(
        None, description="us_512h_subpoena: the notice it rests on and the material of this customer."
    )
    sha256: str = Field("", description="SHA-256 of this package's canonical JSON without this field.")


class NotifierErasureRequest(StrictModel):
    reason: str = Field(
        min_length=1, max_length=4000, description="e.g. GDPR Art. 17 request received on 2026-12-01"
    )


class KeptData(BaseModel):
    """Personal data of one notice kept despite the request, and why (GDPR Art. 17(3)(e))."""

    notice_id: int
    fields: list[str]
    reason: str
    legal_basis: str
    until: datetime | None = Field(None, description="When it is erased at the latest, where that is known.")


class NotifierErasureResult(BaseModel):
    submitter_key_id: int
    erased_at: datetime
    notices: int = Field(description="Notices of this notifier.")
    notices_erased: int = Field(description="Notices whose every personal-data field is now erased.")
    notices_contacts_erased: int = Field(
        description="Notices whose contact details were erased, identity kept."
    )
    letters_erased: int
    kept: list[KeptData]
