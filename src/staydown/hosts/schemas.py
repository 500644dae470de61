"""What forwards to hosts look like over the API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from staydown.hosts.models import ForwardStatus


class HostForwardRead(BaseModel):
    """A forward of a notice to an origin's host; ``origin_addresses`` only for readers entitled
    to them (a trusted flagger's own notice, the legal role), ``None`` for everyone else."""

    id: int
    notice_id: int
    zone_id: int
    hostname: str
    status: ForwardStatus
    host_name: str | None
    host_contact: str | None
    contact_source: str | None
    rdap_source: str | None
    reasons: list[str]
    sent_at: datetime | None
    reminders: int
    answered_at: datetime | None
    origin_addresses: list[str] | None


class HostAnswerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = Field(min_length=1, max_length=20000)
