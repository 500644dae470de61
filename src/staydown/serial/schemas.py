"""What the dossier, reviews and links look like over the API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

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
    served_since: date | None = None  # the days (UTC) the served-request counts cover
    served_until: date | None = None
    # The most any one resource's count over those days may be below its true count (edge/served.py).
    served_count_error: int | None = None
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


KeyHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
MAX_REPORT_RESOURCES = 200_000


class ServedZone(BaseModel):
    """One zone's counts in an edge's report: its total, the error bound of its resource counts,
    and per resource ``[block key hash, path hash or null, requests]``."""

    model_config = ConfigDict(extra="forbid")
    zone_id: StrictInt = Field(ge=1)
    requests: StrictInt = Field(ge=0, le=10**12)
    error: StrictInt = Field(ge=0, le=10**12)
    resources: list[tuple[KeyHash, KeyHash | None, Annotated[StrictInt, Field(ge=1, le=10**12)]]] = Field(
        max_length=MAX_REPORT_RESOURCES
    )


class ServedReportCreate(BaseModel):
    """What an edge worker served since its last report (``POST /v1/edge/served``); counted once
    per (reporter, seq)."""

    model_config = ConfigDict(extra="forbid")
    reporter: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    seq: StrictInt = Field(ge=1, le=2**62)
    edge: str = Field("", max_length=128)
    zones: list[ServedZone] = Field(max_length=100_000)


class ServedReportResult(BaseModel):
    counted: bool  # False: this (reporter, seq) was counted before
    zones: int  # zones counted (those unknown here are left out)
    unknown_zones: list[int]
