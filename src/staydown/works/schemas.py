"""What the works API reads and writes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from staydown.fingerprints.schemas import BankEntryRead, MatchRead


class ReferenceImageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str | None
    content_type: str | None
    size: int
    sha256: str
    entry_id: int | None


class WorkCreated(BaseModel):
    id: int
    description: str
    fingerprints: int  # reference images fingerprinted into the bank
    hashes: int  # PDQ hashes stored for them (raw and trimmed, each in 8 orientations)
    weak: int  # images too plain for near matching: kept for exact matching only


class ConflictWork(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    description: str
    owner_key_id: int | None
    created_at: datetime


class ConflictRead(BaseModel):
    """Two rightsholders' works holding the same image: who holds it is for an agent to settle."""

    works: list[ConflictWork]
    entries: list[int]
    distance: int  # 0: the same file or hash


class ConflictPage(BaseModel):
    conflicts: list[ConflictRead]
    total: int


class WorkImported(BaseModel):
    id: int
    description: str
    hashes: int  # distinct PDQ hashes banked from the list
    skipped: list[dict[str, object]]  # lines not read, each with its line number and why


class WorkRead(BaseModel):
    id: int
    description: str
    created_at: datetime
    auto_block_distance: int | None = None  # the work's own, tighter (or agent-set) distance
    images: list[ReferenceImageRead]
    entries: list[BankEntryRead]
    matches: list[MatchRead]
