"""Produce the reports: the transparency report, the DSA statements export and the Lumen export.

Periods are given as dates or instants: a date ``--to`` includes that whole UTC day; an instant is
the exclusive end. The report is computed by pure functions over the rows of ``queries``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from staydown.config import Settings
from staydown.due_process import service as due_process
from staydown.policy.flows import policy_text
from staydown.reports import dsa_2835, lumen, queries
from staydown.reports.dsa import Violation, validate_statement
from staydown.reports.queries import Period
from staydown.reports.schemas import TransparencyReport
from staydown.reports.transparency import build_report
from staydown.types import as_utc


class ReportError(Exception):
    """A report request that cannot be answered; ``code`` names why."""

    def __init__(self, code: str, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


# The exclusive end of a period that includes 9999-12-31: the day after cannot be represented, so
# the period ends at the last representable instant (only that one microsecond is left out).
_LAST_INSTANT = datetime.max.replace(tzinfo=UTC)


def _bound(value: str, *, name: str, end: bool) -> datetime:
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end:
                if day == date.max:
                    return _LAST_INSTANT
                day += timedelta(days=1)
            return datetime.combine(day, time(), tzinfo=UTC)
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(
            "invalid_period", f"{name} {value!r} is not a date (YYYY-MM-DD) or an ISO 8601 instant"
        ) from None
    try:
        return as_utc(instant)
    except OverflowError:
        raise ReportError(
            "invalid_period", f"{name} {value!r} in UTC falls outside the years 1 to 9999"
        ) from None


def parse_period(start: str, end: str) -> Period:
    """Read ``from`` and ``to`` (dates include the whole ``to`` day; instants end just before)."""
    period = Period(_bound(start, name="from", end=False), _bound(end, name="to", end=True))
    if period.end <= period.start:
        raise ReportError("invalid_period", "the period ends before it starts")
    if period.end - period.start > timedelta(days=3 * 366):
        raise ReportError("invalid_period", "a report covers at most three years")
    return period


def transparency(session: Session, period: Period, *, now: datetime, provider: str) -> TransparencyReport:
    """Compute the transparency report of ``period``."""
    rows = queries.transparency_rows(session, period, due_process=queries.due_process_rows(session, period))
    return build_report(rows, start=period.start, end=period.end, generated_at=now, provider=provider)


def lumen_notices(session: Session, period: Period, *, provider: str) -> Iterator[lumen.LumenNotice]:
    """The period's notices in Lumen's format, personal data of private individuals redacted."""
    for row in queries.lumen_rows(session, period):
        yield lumen.to_lumen(row, recipient=provider)


def lumen_export(session: Session, period: Period, *, provider: str) -> str:
    """The period's notices as one Lumen JSON document ``{"notices": [...]}``."""
    notices = list(lumen_notices(session, period, provider=provider))
    return lumen.LumenExport(notices=notices).model_dump_json(indent=2)


@dataclass(frozen=True, slots=True)
class StatementsExport:
    """Statements of reasons ready for the Transparency Database, and any that break its rules."""

    document: str  # {"statements": [...]}: the shape of the database's multiple-statements API
    count: int
    invalid: dict[str, list[Violation]]  # puid → violations


def statements_export(session: Session, period: Period) -> StatementsExport:
    """The period's statements of reasons owed to the Transparency Database (those of online
    platforms, Art. 24(5)) with DSA field names, each checked against the rules."""
    statements = [
        s.model_dump(mode="json", exclude_none=True)
        for s in due_process.list_statements(session, start=period.start, end=period.end, for_database=True)
    ]
    invalid: dict[str, list[Violation]] = {}
    for statement in statements:
        violations = validate_statement(statement)
        if violations:
            invalid[str(statement.get("puid"))] = violations
    document = json.dumps({"statements": statements}, indent=2, ensure_ascii=False) + "\n"
    return StatementsExport(document=document, count=len(statements), invalid=invalid)


def operator_of(settings: Settings) -> dsa_2835.Operator:
    """What the report states from the operator's configuration."""
    return dsa_2835.Operator(
        auto_block_distance=settings.staydown_auto_block_distance,
        review_distance=settings.staydown_review_distance,
        flood_urls=settings.staydown_flood_urls,
        flood_window_seconds=settings.staydown_flood_window_seconds,
        match_strikes=settings.staydown_match_strikes,
        policy_text=policy_text(settings.policy, provider=settings.provider_name),
        moderators_internal=settings.dsa_moderators_internal,
        moderators_external=settings.dsa_moderators_external,
        moderators_with_languages=settings.dsa_moderators_with_languages,
        moderator_languages=dict(settings.dsa_moderator_languages),
    )


def dsa_2835_parts(
    session: Session, period: Period, *, now: datetime, settings: Settings, previous: date | None = None
) -> dict[str, str]:
    """The period's report in the CSV parts of Implementing Regulation (EU) 2024/2835, by file name."""
    provider = settings.provider_name
    facts = dsa_2835.ReportFacts(
        provider=provider,
        service=provider,
        first_day=period.start.date(),
        last_day=(period.end - timedelta(microseconds=1)).date(),
        published=now.date(),
        previous=previous,
    )
    return dsa_2835.export(facts, queries.template_rows(session, period), operator_of(settings))


def parse_day(value: str, *, name: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ReportError("invalid_date", f"{name} {value!r} is not a date (YYYY-MM-DD)") from None
