"""US DMCA notices: 17 U.S.C. 512(c)(3)(A) elements, 512(g) counter-notices."""

from __future__ import annotations

from staydown import i18n
from staydown.notices.regimes.base import (
    COMPLAINANT_FIELDS,
    CUSTOMER_FIELDS,
    ORGANISATION_ONLY,
    Assessment,
    Element,
    NoticeFacts,
    RegimeRules,
    outcome_of,
)
from staydown.types import Recipient, Regime
from staydown.wording import mark as _


def _e(code: str, name: str, explanation: str) -> Element:
    return Element(code, name, explanation)


class Dmca(RegimeRules):
    regime = Regime.dmca
    label = "DMCA"
    title = i18n._("US DMCA (17 U.S.C. 512)")
    lumen_type = "DMCA"
    jurisdictions = ("US",)
    legal_ground = (
        "Copyright infringement: notice under 17 U.S.C. 512(c)(3); in the EU, the rights of reproduction "
        "and communication to the public (Directive 2001/29/EC Arts. 2 and 3) as implemented in national "
        "law."
    )
    counter_notice = True
    subpoena_512h = True
    letter_markers = ("dmca", "512(c)", "digital millennium", "17 u.s.c")
    formats = ("acns",)  # the Automated Copyright Notice System speaks the DMCA's language
    elements = {
        "i": _e(
            "512(c)(3)(A)(i)",
            _("512(c)(3)(A)(i) signature"),
            _("A physical or electronic signature of the person authorised to act for the rights owner."),
        ),
        "ii": _e(
            "512(c)(3)(A)(ii)",
            _("512(c)(3)(A)(ii) identification of the copyrighted work"),
            _("Which work is infringed (a title or description; a representative list for many works)."),
        ),
        "iii": _e(
            "512(c)(3)(A)(iii)",
            _("512(c)(3)(A)(iii) identification of the infringing material"),
            _("The exact URLs of the infringing material, so it can be found."),
        ),
        "iv": _e(
            "512(c)(3)(A)(iv)",
            _("512(c)(3)(A)(iv) contact information"),
            _(
                "Information reasonably sufficient to contact you, such as a postal address, a telephone "
                "number or an e-mail address."
            ),
        ),
        "v": _e(
            "512(c)(3)(A)(v)",
            _("512(c)(3)(A)(v) good-faith statement"),
            _(
                "A statement that you believe in good faith the use is not authorised by the owner, "
                "its agent or the law."
            ),
        ),
        "vi": _e(
            "512(c)(3)(A)(vi)",
            _("512(c)(3)(A)(vi) accuracy and authority statement"),
            _(
                "A statement that the notice is accurate and, under penalty of perjury, that you are "
                "authorised to act for the owner."
            ),
        ),
    }
    # The customer answers the complainant and, on a counter-notice, accepts service from it
    # (512(g)(3)(D)); the origin's host needs only to know who complains and how to reach them.
    complainant_fields = {
        Recipient.customer: frozenset(COMPLAINANT_FIELDS),
        Recipient.host: ORGANISATION_ONLY | {"email"},
        Recipient.lumen: ORGANISATION_ONLY,
    }
    customer_fields = {Recipient.disclosure: frozenset(CUSTOMER_FIELDS)}

    def assess(self, facts: NoticeFacts) -> Assessment:
        e = self.elements
        missing = []
        if not facts.signature:
            missing.append(e["i"])
        if not facts.works_identified:
            missing.append(e["ii"])
        if not facts.urls:
            missing.append(e["iii"])
        # (iv) asks for contact information "reasonably sufficient", giving address, telephone and
        # e-mail as examples: any one way to reach the complaining party is enough.
        reachable = facts.email or facts.phone or facts.address
        if not reachable:
            missing.append(e["iv"])
        if not facts.good_faith:
            missing.append(e["v"])
        if not (facts.accurate and facts.authorized):
            missing.append(e["vi"])
        # 512(c)(3)(B)(ii): with (ii), (iii) and (iv) in substance, the provider must ask for the rest.
        considerable = facts.works_identified and facts.urls and reachable
        return Assessment(outcome_of(missing, considerable=considerable), tuple(missing))
