"""EU notices under Regulation (EU) 2022/2065 (Digital Services Act) Art. 16."""

from __future__ import annotations

from staydown import i18n
from staydown.notices.regimes.base import (
    CUSTOMER_FIELDS,
    ORGANISATION_ONLY,
    Assessment,
    Element,
    NoticeFacts,
    RegimeRules,
    outcome_of,
)
from staydown.notices.regimes.services import duties
from staydown.types import Recipient, Regime, ServiceType
from staydown.wording import mark as _


def _e(code: str, name: str, explanation: str) -> Element:
    return Element(code, name, explanation)


class Dsa(RegimeRules):
    regime = Regime.dsa
    label = "DSA"
    awarded_trust = True
    letter_markers = ("digital services act", "2022/2065", "article 16", "art. 16", "regulation (eu)")
    title = i18n._("EU Digital Services Act (Art. 16)")
    source_type = "SOURCE_ARTICLE_16"
    lumen_type = "Other"
    jurisdictions = ("EU",)
    legal_ground = (
        "Copyright infringement: the rights of reproduction and communication to the public (Directive "
        "2001/29/EC Arts. 2 and 3) as implemented in national law; notice under Regulation (EU) 2022/2065"
        " Art. 16."
    )
    elements = {
        "a": _e(
            "DSA 16(2)(a)",
            _("DSA Art. 16(2)(a) substantiated explanation"),
            _("Why you consider the content illegal, with enough detail to assess it."),
        ),
        "b": _e(
            "DSA 16(2)(b)",
            _("DSA Art. 16(2)(b) exact electronic location"),
            _("The exact URL of each item of content."),
        ),
        "c": _e(
            "DSA 16(2)(c)", _("DSA Art. 16(2)(c) name and e-mail address"), _("Your name and e-mail address.")
        ),
        "d": _e(
            "DSA 16(2)(d)",
            _("DSA Art. 16(2)(d) statement of bona fide belief"),
            _("A statement that you believe in good faith that the notice is accurate and complete."),
        ),
    }
    # Art. 17(3)(b) names the notifier only where strictly necessary, as it is for intellectual
    # property claims: its name and principal, never its private contact details. The DSA
    # database holds no personal data at all (Art. 24(5)).
    complainant_fields = {
        Recipient.customer: ORGANISATION_ONLY,
        Recipient.host: ORGANISATION_ONLY,
        Recipient.lumen: ORGANISATION_ONLY,
    }
    customer_fields = {Recipient.disclosure: frozenset(CUSTOMER_FIELDS)}

    def assess(self, facts: NoticeFacts) -> Assessment:
        e = self.elements
        missing = []
        if not facts.explanation:
            missing.append(e["a"])
        if not facts.urls:
            missing.append(e["b"])
        if not (facts.name and facts.email):
            missing.append(e["c"])
        if not facts.accurate:
            missing.append(e["d"])
        considerable = facts.urls and facts.email
        return Assessment(outcome_of(missing, considerable=considerable), tuple(missing))

    def trusted_direct_action(self) -> bool:
        # Art. 22: a trusted flagger's notices are processed with priority and without undue delay,
        # still decided on review, not actioned automatically.
        return False

    def misuse_suspension_applies(self, service_type: ServiceType) -> bool:
        # Art. 23(2) binds providers of online platforms only.
        return duties(service_type).notifier_suspension
