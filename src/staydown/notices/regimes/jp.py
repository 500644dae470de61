"""Japanese removal requests under the Information Distribution Platform Act (former Provider
Liability Limitation Act): the statute asks for the information, the right and the reason; the
industry guideline forms add a declaration and a signature, which are recorded but never block."""

from __future__ import annotations

from staydown import i18n
from staydown.notices.regimes.base import (
    CUSTOMER_FIELDS,
    ORGANISATION_ONLY,
    Assessment,
    Element,
    Inquiry,
    NoticeFacts,
    RegimeRules,
    outcome_of,
)
from staydown.types import Recipient, Regime
from staydown.wording import mark as _


class Jp(RegimeRules):
    regime = Regime.jp
    label = "JP"
    letter_markers = ("著作権", "削除", "送信防止", "侵害", "申出", "拝啓", "敬具", "以上")
    letter_markers_needed = 2  # one such word appears in many letters; a Japanese request has several
    letter_language = "ja"
    title = i18n._("Japan: removal request (Information Distribution Platform Act)")
    lumen_type = "Other"
    jurisdictions = ("JP",)
    legal_ground = (
        "Copyright infringement: Japanese Copyright Act (Act No. 48 of 1970) Arts. 21 and 23; in the EU, "
        "Directive 2001/29/EC Arts. 2 and 3 as implemented in national law; removal request under the "
        "Information Distribution Platform Act."
    )
    inquiry = Inquiry(
        days=7,
        election_days=2,
        legal_basis="Information Distribution Platform Act Art. 3(2)(ii) (election content: Art. 4)",
    )
    elements = {
        "location": Element(
            "IDPA location",
            _("IDPA removal request: location of the information (URL)"),
            _("The URL where the information is published."),
        ),
        "right": Element(
            "IDPA right",
            _("IDPA removal request: right infringed"),
            _("Which right is infringed and the work it protects."),
        ),
        "reason": Element(
            "IDPA reason",
            _("IDPA removal request: reason the right is infringed"),
            _("Why publishing the information infringes your right."),
        ),
        "requester": Element(
            "IDPA requester",
            _("IDPA removal request: requester name and contact"),
            _("Your name and an e-mail address or postal address where you can be reached."),
            statutory=False,
        ),
        "declaration": Element(
            "IDPA declaration",
            _("IDPA removal request: declaration of truth (guideline form)"),
            _("A declaration that the statements in the request are true."),
            statutory=False,
        ),
        "signature": Element(
            "IDPA signature",
            _("IDPA removal request: signature of the requester (guideline form)"),
            _("Your signature (or that of your authorised agent)."),
            statutory=False,
        ),
    }
    # The sender is told who requests removal and for whom, not how to reach them privately.
    complainant_fields = {
        Recipient.customer: ORGANISATION_ONLY,
        Recipient.host: ORGANISATION_ONLY,
        Recipient.lumen: ORGANISATION_ONLY,
    }
    customer_fields = {Recipient.disclosure: frozenset(CUSTOMER_FIELDS)}

    def assess(self, facts: NoticeFacts) -> Assessment:
        e = self.elements
        missing, advisory = [], []
        if not facts.urls:
            missing.append(e["location"])
        if not facts.works_identified:
            missing.append(e["right"])
        if not facts.explanation:
            missing.append(e["reason"])
        if not (facts.name and (facts.email or facts.address)):
            advisory.append(e["requester"])
        if not facts.accurate:
            advisory.append(e["declaration"])
        if not facts.signature:
            advisory.append(e["signature"])
        outcome = outcome_of(missing, considerable=facts.urls)
        return Assessment(outcome, tuple(missing), tuple(advisory))
