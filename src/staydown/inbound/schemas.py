"""API shapes for received messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from staydown.inbound.models import InboundStatus
from staydown.inbound.parsers.base import InboundFormat


class InboundRead(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: int
    received_at: datetime
    from_: str | None = Field(None, alias="from")
    subject: str | None
    format: InboundFormat
    status: InboundStatus
    notice_id: int | None
    reason: str | None
    via: str
    size: int
    sha256: str
    message_id: str | None
    external_id: str | None
    duplicate_of: int | None
    answered_at: datetime | None
    extracted: dict[str, Any] | None = None


class InboundPage(BaseModel):
    messages: list[InboundRead]
    page: int
    per_page: int
    total: int


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=20_000)


class SenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    address: str = Field(min_length=3, max_length=320)
    key_id: int = Field(ge=1, lt=2**31)
