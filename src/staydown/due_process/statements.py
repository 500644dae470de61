"""Statements of reasons (DSA Art. 17) as pure functions of the restriction they explain.

Every restriction gets one statement when it is imposed: an item disabled after a notice, a zone
suspended or terminated. The fields carry the DSA Transparency Database names and enum values
(see LEGAL.md) so that the export is a projection, never a translation; the letter to the
customer is rendered from the same fields, plus the redress open to them (Art. 17(3)(f)).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import date, datetime
from typing import Any

from staydown.notices import service as notices
from staydown.types import Regime
from staydown.wording import Words
from staydown.wording import mark as _

# Every EEA state: a block at the edge applies wherever the network serves.
EEA = [
    *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE"),
    *("IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK"),
]

CATEGORY_IP = "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"
KEYWORD_COPYRIGHT = "KEYWORD_COPYRIGHT_INFRINGEMENT"
PUID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,500}$")

REDRESS = _(
    "How to contest this decision: an internal complaint within six months (Regulation (EU) 2022/2065 "
    "Art. 20; POST /v1/complaints), a counter-notice under 17 U.S.C. 512(g) for DMCA notices "
    "(POST /v1/counter-notices), a certified out-of-court dispute settlement body (Art. 21), or the courts."
)


class Restriction(enum.StrEnum):
    content_disabled = "content_disabled"
    zone_suspended = "zone_suspended"
    zone_terminated = "zone_terminated"


class StatementStatus(enum.StrEnum):
    in_force = "in_force"
    lifted = "lifted"  # the restriction ended (restored after a counter-notice, zone reinstated)
    reversed = "reversed"  # a complaint found the decision wrong
    superseded = "superseded"  # a later, stronger restriction replaced it (suspension → termination)


_CONTENT_TYPES = {
    "CONTENT_TYPE_IMAGE": {
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".webp",
        ".avif",
        ".bmp",
        ".svg",
        ".tif",
        ".tiff",
    },
    "CONTENT_TYPE_VIDEO": {".mp4", ".webm", ".mkv", ".mov", ".avi", ".m3u8", ".mpd", ".ts", ".flv"},
    "CONTENT_TYPE_AUDIO": {".mp3", ".aac", ".flac", ".ogg", ".opus", ".wav", ".m4a"},
    "CONTENT_TYPE_TEXT": {".html", ".htm", ".txt", ".pdf", ".epub", ".md", ".xhtml"},
    "CONTENT_TYPE_APP": {".apk", ".ipa", ".exe", ".msi", ".dmg", ".appimage"},
}

EXPLANATION_LIMIT = 2000

# Each regime states its own ground (``notices.regimes``); a copy found by the provider's own
# detection (stay-down) follows no notice.
LEGAL_GROUNDS = {regime.value: notices.regime_rules(regime).legal_ground for regime in Regime} | {
    "voluntary": (
        "Copyright infringement: the rights of reproduction and communication to the public "
        "(Directive 2001/29/EC Arts. 2 and 3) as implemented in national law; a copy of content "
        "already found infringing, detected by the provider's own means."
    )
}


_TYPE_OF = {extension: kind for kind, extensions in _CONTENT_TYPES.items() for extension in extensions}
_OTHER = "web resource served through the network (type not determined)"


def content_types(url: str) -> tuple[list[str], str | None]:
    """Guess the DSA content type of a URL from its path (``CONTENT_TYPE_OTHER`` when unsure)."""
    path = url.partition("#")[0].partition("?")[0]
    last = path.rpartition("/")[2]
    extension = last[last.rfind(".") :].lower() if "." in last else ""
    kind = _TYPE_OF.get(extension)
    return ([kind], None) if kind else (["CONTENT_TYPE_OTHER"], _OTHER)


@dataclass(frozen=True, slots=True)
class StatementFields:
    """One statement of reasons, field for field as the DSA Transparency Database names them."""

    decision_visibility: list[str] | None
    decision_provision: str | None
    decision_account: str | None
    account_type: str | None
    decision_ground: str
    illegal_content_legal_ground: str | None
    illegal_content_explanation: str | None
    incompatible_content_ground: str | None
    incompatible_content_explanation: str | None
    incompatible_content_illegal: str | None
    category: str
    category_specification: list[str]
    content_type: list[str]
    content_type_other: str | None
    content_date: date
    application_date: date
    decision_facts: str
    source_type: str
    automated_detection: str
    automated_decision: str
    territorial_scope: list[str]

    def as_dict(self) -> dict[str, Any]:
        # Shallow on purpose: statements are written by the thousand and their lists are never mutated.
        return {name: getattr(self, name) for name in FIELD_NAMES}


FIELD_NAMES = tuple(f.name for f in dataclass_fields(StatementFields))


@dataclass(frozen=True, slots=True)
class ItemRestriction:
    """An item of a notice disabled on the network: what the statement needs to know."""

    notice_id: int
    regime: str | None  # None: no notice (a copy the provider's own detection found)
    trusted: bool
    automated: bool
    url: str
    works: tuple[str, ...]
    explanation: str | None
    decision_reason: str | None
    notice_received_at: datetime
    applied_at: datetime
    business: bool


@dataclass(frozen=True, slots=True)
class ZoneRestriction:
    """A zone suspended or terminated: what the statement needs to know."""

    zone_id: int
    hostname: str
    status: str  # "suspended" | "terminated"
    reason: str
    automated: bool
    repeat_infringer: bool
    whole_account: bool  # every zone of the customer (a policy step on the account)
    zone_created_at: datetime
    applied_at: datetime
    business: bool


def _source(restriction: ItemRestriction) -> str:
    if restriction.trusted:
        return "SOURCE_TRUSTED_FLAGGER"
    if restriction.regime is None:
        return "SOURCE_VOLUNTARY"
    return notices.regime_rules(restriction.regime).source_type


def _label(regime: str | None) -> str:
    return notices.regime_rules(regime).label if regime is not None else "no notice"


URL_MARK = "\x00url\x00"


def with_url(template: StatementFields, url: str) -> StatementFields:
    """The statement of ``template`` (made by ``item_template``) for the item at ``url``."""
    types, other = content_types(url)
    return replace(
        template,
        content_type=types,
        content_type_other=other,
        decision_facts=template.decision_facts.replace(URL_MARK, url)[:5000],
    )


def item_statement(restriction: ItemRestriction) -> StatementFields:
    """The statement for an item disabled after a notice."""
    return with_url(item_template(restriction), restriction.url)


def item_template(restriction: ItemRestriction) -> StatementFields:
    """What the statements of a notice's items share; ``with_url`` completes one per item."""
    types, other = content_types(restriction.url)
    works = "; ".join(w for w in restriction.works if w) or "a work of the rights holder"
    how = (
        "Access was disabled without human review because the notice came from a trusted flagger and "
        "contained every required element."
        if restriction.automated
        else "An agent reviewed the notice and disabled access."
    )
    facts = " ".join(
        [
            f"Notice #{restriction.notice_id} ({_label(restriction.regime)}) received on "
            f"{restriction.notice_received_at.date().isoformat()} identified {URL_MARK} as an "
            f"infringing copy of: {works}.",
            how,
            f"Reason recorded: {restriction.decision_reason}." if restriction.decision_reason else "",
        ]
    ).strip()
    return StatementFields(
        decision_visibility=["DECISION_VISIBILITY_CONTENT_DISABLED"],
        decision_provision=None,
        decision_account=None,
        account_type="ACCOUNT_TYPE_BUSINESS" if restriction.business else "ACCOUNT_TYPE_PRIVATE",
        decision_ground="DECISION_GROUND_ILLEGAL_CONTENT",
        illegal_content_legal_ground=LEGAL_GROUNDS[restriction.regime or "voluntary"],
        # The Transparency Database takes at most 2,000 characters here (decision_facts: 5,000).
        illegal_content_explanation=(
            restriction.explanation or "The notifier states the copy is unauthorised."
        )[:EXPLANATION_LIMIT],
        incompatible_content_ground=None,
        incompatible_content_explanation=None,
        incompatible_content_illegal=None,
        category=CATEGORY_IP,
        category_specification=[KEYWORD_COPYRIGHT],
        content_type=types,
        content_type_other=other,
        # A CDN does not know when its customer published the content; the notice date is the
        # earliest date the provider can vouch for.
        content_date=restriction.notice_received_at.date(),
        application_date=restriction.applied_at.date(),
        decision_facts=facts,
        source_type=_source(restriction),
        automated_detection="No",
        automated_decision=(
            "AUTOMATED_DECISION_FULLY" if restriction.automated else "AUTOMATED_DECISION_NOT_AUTOMATED"
        ),
        territorial_scope=list(EEA),
    )


def zone_statement(restriction: ZoneRestriction) -> StatementFields:
    """The statement for a zone (and, for a policy step, the account) suspended or terminated."""
    terminated = restriction.status == "terminated"
    extent = "TOTAL" if restriction.whole_account else "PARTIAL"
    provision = f"DECISION_PROVISION_{extent}_{'TERMINATION' if terminated else 'SUSPENSION'}"
    account = None
    if restriction.whole_account:
        account = "DECISION_ACCOUNT_TERMINATED" if terminated else "DECISION_ACCOUNT_SUSPENDED"
    ground = (
        "Repeat-infringer policy in the terms of service (17 U.S.C. 512(i)(1)(A); Regulation (EU) "
        "2022/2065 Art. 23(1))"
        if restriction.repeat_infringer
        else "Terms of service"
    )
    facts = (
        f"Service for {restriction.hostname} was {restriction.status}"
        f"{' with every zone of the account' if restriction.whole_account else ''}. "
        f"Reason: {restriction.reason}."
    )
    return StatementFields(
        decision_visibility=None,
        decision_provision=provision,
        decision_account=account,
        account_type="ACCOUNT_TYPE_BUSINESS" if restriction.business else "ACCOUNT_TYPE_PRIVATE",
        decision_ground="DECISION_GROUND_INCOMPATIBLE_CONTENT",
        illegal_content_legal_ground=None,
        illegal_content_explanation=None,
        incompatible_content_ground=ground,
        incompatible_content_explanation=restriction.reason[:5000],
        incompatible_content_illegal="Yes" if restriction.repeat_infringer else "No",
        category=CATEGORY_IP,
        category_specification=[KEYWORD_COPYRIGHT],
        content_type=["CONTENT_TYPE_OTHER"],
        content_type_other=f"every resource served for {restriction.hostname}",
        content_date=restriction.zone_created_at.date(),
        application_date=restriction.applied_at.date(),
        decision_facts=facts[:5000],
        source_type="SOURCE_VOLUNTARY",
        automated_detection="No",
        automated_decision=(
            "AUTOMATED_DECISION_FULLY" if restriction.automated else "AUTOMATED_DECISION_NOT_AUTOMATED"
        ),
        territorial_scope=list(EEA),
    )


def render_letter(
    statements: list[tuple[str, str, StatementFields]],
    *,
    provider: str = "",
    limit: int = 50,
    redress: str = REDRESS,
    locale: str = "en",
) -> tuple[str, str]:
    """Subject and body of the letter that sends ``(puid, subject-of-restriction, fields)`` to a
    customer, in ``locale``. The statements' own fields stay as the Transparency Database holds them
    (its codes, and facts in English); the letter's words around them are the customer's."""
    _ = Words(locale)
    count = len(statements)
    prefix = f"[{provider}] " if provider else ""
    subject = prefix + _("Statement of reasons: %(count)s restriction(s) on your service", count=count)
    lines = [
        _(
            "%(provider)s has restricted your service. This statement of reasons (Regulation (EU) "
            "2022/2065 Art. 17) explains each restriction.",
            provider=provider or _("The network"),
        ),
        "",
    ]
    for puid, what, fields in statements[:limit]:
        if fields.decision_visibility:
            measure = ", ".join(fields.decision_visibility)
        else:
            measure = " / ".join(m for m in (fields.decision_provision, fields.decision_account) if m)
        ground = fields.illegal_content_legal_ground or fields.incompatible_content_ground
        lines += [
            _("Statement %(puid)s — %(what)s", puid=puid, what=what),
            "  "
            + _(
                "Measure: %(measure)s; territorial scope: the whole network (all EEA states and beyond); "
                "duration: until lifted.",
                measure=measure,
            ),
            "  " + _("Facts: %(facts)s", facts=fields.decision_facts),
            "  "
            + _(
                "Automated detection: %(detection)s; decision: %(decision)s.",
                detection=fields.automated_detection,
                decision=fields.automated_decision,
            ),
            "  " + _("Ground (%(code)s): %(ground)s", code=fields.decision_ground, ground=ground),
            "",
        ]
    if count > limit:
        lines += [_("... and %(count)s more, listed at GET /v1/statements.", count=count - limit), ""]
    lines.append(_(redress))
    return subject, "\n".join(lines)
