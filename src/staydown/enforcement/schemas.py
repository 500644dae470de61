"""API shapes of the feed and the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from staydown.enforcement.models import Channel, OutboxStatus


class FeedPage(BaseModel):
    records: list[dict[str, Any]]
    last: int
    head: int


class OutboxMessageRead(BaseModel):
    id: int
    created_at: datetime
    kind: str
    channel: Channel
    recipient: str
    subject: str
    body: str
    status: OutboxStatus
    attempts: int
    sent_at: datetime | None
    last_error: str | None
    notice_id: int | None


class EdgeRead(BaseModel):
    """One edge worker as the registry knows it; ``lag`` is seconds behind, ``lag_records`` records."""

    id: str
    version: str
    transport: str
    seq: int
    head: int
    lag: float
    lag_records: int
    last_contact: datetime | None
    state: str
    refused_status: int | None
    refused_at: datetime | None


class NoticeEdges(BaseModel):
    """Which edges enforce a notice's blocks: those whose applied sequence reached ``seq``."""

    notice_id: int
    seq: int | None
    applied: list[str]
    pending: list[str]
