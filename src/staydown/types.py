"""Aliases and small value types shared by every domain.

Decisions never read the wall clock themselves: they take ``now`` (or a ``Clock``) so that timers
and tests can run "as of" any instant.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeAlias

JSON: TypeAlias = dict[str, Any]
Clock: TypeAlias = Callable[[], datetime]


def system_clock() -> datetime:
    """Return the current instant, timezone-aware in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (naive values, as SQLite returns them, are UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Role(enum.StrEnum):
    """Who an API key speaks for."""

    admin = "admin"
    agent = "agent"
    legal = "legal"
    submitter = "submitter"
    customer = "customer"
    edge = "edge"


class VerificationLevel(enum.StrEnum):
    """How well a customer's identity is established, weakest first."""

    none = "none"
    email = "email"
    identity = "identity"
    business = "business"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]

    def at_least(self, other: VerificationLevel) -> bool:
        return self.rank >= other.rank


_LEVEL_RANK = {level: index for index, level in enumerate(VerificationLevel)}


class Regime(enum.StrEnum):
    """The legal regime a notice is made under."""

    dmca = "dmca"
    dsa = "dsa"
    jp = "jp"
