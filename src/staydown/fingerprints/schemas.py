"""What the stay-down API reads and writes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from staydown.fingerprints.models import (
    BankScope,
    BankSource,
    BankStatus,
    MatchOutcome,
    MatchStatus,
    QuarantineStatus,
)

HEX64 = r"^[0-9a-f]{64}$"


class MatchEvidence(BaseModel):
    """The second stage's evidence for a copy PDQ did not match: keypoint pairs that one
    similarity transform explains, and how alike the copy looks turned back onto the reference."""

    model_config = ConfigDict(extra="forbid")

    inliers: int = Field(ge=0)
    pairs: int = Field(ge=0)
    mirrored: StrictBool = False
    scale: float = Field(gt=0)
    rotation: float = Field(ge=-180, le=180)
    part: list[float] = Field(min_length=4, max_length=4)  # left, top, right, bottom in the copy (0..1)
    correlation: float = Field(ge=-1, le=1)
    precision: float = Field(ge=0, le=1)


class MatchReport(BaseModel):
    """An edge's report of a cached copy that matched a bank entry."""

    model_config = ConfigDict(extra="forbid")

    entry_id: int = Field(ge=1)
    zone_id: int = Field(ge=1)
    target: str = Field(min_length=1, max_length=8192, pattern=r"^/")
    url: str = Field(min_length=1, max_length=8300)
    distance: int = Field(ge=0, le=256)
    exact: StrictBool = False
    copy_sha256: str = Field(pattern=HEX64)
    # Set for a match of the second stage; ``distance`` is then the copy's PDQ distance, 256 when
    # PDQ found it nowhere near.
    evidence: MatchEvidence | None = None
    part: Literal["whole", "left page", "right page"] = "whole"  # of the copy, that matched
    # The allowlist entry the edge found the copy near: the match is only for review.
    allowlisted: int | None = Field(None, ge=1)


class MatchDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["confirm", "dismiss"]
    reason: str = Field(min_length=3, max_length=5000)


class MatchRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    entry_id: int
    notice_id: int | None
    work_id: int | None
    zone_id: int
    customer_id: int | None
    url: str
    target: str
    distance: int
    exact: bool
    copy_sha256: str
    outcome: MatchOutcome
    status: MatchStatus
    reported_by: str
    found_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None


class MatchPage(BaseModel):
    matches: list[MatchRead]
    total: int


class BankEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    scope: BankScope
    zone_id: int | None
    customer_id: int | None
    source: BankSource
    notice_id: int | None
    item_id: int | None
    work_id: int | None
    sha256: str
    pdq: list[str]
    quality: int
    width: int
    height: int
    status: BankStatus
    created_at: datetime
    auto_block_distance: int | None = None
    note: str | None = None


class QuarantineRead(BaseModel):
    """A paused bank entry waiting for an agent, with what its matches stand at."""

    id: int
    status: QuarantineStatus
    urls: int  # distinct URLs matched within the window when it was paused
    window_seconds: int
    started_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    entry: BankEntryRead
    matches: dict[str, int]  # by status; ``blocked`` are the automatic blocks held for review


class QuarantinePage(BaseModel):
    quarantines: list[QuarantineRead]
    total: int


class QuarantineDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["release", "remove"]
    reason: str = Field(min_length=3, max_length=5000)


class AllowlistPage(BaseModel):
    entries: list[BankEntryRead]
    total: int


class AllowlistRemoval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=5000)
