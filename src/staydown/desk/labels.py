"""Words for the codes the desk shows: statuses, roles, regimes, kinds, in the reader's language.

Every value of the enums a desk page shows has a label here (tests/desk/test_labels.py checks), so a
page never shows a raw code such as ``us_512h_subpoena``. A value without one (a new enum value
before it is labelled) reads as its words.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from staydown import i18n
from staydown.i18n import Message, _
from staydown.notices import regimes
from staydown.notices.regimes.base import RegimeRules
from staydown.types import Regime

LABELS: dict[str, Message] = {
    # Classes of notifier the transparency report counts by (reports/queries.py).
    "trusted_flagger": _("trusted flagger"),
    "organisation": _("organisation"),
    "individual": _("individual"),
    "accepted": _("accepted"),
    "acme": _("acme"),
    "acns": _("ACNS"),
    "action": _("action"),
    "actioned": _("actioned"),
    "activate": _("activate"),
    "active": _("active"),
    "address": _("address"),
    "admin": _("admin"),
    "agent": _("agent"),
    "allowlist": _("allowlist"),
    "answered": _("answered"),
    "assessed_complete": _("assessed complete"),
    "assessed_incomplete": _("assessed incomplete"),
    "assessed_insufficient": _("assessed insufficient"),
    "authority_order": _("authority order"),
    "automatic": _("automatic"),
    "awarded": _("awarded"),
    "banked": _("banked"),
    "behind": _("behind"),
    "block": _("block"),
    "blocked": _("blocked"),
    "business": _("business"),
    "caching": _("caching"),
    "cancelled": _("cancelled"),
    "cert_remove": _("cert remove"),
    "cert_set": _("cert set"),
    "challenge_remove": _("challenge remove"),
    "challenge_set": _("challenge set"),
    "cleared": _("cleared"),
    "close": _("close"),
    "closed": _("closed"),
    "complete": _("complete"),
    "completed": _("completed"),
    "complied": _("complied"),
    "comply": _("comply"),
    "confirm": _("confirm"),
    "confirmed": _("confirmed"),
    "content_disabled": _("content disabled"),
    "contest": _("contest"),
    "contested": _("contested"),
    "counter_notice": _("counter notice"),
    "counter_noticed": _("counter noticed"),
    "court_action": _("court action"),
    "court_action_reported": _("court action reported"),
    "court_order": _("court order"),
    "csv": _("CSV"),
    "customer": _("customer"),
    "decided": _("decided"),
    "decided_actioned": _("decided actioned"),
    "decided_rejected": _("decided rejected"),
    "demo": _("demo"),
    "disclosure": _("disclosure"),
    "dismiss": _("dismiss"),
    "dismissed": _("dismissed"),
    "dns": _("DNS"),
    "done": _("done"),
    "dsa_database": _("dsa database"),
    "duplicate": _("duplicate"),
    "edge": _("edge"),
    "email": _("email"),
    "expired": _("expired"),
    "expiring": _("expiring"),
    "failing": _("failing"),
    "failed": _("failed"),
    "found": _("found"),
    "found_unfounded": _("found unfounded"),
    "found_well_founded": _("found well founded"),
    "good": _("good"),
    "hash_add": _("hash add"),
    "hash_remove": _("hash remove"),
    "host": _("host"),
    "host_answer": _("host answer"),
    "hosting": _("hosting"),
    "http": _("HTTP"),
    "identity": _("identity"),
    "in_force": _("in force"),
    "incomplete": _("incomplete"),
    "inquire": _("inquire"),
    "inquiry": _("inquiry"),
    "insufficient": _("insufficient"),
    "issue": _("issue"),
    "items": _("items"),
    "jp_disclosure_order": _("jp disclosure order"),
    "jp_log_preservation_order": _("jp log preservation order"),
    "keep": _("keep"),
    "legal": _("legal"),
    "lifted": _("lifted"),
    "lumen": _("lumen"),
    "mail_gateway": _("mail gateway"),
    "name": _("name"),
    "network": _("network"),
    "never": _("never"),
    "no_contact": _("no contact"),
    "none": _("none"),
    "not_applicable": _("not applicable"),
    "not_image": _("not image"),
    "not_on_network": _("not on network"),
    "nothing_on_network": _("nothing on network"),
    "notice": _("notice"),
    "notifier": _("notifier"),
    "notifier_measure": _("notifier measure"),
    "objected": _("objected"),
    "ok": _("ok"),
    "on_confirm": _("on confirm"),
    "open": _("open"),
    "organization": _("organization"),
    "partially_complied": _("partially complied"),
    "partially_comply": _("partially comply"),
    "payment_reference": _("payment reference"),
    "pending": _("pending"),
    "pending_review": _("pending review"),
    "phone": _("phone"),
    "platform": _("platform"),
    "policy_step": _("policy step"),
    "purge": _("purge"),
    "quarantined": _("quarantined"),
    "received": _("received"),
    "reference": _("reference"),
    "refused": _("refused"),
    "reinstate": _("reinstate"),
    "reinstatement": _("reinstatement"),
    "reject": _("reject"),
    "rejected": _("rejected"),
    "released": _("released"),
    "removed": _("removed"),
    "renew": _("renew"),
    "renewal_failing": _("renewal failing"),
    "staple_expiring": _("staple expiring"),
    "staple_failing": _("staple failing"),
    "replaced": _("replaced"),
    "restore": _("restore"),
    "restored": _("restored"),
    "reversed": _("reversed"),
    "review": _("review"),
    "review_kept": _("review kept"),
    "revoke": _("revoke"),
    "revoked": _("revoked"),
    "sent": _("sent"),
    "signup_ip": _("signup ip"),
    "silent": _("silent"),
    "staydown_match": _("staydown match"),
    "stored": _("stored"),
    "submitter": _("submitter"),
    "superseded": _("superseded"),
    "suspend": _("suspend"),
    "suspended": _("suspended"),
    "suspension": _("suspension"),
    "terminate": _("terminate"),
    "terminated": _("terminated"),
    "termination": _("termination"),
    "termination_pending": _("termination pending"),
    "text": _("text"),
    "timer_fired": _("timer fired"),
    "triage": _("triage"),
    "trust_restored": _("trust restored"),
    "trust_revoked": _("trust revoked"),
    "unblock": _("unblock"),
    "unchanged": _("unchanged"),
    "unknown": _("unknown"),
    "unreachable": _("unreachable"),
    "upheld": _("upheld"),
    "uphold": _("uphold"),
    "upload": _("upload"),
    "us_512h_subpoena": _("us 512h subpoena"),
    "verification": _("verification"),
    "voided": _("voided"),
    "warned": _("warned"),
    "warning": _("warning"),
    "webhook": _("webhook"),
    "withdrawn": _("withdrawn"),
    "xarf": _("X-ARF"),
    "zone": _("zone"),
    "zone_reinstated": _("zone reinstated"),
    "zone_suspended": _("zone suspended"),
    "zone_terminated": _("zone terminated"),
    "zones": _("zones"),
}


_REGIMES = frozenset(regime.value for regime in Regime)


def label(value: object, locale: str) -> str:
    """``value`` (an enum member or its code) as a reader of ``locale`` reads it."""
    code = str(getattr(value, "value", value))
    if code in _REGIMES:
        return regimes.rules_of(code).label  # each regime names itself
    message = LABELS.get(code)
    if message is None:
        return code.replace("_", " ")
    return i18n.render_text(message, locale, "desk")


def regime_title(rules: RegimeRules, locale: str) -> str:
    """The law a regime's notices rely on, as a reader of ``locale`` reads it (its ``letters`` words)."""
    return i18n.render_text(rules.title, locale, "letters")


# What an audit entry's action (``notice.decided``) reads as on the desk; an action without a
# label here reads as its words ("notice decided").
ACTIONS: dict[str, Message] = {
    "bank.entry_added": _("hash added to the bank"),
    "bank.entry_quarantined": _("bank entry quarantined"),
    "bank.entry_released": _("bank entry released"),
    "bank.entry_removed": _("hash removed from the bank"),
    "complaint.received": _("complaint received"),
    "complaint.reversal": _("decision reversed on complaint"),
    "counter_notice.court_action": _("court action reported"),
    "counter_notice.forwarded": _("counter-notice forwarded"),
    "counter_notice.incomplete": _("counter-notice incomplete"),
    "counter_notice.received": _("counter-notice received"),
    "counter_notice.restored": _("restored after counter-notice"),
    "customer.created": _("customer created"),
    "customer.erasure_refused": _("erasure refused"),
    "customer.evidence_submitted": _("evidence submitted"),
    "customer.identity_erased": _("identity erased"),
    "customer.link_reviewed": _("account link reviewed"),
    "customer.linked": _("accounts linked"),
    "customer.standing_changed": _("standing changed"),
    "customer.verification_decided": _("verification decided"),
    "disclosure.hold_placed": _("legal hold placed"),
    "disclosure.hold_released": _("legal hold released"),
    "disclosure.order_created": _("disclosure order recorded"),
    "disclosure.order_decided": _("disclosure order decided"),
    "disclosure.order_read": _("disclosure order read"),
    "disclosure.orders_listed": _("disclosure orders listed"),
    "disclosure.package_downloaded": _("disclosure package downloaded"),
    "disclosure.package_refused": _("disclosure package refused"),
    "disclosure.subpoena_refused": _("subpoena refused"),
    "host.answered": _("host answered"),
    "host.answered_again": _("host answered again"),
    "host.forwarded": _("forwarded to the host"),
    "host.origin_disclosed": _("origin disclosed"),
    "host.reminded": _("host reminded"),
    "host.unreachable": _("host unreachable"),
    "items.block_carried": _("block carried to a copy"),
    "items.copies_relinked": _("copies relinked"),
    "items.inquiry": _("items inquired about"),
    "items.inquiry_objected": _("inquiry about items objected to"),
    "items.unblock_withheld": _("unblock withheld"),
    "notice.counter_noticed": _("counter-notice filed"),
    "notice.decided": _("notice decided"),
    "notice.expired": _("notice expired"),
    "notice.forwarded": _("notice forwarded"),
    "notice.incomplete": _("notice incomplete"),
    "notice.inquiry": _("inquiry sent to the submitter"),
    "notice.inquiry_objected": _("inquiry objected to"),
    "notice.manifestly_unfounded": _("notice found manifestly unfounded"),
    "notice.overdue": _("notice overdue"),
    "notice.received": _("notice received"),
    "notice.rejected": _("notice rejected"),
    "notice.restored": _("notice restored"),
    "notice.supplemented": _("notice supplemented"),
    "order.closed": _("order closed"),
    "order.complied": _("order complied with"),
    "order.contested": _("order contested"),
    "order.partially_complied": _("order partially complied with"),
    "order.received": _("order received"),
    "serial.review_decided": _("serial review decided"),
    "serial.review_keep": _("serial review: customer kept"),
    "serial.review_suspend": _("serial review: customer suspended"),
    "serial.review_terminate": _("serial review: customer terminated"),
    "serial.review_opened": _("serial review opened"),
    "serial.review_overdue": _("serial review overdue"),
    "statements_of_reasons.issued": _("statement of reasons issued"),
    "staydown.capture_retried": _("capture retried"),
    "staydown.match_found": _("stay-down match found"),
    "staydown.unblock_withheld": _("unblock withheld"),
    "strike.recorded": _("strike recorded"),
    "strike.reweighed": _("strike reweighed"),
    "strike.voided": _("strike voided"),
    "work.hashes_imported": _("work hashes imported"),
    "work.registered": _("work registered"),
    "zone.created": _("zone created"),
    "zone.domain_control_checked": _("domain control checked"),
    "zone.https_set": _("HTTPS set"),
    "zone.origin_changed": _("origin changed"),
    "zone.rate_limit_set": _("rate limit set"),
    "zone.service_type_set": _("service type set"),
}


def action_label(code: str, locale: str) -> str:
    """An audit entry's action as a reader of ``locale`` reads it; unknown, as its words."""
    message = ACTIONS.get(code)
    if message is None and code.startswith("policy."):  # a policy step: its kind (the dossier's timeline)
        return label(code.removeprefix("policy."), locale)
    if message is None:
        return code.replace(".", " ").replace("_", " ")
    return i18n.render_text(message, locale, "desk")


def _code(value: str) -> Message | str:
    """A code quoted in a stored English text, as a label if it has one."""
    return LABELS.get(value, value.replace("_", " "))


# The English sentences of ``accounts.flows.activation_blockers``, the serial gates
# (``serial.service.link_blocker``, ``serial.probes.PROBE_PENDING``) and ``serial.flows.review_trigger``
# (the API's and the database's words), and the same sentences for the desk's reader.
_BLOCKERS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Message]], ...] = (
    (
        re.compile(r"customer verification level is '(\w+)'; '(\w+)' is required before service"),
        lambda m: _(
            "customer verification level is '%(level)s'; '%(required)s' is required before service",
            level=_code(m[1]),
            required=_code(m[2]),
        ),
    ),
    (
        re.compile(re.escape("control of the domain has not been proven (HTTP or DNS challenge)")),
        lambda m: _("control of the domain has not been proven (HTTP or DNS challenge)"),
    ),
    (re.compile(r"the customer is (\w+)"), lambda m: _("the customer is %(standing)s", standing=_code(m[1]))),
    (
        re.compile(
            r"the customer is linked to suspended or terminated customer (\d+); an agent must review the link"
        ),
        lambda m: _(
            "the customer is linked to suspended or terminated customer %(other)s; "
            "an agent must review the link",
            other=m[1],
        ),
    ),
    (
        re.compile(
            re.escape("the zone's content is being compared with what terminated customers were noticed for")
        ),
        lambda m: _("the zone's content is being compared with what terminated customers were noticed for"),
    ),
)
_TRIGGERS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Message]], ...] = (
    (
        re.compile(
            r"(\d+) distinct works from (\d+) rightsholders noticed within (\d+) days "
            r"\(thresholds (\d+) works, (\d+) rightsholders\)"
        ),
        lambda m: _(
            "%(works)s distinct works from %(holders)s rightsholders noticed within %(days)s days "
            "(thresholds %(min_works)s works, %(min_holders)s rightsholders)",
            works=m[1],
            holders=m[2],
            days=m[3],
            min_works=m[4],
            min_holders=m[5],
        ),
    ),
    (
        re.compile(r"(\d+) stay-down matches within (\d+) days \(threshold (\d+)\)"),
        lambda m: _(
            "%(matches)s stay-down matches within %(days)s days (threshold %(threshold)s)",
            matches=m[1],
            days=m[2],
            threshold=m[3],
        ),
    ),
)


def _sentence(
    text: str, known: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Message]], ...], locale: str
) -> str:
    for pattern, message in known:
        found = pattern.fullmatch(text)
        if found is not None:
            return i18n.render_text(message(found), locale, "desk")
    return text  # not one of ours (an older wording): shown as stored


def blocker_text(text: str, locale: str) -> str:
    """Why a zone may not go live yet (``activation_blockers``), in ``locale``."""
    return _sentence(text, _BLOCKERS, locale)


# Two reasons of one trigger, joined as the reader's language joins sentences.
_JOINED = _("%(earlier)s; %(later)s").msgid


def trigger_text(text: str, locale: str) -> str:
    """Why a serial review was opened (its stored ``trigger``: reasons joined by "; "), in ``locale``."""
    parts = [_sentence(part, _TRIGGERS, locale) for part in text.split("; ")]
    joined = parts[0]
    for part in parts[1:]:
        joined = i18n.translate(locale, "desk", _JOINED, earlier=joined, later=part)
    return joined
