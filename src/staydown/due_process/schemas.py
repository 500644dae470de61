"""API shapes for counter-notices, court actions, complaints, notifier measures and statements."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from staydown.due_process.awards import AREA_IP, AREAS, MEMBER_STATES, AwardStatus
from staydown.due_process.flows import (
    Complainant,
    ComplaintStatus,
    ComplaintSubject,
    CounterNoticeStatus,
    MeasureKind,
)
from staydown.due_process.statements import Restriction, StatementStatus
from staydown.types import Email

_TEXT = 20_000


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class CounterNoticeStatements(_In):
    """Statements made under penalty of perjury: JSON ``true`` or ``false``, nothing that looks like one."""

    good_faith_mistake: StrictBool = False
    consent_to_jurisdiction: StrictBool = False
    accept_service: StrictBool = False


class CounterNoticeCreate(_In):
    """A counter-notice under 17 U.S.C. 512(g)(3); missing elements are reported, not refused."""

    notice_id: int
    items: list[int] = Field(default_factory=list, max_length=100_000)
    name: str | None = Field(None, max_length=300)
    address: str | None = Field(None, max_length=2000)
    phone: str | None = Field(None, max_length=64)
    email: Email = None
    explanation: str | None = Field(None, max_length=_TEXT)
    statements: CounterNoticeStatements = Field(default_factory=CounterNoticeStatements)
    signature: str | None = Field(None, max_length=300)


class CounterNoticeRead(BaseModel):
    id: int
    status: CounterNoticeStatus
    notice_id: int
    items: list[int]
    missing_elements: list[str]
    missing_element_explanations: dict[str, str] = {}
    received_at: datetime
    restore_business_days: int | None
    restore_at: datetime | None
    resolved_at: datetime | None
    court_case: str | None


class CourtActionCreate(_In):
    """The complainant reports that it filed an action for a court order (17 U.S.C. 512(g)(2)(C))."""

    court: str | None = Field(None, max_length=500)
    case_number: str | None = Field(None, max_length=200)
    filed_on: date | None = None
    description: str | None = Field(None, max_length=_TEXT)
    counter_notice_id: int | None = None

    @model_validator(mode="after")
    def _says_which_action(self) -> CourtActionCreate:
        # A report that names no court, case, date or description cannot be checked, yet it would
        # stop the restoration for good: it is no report of a court action.
        if not (self.court or self.case_number or self.filed_on or self.description):
            raise ValueError(
                "a court action is reported with at least one of court, case_number, filed_on or description"
            )
        return self


class CourtActionRead(BaseModel):
    notice_id: int
    counter_notices: list[CounterNoticeRead]
    items_kept_blocked: list[int]


class ComplaintCreate(_In):
    """An internal complaint (DSA Art. 20) against one decision: the decision on ``items`` of
    ``notice_id``, a repeat-infringer step (``policy_step_id``), a misuse measure (``measure_id``)
    or the block of a stay-down match (``match_id``)."""

    notice_id: int | None = None
    items: list[int] = Field(default_factory=list, max_length=100_000)
    policy_step_id: int | None = None
    measure_id: int | None = None
    match_id: int | None = None
    explanation: str = Field(min_length=1, max_length=_TEXT)

    @model_validator(mode="after")
    def _one_decision(self) -> ComplaintCreate:
        named = [
            self.notice_id is not None,
            self.policy_step_id is not None,
            self.measure_id is not None,
            self.match_id is not None,
        ]
        if sum(named) != 1:
            raise ValueError(
                "name exactly one decision: notice_id with items, policy_step_id, measure_id or match_id"
            )
        if self.notice_id is not None and not self.items:
            raise ValueError("name the items of the notice whose decision you contest")
        return self


class ComplaintRead(BaseModel):
    id: int
    status: ComplaintStatus
    subject: ComplaintSubject
    complainant: Complainant
    notice_id: int | None
    policy_step_id: int | None
    measure_id: int | None
    match_id: int | None
    items: list[int]
    explanation: str
    received_at: datetime
    decision_taken_at: datetime
    open_until: datetime
    decided_at: datetime | None
    decided_by: str | None
    answer: str | None


class ComplaintDecision(_In):
    outcome: Literal["upheld", "dismissed"]
    reason: str = Field(min_length=1, max_length=_TEXT)


class UnfoundedCreate(_In):
    reason: str = Field(min_length=1, max_length=_TEXT)


class TrustChange(_In):
    reason: str = Field(min_length=1, max_length=_TEXT)


class MeasureRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: MeasureKind
    at: datetime
    until: datetime | None
    reason: str
    unfounded_count: int
    notices_count: int
    automatic: bool
    reverses_measure_id: int | None = None


class UnfoundedRead(BaseModel):
    notice_id: int
    submitter_key_id: int
    found_at: datetime
    reason: str
    measure: MeasureRead | None


class NotifierStanding(BaseModel):
    submitter_key_id: int
    suspended_until: datetime | None
    trust_revoked: bool
    unfounded_notices: int
    measures: list[MeasureRead]


class DsaStatement(BaseModel):
    """A statement of reasons with the DSA Transparency Database field names and enum values."""

    puid: str
    decision_visibility: list[str] | None
    decision_provision: str | None
    decision_account: str | None
    account_type: str | None
    decision_ground: str
    illegal_content_legal_ground: str | None
    illegal_content_explanation: str | None
    incompatible_content_ground: str | None
    incompatible_content_explanation: str | None
    incompatible_content_illegal: str | None
    category: str
    category_specification: list[str]
    content_type: list[str]
    content_type_other: str | None
    content_date: date
    application_date: date
    decision_facts: str
    source_type: str
    automated_detection: str
    automated_decision: str
    territorial_scope: list[str]


class StatementRead(DsaStatement):
    """A statement as kept: the DSA fields plus what it restricts and whether it is still in force."""

    id: int
    restriction: Restriction
    status: StatementStatus
    customer_id: int | None
    zone_id: int | None
    notice_id: int | None
    item_id: int | None
    url: str | None
    created_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    message_id: int | None


class AwardCreate(BaseModel):
    """A Digital Services Coordinator's award of trusted-flagger status, as its decision states it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    entity: str = Field(min_length=1, max_length=300, description="The entity awarded the status.")
    member_state: str = Field(
        min_length=2, max_length=2, description="Member State of the awarding coordinator (e.g. DE)."
    )
    coordinator: str = Field(
        min_length=1, max_length=300, description="The coordinator (e.g. Bundesnetzagentur)."
    )
    reference: str = Field(min_length=1, max_length=200, description="The coordinator's decision reference.")
    awarded_on: date
    areas: list[str] = Field(
        min_length=1, description="Areas of expertise, as DSA Transparency Database categories."
    )

    @field_validator("member_state")
    @classmethod
    def _member_state(cls, value: str) -> str:
        value = value.upper()
        if value not in MEMBER_STATES:
            raise ValueError(f"{value!r} is not an EU Member State (ISO 3166-1 alpha-2, Greece EL)")
        return value

    @field_validator("areas")
    @classmethod
    def _areas(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - AREAS)
        if unknown:
            raise ValueError(f"unknown areas {unknown}; use DSA categories such as {AREA_IP}")
        return list(dict.fromkeys(value))


class AwardChange(BaseModel):
    """The coordinator's decision to suspend, reinstate or revoke the status."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(min_length=1, max_length=4000)
    decided_on: date | None = Field(None, description="The date of the coordinator's decision.")
    reference: str | None = Field(None, max_length=200, description="The coordinator's reference for it.")


class AwardRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    submitter_key_id: int
    entity: str
    member_state: str
    coordinator: str
    reference: str
    awarded_on: date
    areas: list[str]
    status: AwardStatus
    status_on: date | None
    status_reference: str | None
    status_reason: str | None
    recorded_at: datetime
    recorded_by: str
    changed_at: datetime | None
    changed_by: str | None
    priority: bool = Field(False, description="Whether its notices get Art. 22 priority now.")


class ContestRoute(BaseModel):
    """A request that contests the restriction: send ``body`` to ``method`` ``path`` (adding an
    explanation, and for a counter-notice the statutory statements)."""

    how: Literal["counter_notice", "complaint"]
    method: str
    path: str
    body: dict[str, Any]


class RestrictionRead(BaseModel):
    """A restriction in force on one of the customer's zones, why, and how to contest it."""

    kind: Literal["notice_item", "staydown_match", "work_match", "zone_suspension", "zone_termination"]
    zone_id: int | None
    url: str | None
    notice_id: int | None
    item_id: int | None
    match_id: int | None
    work_id: int | None
    since: datetime
    statement_puid: str
    decision_ground: str
    legal_ground: str | None
    explanation: str | None
    facts: str
    automated: bool
    contest: list[ContestRoute]


class RestrictionPage(BaseModel):
    restrictions: list[RestrictionRead]
    total: int
    page: int
    per_page: int
