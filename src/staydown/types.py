"""Aliases and small value types shared by every domain.

Decisions never read the wall clock themselves: they take ``now`` (or a ``Clock``) so that timers
and tests can run "as of" any instant.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeAlias

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field

JSON: TypeAlias = dict[str, Any]
Clock: TypeAlias = Callable[[], datetime]


def _email(value: str | None) -> str | None:
    """An empty address is no address; any other must be one (its domain is not looked up)."""
    if not value:
        return None
    try:
        validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid e-mail address: {exc}") from None
    return value


# An e-mail address a notifier or a customer gives: checked for form, stored as given.
Email = Annotated[str | None, Field(max_length=320), AfterValidator(_email)]


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
    mail_gateway = "mail_gateway"  # a mail server handing received messages to POST /v1/inbound


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


class ServiceType(enum.StrEnum):
    """What a zone's service is in law, which decides the provider's duties for its content.

    ``caching``: automatic, intermediate and temporary storage (DSA Art. 5; 17 U.S.C. 512(b)).
    ``hosting``: storage at the customer's request (DSA Art. 6, 16-18; 512(c)).
    ``platform``: hosting that also disseminates to the public (DSA Art. 6, 16-24; 512(c)).
    """

    caching = "caching"
    hosting = "hosting"
    platform = "platform"


class Recipient(enum.StrEnum):
    """Who may be shown a party's personal data (see ``notices.regimes``)."""

    customer = "customer"
    host = "host"
    lumen = "lumen"
    dsa_database = "dsa_database"
    disclosure = "disclosure"
