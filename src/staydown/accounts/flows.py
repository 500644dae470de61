"""Zone lifecycle as a transition table, and the conditions for a zone to go live."""

from __future__ import annotations

import enum

from staydown.accounts.models import Standing, ZoneStatus
from staydown.types import VerificationLevel


class ZoneEvent(enum.StrEnum):
    activate = "activate"
    suspend = "suspend"
    reinstate = "reinstate"
    terminate = "terminate"


class IllegalZoneTransition(Exception):
    def __init__(self, state: ZoneStatus, event: ZoneEvent) -> None:
        super().__init__(f"zone in state {state.value!r} does not allow {event.value!r}")
        self.state, self.event = state, event


# A pending zone is not served, so suspension does not touch it: while its customer is suspended
# it cannot go live (see ``activation_blockers``), and reinstatement never activates it.
Z, ZE = ZoneStatus, ZoneEvent
ZONE_TRANSITIONS: dict[tuple[ZoneStatus, ZoneEvent], ZoneStatus] = {
    (Z.pending, ZE.activate): Z.active,
    (Z.active, ZE.suspend): Z.suspended,
    (Z.suspended, ZE.reinstate): Z.active,
    (Z.pending, ZE.terminate): Z.terminated,
    (Z.active, ZE.terminate): Z.terminated,
    (Z.suspended, ZE.terminate): Z.terminated,
}


def zone_transition(state: ZoneStatus, event: ZoneEvent) -> ZoneStatus:
    """Return the zone's next state or raise ``IllegalZoneTransition``."""
    try:
        return ZONE_TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalZoneTransition(state, event) from None


def activation_blockers(
    *,
    dcv_verified: bool,
    level: VerificationLevel,
    min_level: VerificationLevel,
    standing: Standing,
) -> list[str]:
    """Return why a zone may not go live yet; empty when it may."""
    blockers = []
    if not level.at_least(min_level):
        blockers.append(
            f"customer verification level is {level.value!r}; {min_level.value!r} is required before service"
        )
    if not dcv_verified:
        blockers.append("control of the domain has not been proven (HTTP or DNS challenge)")
    if standing in (Standing.suspended, Standing.terminated):
        blockers.append(f"the customer is {standing.value}")
    return blockers


DISPOSABLE_EMAIL_DOMAINS = frozenset(
    {
        "mailinator.com",
        "guerrillamail.com",
        "guerrillamail.net",
        "sharklasers.com",
        "10minutemail.com",
        "temp-mail.org",
        "tempmail.com",
        "yopmail.com",
        "trashmail.com",
        "getnada.com",
        "dispostable.com",
        "maildrop.cc",
        "throwawaymail.com",
        "fakeinbox.com",
        "mintemail.com",
        "mohmal.com",
        "emailondeck.com",
        "spamgourmet.com",
        "tempail.com",
        "burnermail.io",
    }
)


def risk_flags(
    *,
    email: str,
    phone: str | None,
    address: str | None,
    level: VerificationLevel,
    extra_disposable: frozenset[str] = frozenset(),
) -> list[str]:
    """Return the risk flags an agent should see on a customer."""
    flags = []
    domain = email.rsplit("@", 1)[-1].lower()
    if domain in DISPOSABLE_EMAIL_DOMAINS or domain in extra_disposable:
        flags.append("disposable_email")
    if not phone:
        flags.append("missing_phone")
    if not address:
        flags.append("missing_address")
    if not level.at_least(VerificationLevel.email):
        flags.append("no_verified_contact")
    return flags
