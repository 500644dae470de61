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
