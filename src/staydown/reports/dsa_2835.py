"""The DSA Art. 15 transparency report in the templates of Commission Implementing Regulation (EU)
2024/2835, Annex I (the quantitative template's CSV parts).

The Commission publishes the English template as CSV files, one per sheet ("CSV Part 1" to "CSV
Part 11"). The blank parts this service fills are kept unchanged in ``templates/dsa_2835/``; the
export reads each blank part and fills cells of its own rows, so the columns, their order and the
rows' categories are the Commission's, never re-typed here (sources: ``docs/dsa-2835.md``).

Filled from the data: Part 1 (identification of the report), Part 4 (notices under Art. 16, with
the time to action and the actions taken) and the complaint figures of Part 7. Every notice this
service takes in concerns copyright, so Part 4's figures sit on the rows ``TOTAL``,
``STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS`` and ``KEYWORD_COPYRIGHT_INFRINGEMENT``;
the other categories are left empty as the instructions allow for what a service does not receive.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from staydown.reports.queries import TemplateRows
from staydown.reports.transparency import percentile

TEMPLATES = Path(__file__).with_name("templates") / "dsa_2835"
PARTS = {
    "part-1": "Part_1_summary.csv",
    "part-4": "Part_4_notices.csv",
    "part-7": "Part_7_appeals_and_recidivism.csv",
}
ACTIONED = ("actioned", "counter_noticed", "restored")
COPYRIGHT_ROWS = (
    "TOTAL",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "KEYWORD_COPYRIGHT_INFRINGEMENT",
)
_OTHER_PLACEHOLDER = 'Text to detail the "Other" keyword.'
_REGIMES = {"dmca": "17 U.S.C. §512(c)(3)", "dsa": "DSA Art. 16", "jp": "Japan's Provider Liability Act"}


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What identifies one report."""

    provider: str
    service: str
    first_day: date
    last_day: date  # included
    published: date
    previous: date | None  # publication date of the latest previous report, if any


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
    mix = "; ".join(f"{_REGIMES.get(r, r)}: {n}" for r, n in sorted(regimes.items()))
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
    column = {name: index for index, name in enumerate(header)}
    figures = notice_figures(data)
    missing = sorted(set(figures) - set(column))
    if missing:  # a figure must land in a column of the template, never beside it
        raise ValueError(f"not columns of the template: {missing}")
    category = column["Category of illegal content"]
    other = column['Description of the sub-category "Other"']
    for row in rows:
        row[column["Service"]] = facts.service
        row[column["Reporting period"]] = _period(facts)
        if row[other] == _OTHER_PLACEHOLDER:
            row[other] = ""
        if row[category] in COPYRIGHT_ROWS:
            for name, value in figures.items():
                row[column[name]] = value
    return _write(header, rows)


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


def export(facts: ReportFacts, data: TemplateRows) -> dict[str, str]:
    """Every part this service fills, by the name the Commission gives its blank."""
    return {
        PARTS["part-1"]: part_1(facts),
        PARTS["part-4"]: part_4(facts, data),
        PARTS["part-7"]: part_7(facts, data),
    }
