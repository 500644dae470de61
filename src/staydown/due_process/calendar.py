"""Business days per jurisdiction, and the instant a counter-noticed item is restored.

17 U.S.C. 512(g)(2)(C) counts in business days: the material goes back "not less than 10, nor
more than 14, business days following receipt of the counter notice". The law does not say which
calendar; this module makes the choice explicit and pure (dates in, dates out) so it can be tested.

Configuration (see ``config.Settings``):

- ``STAYDOWN_RESTORE_BUSINESS_DAYS`` — N, an integer in 10..14 (default 10); anything else stops
  start-up with the reason.
- ``STAYDOWN_BUSINESS_TIMEZONE_US`` — the IANA zone whose dates count (default ``America/New_York``).
- ``STAYDOWN_FEDERAL_HOLIDAYS`` — ``true`` (default) counts the eleven US federal holidays
  (5 U.S.C. 6103), each moved to Friday or Monday when it falls on Saturday or Sunday, as holidays.
- ``STAYDOWN_HOLIDAYS_US`` — further holidays, comma-separated ISO dates (``2026-12-24,2026-12-31``).

A business day is a date that is neither Saturday, Sunday nor a holiday of the jurisdiction.

Restoration rule: take the date on which the counter-notice was received, in the jurisdiction's
zone. The part of that day left over does not count (it is not a *full* business day, and the
statute says "following receipt"). Count N business days after it; the material is restored at
the midnight (local time) that ends the N-th: the instant at which N full business days have
passed since receipt, before any part of a further business day has begun. With N in 10..14 this
is never earlier than 10 nor later than 14 business days after receipt (restoring at the start of
the next *business* day instead would fall after the 14th when a weekend or holiday follows it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from staydown.types import as_utc

SATURDAY, SUNDAY = 5, 6
RESTORE_MIN_DAYS, RESTORE_MAX_DAYS = 10, 14


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (0 = Monday) of a month; ``n = -1`` is the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """A holiday on Saturday is observed on Friday, on Sunday on Monday (5 U.S.C. 6103(b))."""
    if day.weekday() == SATURDAY:
        return day - timedelta(days=1)
    if day.weekday() == SUNDAY:
        return day + timedelta(days=1)
    return day


@lru_cache(maxsize=256)
def us_federal_holidays(year: int) -> frozenset[date]:
    """The observed dates of the US federal holidays of ``year`` (5 U.S.C. 6103(a))."""
    fixed = [date(year, 1, 1), date(year, 6, 19), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    moving = [
        _nth_weekday(year, 1, 0, 3),  # Birthday of Martin Luther King, Jr.
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _nth_weekday(year, 5, 0, -1),  # Memorial Day
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 10, 0, 2),  # Columbus Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving Day
    ]
    observed = {_observed(day) for day in fixed} | set(moving)
    # New Year's Day of the next year on a Saturday is observed on 31 December of this one.
    if date(year + 1, 1, 1).weekday() == SATURDAY:
        observed.add(date(year, 12, 31))
    return frozenset(day for day in observed if day.year == year)


@dataclass(frozen=True)
class BusinessCalendar:
    """Which dates are business days in one jurisdiction, and the zone its dates are read in."""

    jurisdiction: str
    timezone: str = "UTC"
    holidays: frozenset[date] = field(default_factory=frozenset)
    federal_holidays: bool = False

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # an unknown zone fails here, when the calendar is made

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays or (self.federal_holidays and day in us_federal_holidays(day.year))

    def is_business_day(self, day: date) -> bool:
        return day.weekday() not in (SATURDAY, SUNDAY) and not self.is_holiday(day)

    def add_business_days(self, day: date, n: int) -> date:
        """Return the ``n``-th business day after ``day`` (``day`` itself never counts)."""
        if n < 0:
            raise ValueError(f"cannot count {n} business days")
        current = day
        counted = 0
        while counted < n:
            current += timedelta(days=1)
            if self.is_business_day(current):
                counted += 1
        return current

    def business_days_between(self, start: date, end: date) -> int:
        """Count business days in ``(start, end]``."""
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            count += self.is_business_day(current)
        return count

    def local_date(self, instant: datetime) -> date:
        return as_utc(instant).astimezone(self.zone).date()

    def start_of(self, day: date) -> datetime:
        """00:00 local time of ``day`` as a UTC instant."""
        return datetime.combine(day, time(0), tzinfo=self.zone).astimezone(ZoneInfo("UTC"))


def restoration_instant(received_at: datetime, business_days: int, calendar: BusinessCalendar) -> datetime:
    """Return when material counter-noticed at ``received_at`` goes back (see the module docstring)."""
    if not RESTORE_MIN_DAYS <= business_days <= RESTORE_MAX_DAYS:
        raise ValueError(
            f"restoration must come {RESTORE_MIN_DAYS} to {RESTORE_MAX_DAYS} business days after receipt "
            f"(17 U.S.C. 512(g)(2)(C)); {business_days} is outside that window"
        )
    received = calendar.local_date(received_at)
    last_day = calendar.add_business_days(received, business_days)
    return calendar.start_of(last_day + timedelta(days=1))


def parse_dates(values: Iterable[str]) -> frozenset[date]:
    """Parse ISO dates, naming the first one that is not a date."""
    parsed = set()
    for value in values:
        try:
            parsed.add(date.fromisoformat(value.strip()))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None
    return frozenset(parsed)
