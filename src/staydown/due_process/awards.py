"""The trusted-flagger status of DSA Art. 22 as pure rules: who awards it, what it covers, and how it
is suspended or revoked.

The status is awarded by the Digital Services Coordinator of the Member State where the applicant
is established (Art. 22(2)), for its designated areas of expertise (Art. 22(1)). A provider that
finds a trusted flagger sending a significant number of imprecise or unsubstantiated notices tells
that coordinator (Art. 22(6)), which suspends the status while it investigates; it revokes the
status when the entity no longer meets the conditions (Art. 22(7)). The provider records these
decisions; it does not take them. Notices of a trusted flagger are processed with priority (Art.
22(1)) only while its status is awarded, neither suspended nor revoked, and within its areas.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

# The Member States whose Digital Services Coordinators award the status (ISO 3166-1 alpha-2; Greece
# as EL, as the EU writes it, and GR accepted).
MEMBER_STATES = frozenset(
    {
        *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "GR", "HR"),
        *("HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"),
    }
)

# Areas of expertise, named as the DSA Transparency Database names categories of illegal content.
AREA_IP = "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"
AREAS = frozenset(
    {
        "STATEMENT_CATEGORY_ANIMAL_WELFARE",
        "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
        "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
        AREA_IP,
        "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
        "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
        "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT",
        "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
        "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
        "STATEMENT_CATEGORY_SELF_HARM",
        "STATEMENT_CATEGORY_UNSAFE_AND_ILLEGAL_PRODUCTS",
        "STATEMENT_CATEGORY_VIOLENCE",
    }
)


class AwardStatus(enum.StrEnum):
    awarded = "awarded"
    suspended = "suspended"  # Art. 22(6): while the coordinator investigates
    revoked = "revoked"  # Art. 22(7): final


class AwardEvent(enum.StrEnum):
    suspend = "suspend"
    reinstate = "reinstate"  # the coordinator closed its investigation without revoking
    revoke = "revoke"


AWARD_TRANSITIONS: dict[tuple[AwardStatus, AwardEvent], AwardStatus] = {
    (AwardStatus.awarded, AwardEvent.suspend): AwardStatus.suspended,
    (AwardStatus.awarded, AwardEvent.revoke): AwardStatus.revoked,
    (AwardStatus.suspended, AwardEvent.reinstate): AwardStatus.awarded,
    (AwardStatus.suspended, AwardEvent.revoke): AwardStatus.revoked,
}

LEGAL_BASIS = {
    AwardEvent.suspend: "Regulation (EU) 2022/2065 Art. 22(6)",
    AwardEvent.reinstate: "Regulation (EU) 2022/2065 Art. 22(6) (investigation closed)",
    AwardEvent.revoke: "Regulation (EU) 2022/2065 Art. 22(7)",
}


class IllegalAwardTransition(Exception):
    def __init__(self, state: AwardStatus, event: AwardEvent) -> None:
        super().__init__(f"an award that is {state.value!r} cannot be given {event.value!r}")
        self.state, self.event = state, event


def award_transition(state: AwardStatus, event: AwardEvent) -> AwardStatus:
    """Return the award's status after the coordinator's ``event`` or raise ``IllegalAwardTransition``."""
    new = AWARD_TRANSITIONS.get((state, event))
    if new is None:
        raise IllegalAwardTransition(state, event)
    return new


@dataclass(frozen=True, slots=True)
class AwardFacts:
    status: AwardStatus
    awarded_on: date
    areas: tuple[str, ...]


def gives_priority(award: AwardFacts | None, *, today: date, area: str = AREA_IP) -> bool:
    """Whether notices in ``area`` get Art. 22 priority under ``award`` (None: no award recorded):
    awarded (not suspended, not revoked), in force by ``today``, and ``area`` one of its areas."""
    return (
        award is not None
        and award.status is AwardStatus.awarded
        and award.awarded_on <= today
        and area in award.areas
    )
