"""The DSA Art. 15 transparency report in the templates of Commission Implementing Regulation (EU)
2024/2835, Annex I (the quantitative template's CSV parts).

The Commission publishes the English template as CSV files, one per sheet ("CSV Part 1" to "CSV
Part 11"). The blank parts this service fills are kept unchanged in ``templates/dsa_2835/``; the
export reads each blank part and fills cells of its own rows, so the columns, their order and the
rows' categories are the Commission's, never re-typed here (sources: ``docs/dsa-2835.md``).

Filled from the data: Part 1 (identification of the report), Part 3 (orders of Member States'
authorities), Part 4 (notices under Art. 16, with the time to action and the actions taken), Part 5
(stay-down: own-initiative measures against copies of infringing content), Part 6 (the
repeat-infringer policy's suspensions and terminations), the complaint figures of Part 7, Part 8
(automated means), Part 9 (human resources, as the operator configures them) and the qualitative
Part 11. Every notice and match this service handles concerns copyright, so the figures sit on the
rows ``TOTAL``, ``STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS`` and
``KEYWORD_COPYRIGHT_INFRINGEMENT``; the other categories are left empty as the instructions allow
for what a service does not receive. Part 10 (AMAR) concerns online platforms only.

Where a blank holds a placeholder for a list (Part 3's Member State block ``AT, […], SE``, Part 9's
language rows ``bg``, ``[...]``, ``sv``), the placeholder is replaced by one copy per Member State or
language that has a figure, in the template's order.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from staydown.config import EU_LANGUAGES
from staydown.notices import regimes
from staydown.reports.queries import TemplateRows
from staydown.reports.transparency import percentile

TEMPLATES = Path(__file__).with_name("templates") / "dsa_2835"
PARTS = {
    "part-1": "Part_1_summary.csv",
    "part-3": "Part_3_member_states_orders.csv",
    "part-4": "Part_4_notices.csv",
    "part-5": "Part_5_own_initiative_illegal.csv",
    "part-6": "Part_6_own_initiative_TC.csv",
    "part-7": "Part_7_appeals_and_recidivism.csv",
    "part-8": "Part_8_automated_means.csv",
    "part-9": "Part_9_human_resources.csv",
    "part-11": "Part_11_qualitative.csv",
}
ACTIONED = ("actioned", "counter_noticed", "restored")
COPYRIGHT_ROWS = (
    "TOTAL",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "KEYWORD_COPYRIGHT_INFRINGEMENT",
)
_OTHER_PLACEHOLDER = 'Text to detail the "Other" keyword.'
_FREE_TEXT_PLACEHOLDER = "Free text"
_MEMBER_STATES_PLACEHOLDER = "AT, […], SE"
_LANGUAGE_PLACEHOLDERS = ("bg", "[...]", "sv")
# The Member States in the order of the template's "AT, […], SE" (their English names' order);
# Greece is EL as in the Union's own codes.
MEMBER_STATES = (
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "EL", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
)  # fmt: skip


def _regime_title(code: str) -> str:
    """The law a regime's notices rely on, as the regime names it (an unknown code as it is)."""
    try:
        return str(regimes.rules_of(code).title)
    except ValueError:
        return code


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What identifies one report."""

    provider: str
    service: str
    first_day: date
    last_day: date  # included
    published: date
    previous: date | None  # publication date of the latest previous report, if any


@dataclass(frozen=True, slots=True)
class Operator:
    """What the operator configured that the report states: the stay-down matcher's thresholds,
    the published repeat-infringer policy and the people who moderate content."""

    auto_block_distance: int  # PDQ bits out of 256 within which a copy is blocked at once
    review_distance: int  # within which an agent decides before anything is blocked
    flood_urls: int  # distinct URLs in ``flood_window_seconds`` that quarantine an entry
    flood_window_seconds: int
    match_strikes: str  # never | on_confirm | automatic
    policy_text: str  # the repeat-infringer policy as published
    moderators_internal: int | None = None
    moderators_external: int | None = None
    moderators_with_languages: int | None = None
    moderator_languages: dict[str, int] = field(default_factory=dict)


def blank(part: str) -> tuple[list[str], list[list[str]]]:
    """The Commission's blank ``part``: its header and its rows."""
    with (TEMPLATES / PARTS[part]).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _write(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _hours(seconds: list[float]) -> str:
    """The median in hours, two decimals; empty when nothing was measured."""
    median = percentile(seconds, 0.5)
    return "" if median is None else f"{median / 3600:.2f}"


def _period(facts: ReportFacts) -> str:
    return f"{facts.first_day.isoformat()}/{facts.last_day.isoformat()}"


def _columns(header: list[str], figures: dict[str, str]) -> dict[str, int]:
    """The blank's columns by name; a figure whose name is not one of them stops the export."""
    column = {name: index for index, name in enumerate(header)}
    missing = sorted(set(figures) - set(column))
    if missing:  # a figure must land in a column of the template, never beside it
        raise ValueError(f"not columns of the template: {missing}")
    return column


def _fill_categories(
    facts: ReportFacts, header: list[str], rows: list[list[str]], figures: dict[str, str]
) -> list[list[str]]:
    """Service and period on every row, ``figures`` on the copyright rows, the "Other" placeholder
    cleared (this service reports no "Other" sub-category)."""
    column = _columns(header, figures)
    category = header[3]  # "Category of illegal content" or "... with the provider's terms and conditions"
    if not category.startswith("Category of"):
        raise ValueError(f"the template's fourth column is {category!r}, not a category")
    other = column['Description of the sub-category "Other"']
    for row in rows:
        row[column["Service"]] = facts.service
        row[column["Reporting period"]] = _period(facts)
        if row[other] == _OTHER_PLACEHOLDER:
            row[other] = ""
        if row[3] in COPYRIGHT_ROWS:
            for name, value in figures.items():
                row[column[name]] = value
    return rows


def _fill_indicators(
    facts: ReportFacts,
    header: list[str],
    rows: list[list[str]],
    values: dict[tuple[str, str], tuple[str, str]],
) -> list[list[str]]:
    """Value and contextual information by (indicator, scope); a pair that is not a row of the blank
    stops the export."""
    column = {name.lower(): index for index, name in enumerate(header)}
    indicator, scope = column["indicator"], column["scope"]
    present = {(row[indicator], row[scope]) for row in rows}
    missing = sorted(set(values) - present)
    if missing:
        raise ValueError(f"not rows of the template: {missing}")
    for row in rows:
        row[column["service"]] = facts.service
        row[column["reporting period"]] = _period(facts)
        key = (row[indicator], row[scope])
        if key in values:
            row[column["value"]], row[column["contextual information"]] = values[key]
    return rows


def _ratio(part: int, whole: int) -> str:
    return "" if whole == 0 else f"{part / whole:.2f}"


def part_1(facts: ReportFacts) -> str:
    """Identification of the report."""
    header, rows = blank("part-1")
    values = {
        "Name of the service provider": facts.provider,
        "Date of the publication of the report": facts.published.isoformat(),
        "Date of the publication of the latest previous report": (
            facts.previous.isoformat() if facts.previous else ""
        ),
        "Starting date of reporting period": facts.first_day.isoformat(),
        "Ending date of reporting period": facts.last_day.isoformat(),
    }
    column = {name: index for index, name in enumerate(header)}
    for row in rows:
        row[column["Service"]] = facts.service
        row[column["Value"]] = values[row[column["Indicator"]]]
    return _write(header, rows)


def notice_figures(data: TemplateRows) -> dict[str, str]:
    """Part 4's figures for the notices of the period, by the template's column names."""
    notices = sum(n for _, _, n in data.notices)
    trusted = sum(n for _, t, n in data.notices if t)
    items = sum(n for _, _, n in data.items)
    trusted_items = sum(n for t, _, n in data.items if t)
    actions = sum(n for _, status, n in data.items if status in ACTIONED)
    trusted_actions = sum(n for t, status, n in data.items if t and status in ACTIONED)
    seconds = [s for _, s in data.time_to_action]
    trusted_seconds = [s for t, s in data.time_to_action if t]
    regimes = Counter[str]()
    for regime, _, n in data.notices:
        regimes[regime] += n
    mix = "; ".join(f"{_regime_title(r)}: {n}" for r, n in sorted(regimes.items()))
    context = "Contextual information on "
    return {
        "Number of notices received ": str(notices),
        "Number of notices received from Trusted flaggers": str(trusted),
        "Number of specific items of information included in the total number of notices": str(items),
        "Number of specific items of information included in the total number of notices by Trusted "
        "Flaggers (Trusted Flagger notices)": str(trusted_items),
        "Median time to take action": _hours(seconds),
        "Median time to take action (Trusted Flagger notices)": _hours(trusted_seconds),
        "Number of actions taken on the basis of the law": str(actions),
        "Number of actions taken on the basis of the law (Trusted Flagger notices)": str(trusted_actions),
        "Number of actions taken on the basis of the terms and conditions of the service": "0",
        "Number of actions taken on the basis of the terms and conditions of the service (Trusted "
        "Flagger notices)": "0",
        f"{context}Number of notices received ": (
            "Every notice received through the notice mechanism, all about copyright"
            + (f" ({mix})" if mix else "")
            + "."
        ),
        f"{context}Number of specific items of information included in the total number of notices": (
            "Each URL named by a notice is one item."
        ),
        f"{context}Median time to take action": (
            f"Hours from receipt of a notice to the first action on one of its items ({len(seconds)} "
            "notices acted on)."
        ),
        f"{context}Number of actions taken on the basis of the law": (
            "Items whose access was disabled (including those later restored after a counter-notice "
            "or complaint)."
        ),
        f"{context}Number of actions taken on the basis of the terms and conditions of the service": (
            "Notices are acted on under the law only."
        ),
    }


def part_4(facts: ReportFacts, data: TemplateRows) -> str:
    """Notices received under Art. 16 and what was done about them."""
    header, rows = blank("part-4")
    return _write(header, _fill_categories(facts, header, rows, notice_figures(data)))


def part_7(facts: ReportFacts, data: TemplateRows) -> str:
    """The internal complaint-handling system (the rows this service records)."""
    header, rows = blank("part-7")
    column = {name: index for index, name in enumerate(header)}
    total = sum(data.complaints.values())
    # A complaint found well-founded reverses the decision; one found unfounded upholds it.
    by_scope = {
        "Total number": str(total),
        "Decisions upheld": str(data.complaints.get("dismissed", 0)),
        "Decisions reversed": str(data.complaints.get("upheld", 0)),
        "Median time": _hours(data.complaint_seconds),
    }
    context = {
        "Total number": "Complaints received in the period, about any decision.",
        "Median time": "Hours from receipt of a complaint to its decision.",
    }
    complaints = "Number of complaints submitted to the internal-complaints mechanism"
    for row in rows:
        row[column["Service"]] = facts.service
        row[column["Reporting period"]] = _period(facts)
        scope = row[column["Scope"]]
        if row[column["Indicator"]] == complaints and scope in by_scope:
            row[column["Value"]] = by_scope[scope]
            row[column["Contextual Information"]] = context.get(scope, "")
    return _write(header, rows)


def member_state(jurisdiction: str) -> str | None:
    """The Member State an order's jurisdiction names (``DE``, ``EU/DE``, ``de``; ``GR`` is ``EL``),
    or None for an authority outside the Union or the Union's own."""
    code = jurisdiction.strip().upper()
    for prefix in ("EU/", "EU-", "EU:"):
        if code.startswith(prefix):
            code = code[len(prefix) :]
    code = code.split("/")[0].split("-")[0].strip()
    code = "EL" if code == "GR" else code
    return code if code in MEMBER_STATES else None


def order_figures(orders: list[tuple[str, bool, str, str, float | None]]) -> dict[str, str]:
    """Part 3's figures for orders to provide information of Member States' authorities."""
    seconds = [s for *_, s in orders if s is not None]
    context = "Contextual information on "
    return {
        "Number of orders to provide information": str(len(orders)),
        "Median time to give effect to the order to provide information": _hours(seconds),
        f"{context}number of orders to act against illegal content received": (
            "Orders to act are not recorded apart from notices: an authority's order to disable access "
            "is taken in through the notice mechanism and counted in Part 4."
        ),
        f"{context}Number of orders to provide information": (
            "Disclosure orders received in the period from courts and administrative authorities of "
            "Member States."
        ),
        f"{context}Median time to inform the authority of the receipt of the order to provide "
        "information": "The acknowledgement of receipt to the authority is not recorded.",
        f"{context}Median time to give effect to the order to provide information": (
            f"Hours from receipt to the decision to disclose, for the {len(seconds)} orders complied "
            "with in full or in part."
        ),
    }


def part_3(facts: ReportFacts, data: TemplateRows) -> str:
    """Orders to provide information received from authorities of Member States (Art. 10), by
    category (copyright when the order concerns a notice, not specified otherwise) and Member State.
    Orders of authorities outside the Union are left out and counted in the contextual information."""
    header, rows = blank("part-3")
    column = _columns(header, order_figures([]))
    scope, category = column["Scope"], column["Category of illegal content"]
    eu = [(member_state(o[0]), o) for o in data.orders]
    orders = [(state, o) for state, o in eu if state is not None]
    outside = len(eu) - len(orders)
    total_rows = [r for r in rows if r[scope] == "TOTAL"]
    block = [r for r in rows if r[scope] == _MEMBER_STATES_PLACEHOLDER]
    if len(total_rows) + len(block) != len(rows):
        raise ValueError("Part 3 has rows that are neither TOTAL nor the Member State block")
    states = [s for s in MEMBER_STATES if any(state == s for state, _ in orders)]
    out: list[list[str]] = []
    for state, template_rows in [("TOTAL", total_rows)] + [(s, block) for s in states]:
        chosen = [o for st, o in orders if state in ("TOTAL", st)]
        by_row = {
            "TOTAL": chosen,
            "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS": [o for o in chosen if o[1]],
            "KEYWORD_COPYRIGHT_INFRINGEMENT": [o for o in chosen if o[1]],
            "STATEMENT_CATEGORY_NOT_SPECIFIED_ORDER": [o for o in chosen if not o[1]],
        }
        for template_row in template_rows:
            row = list(template_row)
            row[column["Service"]] = facts.service
            row[column["Reporting period"]] = _period(facts)
            row[scope] = state
            if row[column['Description of the sub-category "Other"']] == _OTHER_PLACEHOLDER:
                row[column['Description of the sub-category "Other"']] = ""
            if row[category] in by_row:
                figures = order_figures(by_row[row[category]])
                if row[category] == "TOTAL" and state == "TOTAL" and outside:
                    name = "Contextual information on Number of orders to provide information"
                    figures[name] += f" {outside} order(s) of authorities outside the Union are not counted."
                for name, value in figures.items():
                    row[column[name]] = value
            out.append(row)
    return _write(header, out)


def _matches(data: TemplateRows) -> dict[str, int]:
    """Stay-down matches of the period as measures: automatic blocks (whatever happened to them
    later) and review-band matches an agent confirmed."""
    counts = Counter[str]()
    for outcome, status, work, exact, n in data.matches:
        counts[f"found:{outcome}:{status}"] += n
        measure = outcome == "block" or status == "confirmed"
        if measure:
            counts["measures"] += n
            counts["automatic" if outcome == "block" else "confirmed"] += n
            counts["work" if work else "notice"] += n
            counts["exact" if exact else "near"] += n
    return counts


def stay_down_figures(data: TemplateRows) -> dict[str, str]:
    """Part 5's figures: own-initiative measures against copies of infringing content."""
    m = _matches(data)
    measures = str(m["measures"])
    ci = "Contextual Information on "
    return {
        "Number of measures taken at the provider's own initiative ": measures,
        "Number of measures taken after detection with solely automated means ": measures,
        "Visibility restriction Disable": measures,
        f"{ci}Number of measures taken at the provider's own initiative ": (
            "Stay-down: copies found on customers' zones of content taken down after a notice "
            f"({m['notice']}) or of works rightsholders registered ({m['work']}); {m['automatic']} "
            f"blocked at once, {m['confirmed']} blocked after an agent confirmed the match."
        ),
        f"{ci}Number of measures taken after detection with solely automated means ": (
            "Every copy is detected by the stay-down matcher at the network's edges: "
            f"{m['exact']} exact copies (SHA-256), {m['near']} near copies (PDQ perceptual hash)."
        ),
        f"{ci}Visibility restriction Disable": (
            "The edges answer HTTP 451 for the copy's URL; the content stays at the customer's origin. "
            f"{m['found:block:dismissed']} automatic blocks were later lifted (dismissed by an agent or "
            "on a complaint)."
        ),
    }


def part_5(facts: ReportFacts, data: TemplateRows) -> str:
    """Content moderation at the provider's own initiative against illegal content (stay-down)."""
    header, rows = blank("part-5")
    return _write(header, _fill_categories(facts, header, rows, stay_down_figures(data)))


def policy_step_figures(data: TemplateRows) -> dict[str, str]:
    """Part 6's figures: the repeat-infringer policy's restrictions of the service, taken on the
    provider's own initiative under its terms and conditions."""
    kinds = Counter[str]()
    automatic = 0
    for kind, auto, n in data.policy_steps:
        kinds[kind] += n
        if auto and kind in ("suspension", "termination"):
            automatic += n
    suspensions, terminations = kinds["suspension"], kinds["termination"]
    ci = "Contextual Information on "
    return {
        "Number of measures taken at the provider's own initiative ": str(suspensions + terminations),
        "Number of measures taken after detection with solely automated means ": str(automatic),
        "Provision of the service Suspension": str(suspensions),
        "Provision of the service Termination": str(terminations),
        f"{ci}Number of measures taken at the provider's own initiative ": (
            "Steps of the published repeat-infringer policy against customers with repeated "
            f"copyright strikes. Besides these: {kinds['warning']} warnings, {kinds['reinstatement']} "
            f"reinstatements, {kinds['termination_pending']} terminations referred to an agent."
        ),
        f"{ci}Number of measures taken after detection with solely automated means ": (
            "Steps taken automatically when the strikes reached the policy's threshold."
        ),
        f"{ci}Provision of the service Suspension": "Every zone of the customer stops being served.",
        f"{ci}Provision of the service Termination": "The account and every zone of it are terminated.",
    }


def part_6(facts: ReportFacts, data: TemplateRows) -> str:
    """Content moderation at the provider's own initiative under its terms and conditions."""
    header, rows = blank("part-6")
    return _write(header, _fill_categories(facts, header, rows, policy_step_figures(data)))


_SECTION8 = "Use of automated means for content moderation"


def automated_means_values(data: TemplateRows) -> dict[tuple[str, str], tuple[str, str]]:
    """Part 8's values by (indicator, scope)."""
    m = _matches(data)
    lifted = data.matches_lifted_on_complaint.get("block", 0)
    confirmed_blocks = m["found:block:confirmed"]
    dismissed_blocks = m["found:block:dismissed"]
    reviewed = confirmed_blocks + dismissed_blocks
    actioned = Counter[bool]()
    for status, automated, _trusted, n in data.decided_items:
        if status in ACTIONED:
            actioned[automated] += n
    notices = Counter[tuple[str, bool]]()
    for trusted, alone, n in data.notice_automation:
        notices[("NAM Total", alone)] += n
        if trusted:
            notices[("NAM Trusted Flagger", alone)] += n
    solely, not_solely = (
        "Number of measures solely taken by automated means ",
        "Number of measures not taken by automated means",
    )
    accuracy = "Accuracy of the automated means - "
    unmeasured = "Not measured: no sample of the matcher's decisions is checked against a ground truth."
    recall = "Not measured: copies the matcher did not find are not known."
    values: dict[tuple[str, str], tuple[str, str]] = {
        (solely, "Total number"): (
            str(m["automatic"] + actioned[True]),
            "Automatic stay-down blocks and notice items actioned by automated means, decided in the period.",
        ),
        (not_solely, "Total number"): (
            str(m["confirmed"] + actioned[False]),
            "Stay-down matches an agent confirmed and notice items an agent actioned, in the period.",
        ),
        (solely, "Own-initiative "): (str(m["automatic"]), "Stay-down matches blocked at once by the edges."),
        (not_solely, "Own-initiative "): (
            str(m["confirmed"]),
            "Stay-down matches in the review band, blocked once an agent confirmed them.",
        ),
        (f"{accuracy}Accuracy", "Own-initiative "): ("", unmeasured),
        (f"{accuracy}Precision", "Own-initiative "): (
            _ratio(confirmed_blocks, reviewed),
            f"Of the {m['automatic']} automatic blocks, {reviewed} were later looked at by an agent: "
            f"{confirmed_blocks} confirmed, {dismissed_blocks} dismissed ({lifted} on an upheld complaint). "
            "Share confirmed among those looked at (0 to 1); blocks no one looked at are not counted.",
        ),
        (f"{accuracy}Recall", "Own-initiative "): ("", recall),
    }
    for scope in ("NAM Total", "NAM Trusted Flagger"):
        values[("Number of notices solely processed by automated means ", scope)] = (
            str(notices[(scope, True)]),
            "Notices received in the period every decided item of which was decided by automated means.",
        )
        values[("Number of notices not processed by automated means", scope)] = (
            str(notices[(scope, False)]),
            "Other notices received in the period (decided by an agent, or not yet decided).",
        )
    values[(f"{accuracy}Accuracy", "NAM Total")] = ("", unmeasured)
    return values


def part_8(facts: ReportFacts, data: TemplateRows) -> str:
    """Use of automated means for content moderation."""
    header, rows = blank("part-8")
    return _write(header, _fill_indicators(facts, header, rows, automated_means_values(data)))


def part_9(facts: ReportFacts, operator: Operator) -> str:
    """Human resources dedicated to content moderation, as the operator configured them; the
    language rows ``bg``, ``[...]``, ``sv`` become one row per configured language."""
    header, rows = blank("part-9")
    scope = [name.lower() for name in header].index("scope")
    languages = [lang for lang in EU_LANGUAGES if lang in operator.moderator_languages]
    out: list[list[str]] = []
    for row in rows:
        if row[scope] == _LANGUAGE_PLACEHOLDERS[0]:
            out.extend([*row[:scope], lang, *row[scope + 1 :]] for lang in languages)
        elif row[scope] not in _LANGUAGE_PLACEHOLDERS:
            out.append(row)
    unset = "Not configured by the operator (STAYDOWN_{})."

    def stated(value: int | None, setting: str, context: str) -> tuple[str, str]:
        return ("", unset.format(setting)) if value is None else (str(value), context)

    indicator = "Number of total moderators with sufficient linguistic expertise "
    values = {
        ("Number of internal moderators employed by the provider", "Total number"): stated(
            operator.moderators_internal, "DSA_MODERATORS_INTERNAL", "As stated by the operator."
        ),
        ("Number of external moderators contracted by the provider", "Total number"): stated(
            operator.moderators_external, "DSA_MODERATORS_EXTERNAL", "As stated by the operator."
        ),
        (indicator, "Total number"): stated(
            operator.moderators_with_languages, "DSA_MODERATORS_WITH_LANGUAGES", "As stated by the operator."
        ),
    }
    for lang in languages:
        values[(indicator, lang)] = (str(operator.moderator_languages[lang]), "As stated by the operator.")
    return _write(header, _fill_indicators(facts, header, out, values))


def qualitative_values(data: TemplateRows, operator: Operator) -> dict[str, str]:
    """Part 11's free text by indicator, from the figures and the operator's configuration."""
    m = _matches(data)
    steps = Counter[str]()
    for kind, _auto, n in data.policy_steps:
        steps[kind] += n
    strikes = {
        "never": "never counts as a strike",
        "on_confirm": "counts as a strike against the customer once an agent confirms it",
        "automatic": "counts as a strike against the customer at once",
    }.get(operator.match_strikes, operator.match_strikes)
    return {
        "Summary of the content moderation engaged in at the providers\u2019 own initiative": (
            "Stay-down: copies of images taken down after a notice, and of works rightsholders "
            "registered, are found again on customers' zones by the network's edges and access to them "
            f"is disabled ({m['measures']} measures in the period). The repeat-infringer policy "
            f"suspends or terminates the service of customers with repeated strikes ({steps['suspension']} "
            f"suspensions, {steps['termination']} terminations in the period)."
        ),
        "Meaningful and comprehensible information regarding content moderation engaged in at the "
        "providers' own initiative": operator.policy_text,
        "Qualitative description of the automated means": (
            "Each image taken down or registered is fingerprinted: SHA-256 for exact copies and PDQ "
            "(a 256-bit perceptual hash) for near copies. The network's edges fingerprint the images "
            "they serve and compare them with the bank. A copy within "
            f"{operator.auto_block_distance} differing bits is blocked at once (HTTP 451); one within "
            f"{operator.review_distance} bits is served until an agent confirms or dismisses the match. "
            "Where PDQ finds nothing (part of a page, a turned or deeply cropped copy), a second stage "
            "pairs local features (ORB keypoints), fits a geometric transform and checks that the "
            f"pixels correlate before the copy is blocked. A match {strikes}."
        ),
        "Qualitative description of indicators of accuracy and possible rate of error of automated means": (
            "Precision is the share of automatic blocks an agent confirmed among those an agent looked "
            "at (on review, or on a complaint of the customer). Accuracy and recall are not measured: "
            "copies the matcher did not find are not known."
        ),
        "Specification of the precise purposes to apply automated means": (
            "Keeping down copies of content found to infringe copyright after a notice, and of works "
            "their rightsholders registered; nothing else is matched."
        ),
        "Safeguards applied to the use of automated means": (
            "Near copies outside the automatic-block distance wait for an agent; a work may carry a "
            "tighter distance of its own; licensed or public-domain images are allowlisted and never "
            f"blocked automatically; an entry matching more than {operator.flood_urls} URLs within "
            f"{operator.flood_window_seconds} seconds is taken off the edges until an agent decides; "
            "every block is told to the customer, who may complain, and an upheld complaint lifts it."
        ),
    }


def part_11(facts: ReportFacts, data: TemplateRows, operator: Operator) -> str:
    """The qualitative part: the rows for all providers; the rows for very large platforms are left
    empty."""
    header, rows = blank("part-11")
    column = {name: index for index, name in enumerate(header)}
    values = qualitative_values(data, operator)
    missing = sorted(set(values) - {row[column["Indicator"]] for row in rows})
    if missing:
        raise ValueError(f"not rows of the template: {missing}")
    for row in rows:
        row[column["Service"]] = facts.service
        row[column["Reporting period"]] = _period(facts)
        text = values.get(row[column["Indicator"]])
        if text is not None:
            row[column["Value"]] = text
        elif row[column["Value"]] == _FREE_TEXT_PLACEHOLDER:
            row[column["Value"]] = ""
    return _write(header, rows)


def export(facts: ReportFacts, data: TemplateRows, operator: Operator) -> dict[str, str]:
    """Every part this service fills, by the name the Commission gives its blank."""
    return {
        PARTS["part-1"]: part_1(facts),
        PARTS["part-3"]: part_3(facts, data),
        PARTS["part-4"]: part_4(facts, data),
        PARTS["part-5"]: part_5(facts, data),
        PARTS["part-6"]: part_6(facts, data),
        PARTS["part-7"]: part_7(facts, data),
        PARTS["part-8"]: part_8(facts, data),
        PARTS["part-9"]: part_9(facts, operator),
        PARTS["part-11"]: part_11(facts, data, operator),
    }
