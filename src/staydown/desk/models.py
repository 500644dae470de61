"""Desk users (password sign-in) and desk sessions (cookie sign-in by password or API key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from staydown.db.base import Base


class DeskUser(Base):
    """A person who signs in with an e-mail and a password.

    Each user acts through an API key of their own (created with the user, its secret never
    shown), so everything they do carries the same role, trust and customer as an API caller
    would, and ownership checks (a submitter's notices, a customer's zones) are the API's.
    """

    __tablename__ = "desk_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]


class DeskSession(Base):
    """A signed-in browser; only the SHA-256 of the cookie's token is kept."""

    __tablename__ = "desk_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("desk_users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class DecisionJob(Base):
    """A long decision taken in the desk, applied in chunks while the page shows its progress.

    Each chunk is one unit of work that decides its items and advances ``done``, so the record
    always says how far the decision got; ``lease_until`` tells whether someone is applying it.
    """

    __tablename__ = "decision_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    verdict: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    item_ids: Mapped[list[Any]]
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))  # running, done, failed
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
