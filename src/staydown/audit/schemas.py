"""Audit API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditVerification(BaseModel):
    ok: bool
    entries: int
    first_bad: int | None
    reason: str | None = None


class AuditEntryRead(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str | None
    entity_id: str | None
    data: dict[str, Any]
    digest: str
