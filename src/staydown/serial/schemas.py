"""What the dossier, reviews and links look like over the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from staydown.serial.models import LinkStatus, ReviewDecision, ReviewStatus


class Figures(BaseModel):
    """What the provider knows of a customer or one of its zones, as of the dossier's instant."""

    first_notice_at: datetime | None
    notices: int
    works: int
    rightsholders: int
    urls_actioned: int
    staydown_matches: int
    disclosure_orders: int | None  # orders name customers, not zones: None for a zone
    served_requests: int | None
    served_requests_later_blocked: int | None
    served_share_later_blocked: float | None
    oldest_unresolved_notice_id: int | None
    oldest_unresolved_notice_age_hours: float | None


class HostRecord(BaseModel):
    """How the host behind the origin(s) has been told, and whether it has answered."""

    forwards: int
    sent: int
    answered: int
    unreachable: int
    unanswered: int
    reminders: int
    silent_since: datetime | None
    contacts: list[str]
    reasons: list[str]


class ZoneDossier(BaseModel):
    zone_id: int
    hostname: str
    status: str
    figures: Figures
    host: HostRecord


class TimelineDay(BaseModel):
    date: str
    notices: int
    urls_actioned: int
    matches: int


class TimelineEvent(BaseModel):
    at: datetime
    kind: str
    detail: str


class ReviewRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    customer_id: int
    status: ReviewStatus
    trigger: str
    evidence: dict[str, Any]
    opened_at: datetime
    due_at: datetime
    decision: ReviewDecision | None
    reason: str | None
    decided_at: datetime | None
    decided_by: str | None
    policy_step_id: int | None


class LinkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    customer_id: int
    linked_customer_id: int
    evidence: list[dict[str, Any]]
    found_during: str
    status: LinkStatus
    found_at: datetime
    reviewed_at: datetime | None
    reviewed_by: str | None
    review_reason: str | None


class Dossier(BaseModel):
    customer_id: int
    name: str
    standing: str
    risk_flags: list[str]
    as_of: datetime
    active_strikes: int
    figures: Figures
    served_share_note: str
    zones: list[ZoneDossier]
    host: HostRecord
    reviews: list[ReviewRead]
    links: list[LinkRead]
    timeline: list[TimelineDay]
    events: list[TimelineEvent]


class ReviewDecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: ReviewDecision
    reason: str = Field(min_length=1, max_length=4000)


class LinkReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["clear", "confirm"]
    reason: str = Field(min_length=1, max_length=4000)
