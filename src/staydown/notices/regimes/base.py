"""What every legal regime declares about notices, and the values its rules work on.

A regime is one subclass of ``RegimeRules`` in one module of this package: its elements and how a
submission is assessed, its legal ground, its Lumen type, which of the complainant's and the
customer's personal data each recipient may be given, whether counter-notices answer it, whether a
notifier's misuse suspension applies, and whether the sender is asked before removal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from staydown.i18n import Message
from staydown.notices.regimes.services import duties
from staydown.types import Recipient, Regime, ServiceType


@dataclass(frozen=True, slots=True)
class Element:
    """One element of a notice: its legal name, a plain-words explanation, and whether the statute
    requires it (``statutory``) or only the industry's forms ask for it (recorded, never blocking)."""

    code: str
    name: str
    explanation: str
    statutory: bool = True


@dataclass(frozen=True, slots=True)
class NoticeFacts:
    """What a submission contains, reduced to the questions the law asks."""

    signature: bool
    works_identified: bool
    urls: bool
    name: bool
    email: bool
    address: bool
    phone: bool
    explanation: bool
    good_faith: bool
    accurate: bool
    authorized: bool


class Outcome(enum.StrEnum):
    complete = "complete"  # every statutory element present: the notice can be acted on
    incomplete = "incomplete"  # enough to locate the material and reach the notifier: ask to complete
    insufficient = "insufficient"  # cannot be considered a notice: rejected with the reasons


@dataclass(frozen=True, slots=True)
class Assessment:
    outcome: Outcome
    missing: tuple[Element, ...]  # statutory elements lacking: these decide the outcome
    advisory: tuple[Element, ...] = ()  # elements only forms ask for: reported, never blocking

    @property
    def missing_names(self) -> list[str]:
        return [element.name for element in self.missing]

    @property
    def advisory_names(self) -> list[str]:
        return [element.name for element in self.advisory]


def outcome_of(missing: list[Element], *, considerable: bool) -> Outcome:
    """``insufficient`` when the notice cannot be considered, else complete or incomplete."""
    if not considerable:
        return Outcome.insufficient
    return Outcome.incomplete if missing else Outcome.complete


# Personal data fields of a complainant (the notifier) and of a customer (the sender of the content).
COMPLAINANT_FIELDS = ("name", "organization", "on_behalf_of", "email", "phone", "address")
CUSTOMER_FIELDS = ("name", "organization", "email", "phone", "address")
ORGANISATION_ONLY = frozenset({"name", "organization", "on_behalf_of"})


@dataclass(frozen=True, slots=True)
class Inquiry:
    """Ask the sender whether it agrees to removal before acting, and how long to wait."""

    days: int
    election_days: int
    legal_basis: str


class RegimeRules:
    """Everything one legal regime decides. Subclasses set the attributes and ``assess``."""

    regime: Regime
    label: str  # short, in letters and statements of reasons ("DMCA")
    # What a notifier choosing the law it relies on reads ("US DMCA (17 U.S.C. 512)"): str() is the
    # English text (the API, reports); the desk shows it in its reader's language (``letters`` domain).
    title: Message
    elements: dict[str, Element]
    legal_ground: str  # the statute a restriction rests on (DSA database ``illegal_content_legal_ground``)
    lumen_type: str
    jurisdictions: tuple[str, ...]
    counter_notice: bool = False  # 17 U.S.C. 512(g) counter-notices answer these notices
    subpoena_512h: bool = False  # a 17 U.S.C. 512(h) subpoena may rest on one of these notices
    # Trusted-flagger priority comes from a coordinator's award (DSA Art. 22), not the key's own flag.
    awarded_trust: bool = False
    # Wording by which a letter invokes this law (lower case), and how many must appear.
    letter_markers: tuple[str, ...] = ()
    letter_markers_needed: int = 1
    # The language of a letter recognised by those markers, in which its sender is answered (None:
    # the markers do not tell a language; the configured default applies).
    letter_language: str | None = None
    # Notice formats whose senders always invoke this law (the inbound parsers' format names).
    formats: tuple[str, ...] = ()
    # The DSA Transparency Database's ``source_type`` of a restriction made on one of these notices.
    source_type: str = "SOURCE_TYPE_OTHER_NOTIFICATION"
    inquiry: Inquiry | None = None
    # Which complainant fields each recipient may be given (where a field is in no set, nobody is).
    complainant_fields: dict[Recipient, frozenset[str]]
    # Which of the customer's identity fields each recipient may be given.
    customer_fields: dict[Recipient, frozenset[str]]

    def assess(self, facts: NoticeFacts) -> Assessment:
        raise NotImplementedError

    def misuse_suspension_applies(self, service_type: ServiceType) -> bool:
        """Whether a notifier suspended for manifestly unfounded notices is refused here."""
        return False

    def trusted_direct_action(self) -> bool:
        """Whether a complete notice from a trusted notifier is actioned without review."""
        return True

    def redress(self, service_type: ServiceType) -> str:
        """The remedies a letter may promise, as the zone's service type allows."""
        return duties(service_type).redress

    def shared(self, recipient: Recipient, *, party: str, organisation: bool) -> frozenset[str]:
        """The fields of ``party`` (``complainant`` or ``customer``) that ``recipient`` may receive.

        A private individual's details go to the public archive (Lumen) never; an organisation's
        name may.
        """
        table = self.complainant_fields if party == "complainant" else self.customer_fields
        fields = table.get(recipient, frozenset())
        if recipient is Recipient.lumen and not organisation:
            return frozenset()
        return fields
