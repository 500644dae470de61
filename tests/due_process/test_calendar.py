"""The business-day calendar and the restoration instant, as pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staydown.config import Settings
from staydown.due_process.calendar import (
    BusinessCalendar,
    parse_dates,
    restoration_instant,
    us_federal_holidays,
)

US = BusinessCalendar("US", timezone="America/New_York", federal_holidays=True)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))
holiday_sets = st.frozensets(days, max_size=40)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


def test_federal_holidays_of_2026_are_the_observed_dates() -> None:
    assert us_federal_holidays(2026) == {
        date(2026, 1, 1),
        date(2026, 1, 19),  # Martin Luther King, Jr.
        date(2026, 2, 16),  # Washington's Birthday
        date(2026, 5, 25),  # Memorial Day
        date(2026, 6, 19),
        date(2026, 7, 3),  # 4 July is a Saturday: observed on Friday
        date(2026, 9, 7),  # Labor Day
        date(2026, 10, 12),  # Columbus Day
        date(2026, 11, 11),
        date(2026, 11, 26),  # Thanksgiving
        date(2026, 12, 25),
    }


def test_new_year_on_a_saturday_is_observed_on_the_last_day_of_the_year_before() -> None:
    assert date(2021, 12, 31) in us_federal_holidays(2021)  # 1 January 2022 was a Saturday
    assert date(2022, 1, 1) not in us_federal_holidays(2022)


@given(start=days, n=st.integers(0, 40), holidays=holiday_sets)
def test_adding_business_days_lands_on_a_business_day_after_exactly_n(
    start: date, n: int, holidays: frozenset[date]
) -> None:
    calendar = BusinessCalendar("X", holidays=holidays)
    end = calendar.add_business_days(start, n)
    assert end >= start
    assert calendar.business_days_between(start, end) == n
    if n:
        assert calendar.is_business_day(end)
        assert end.weekday() < 5 and end not in holidays
        # and it is the first such day: one day earlier counts one fewer
        assert calendar.business_days_between(start, end - timedelta(days=1)) == n - 1


@given(received=instants, n=st.integers(10, 14), holidays=holiday_sets)
def test_restoration_comes_at_the_midnight_that_ends_the_nth_full_business_day(
    received: datetime, n: int, holidays: frozenset[date]
) -> None:
    calendar = BusinessCalendar("US", timezone="America/New_York", holidays=holidays, federal_holidays=True)
    restore = restoration_instant(received, n, calendar)
    local = restore.astimezone(calendar.zone)
    assert (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)
    last = local.date() - timedelta(days=1)
    assert calendar.is_business_day(last)  # the day that just ended is the N-th business day
    received_day = calendar.local_date(received)
    # Exactly N full business days lie between the day of receipt and the restoration: not fewer
    # than 10, and no part of an (N+1)-th has begun.
    assert calendar.business_days_between(received_day, last) == n
    assert restore > received


def test_a_fourteen_day_window_restores_before_the_weekend_after_the_fourteenth_day() -> None:
    # Received Friday 30 October 2026: the 14th business day after it is Friday 20 November
    # (Veterans Day skipped). Restoration comes as that day ends, not on Monday the 23rd.
    received = datetime(2026, 10, 30, 15, 0, tzinfo=UTC)
    assert restoration_instant(received, 14, US) == datetime(2026, 11, 21, 5, 0, tzinfo=UTC)


def test_restoration_skips_a_holiday_in_the_window() -> None:
    # Received Monday 2 November 2026; 11 November (Veterans Day) falls inside the window.
    received = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    restore = restoration_instant(received, 10, US)
    assert restore == datetime(2026, 11, 18, 5, 0, tzinfo=UTC)  # 00:00 in New York (EST)
    without = BusinessCalendar("US", timezone="America/New_York")
    assert restoration_instant(received, 10, without) == datetime(2026, 11, 17, 5, 0, tzinfo=UTC)
    extra = BusinessCalendar("US", timezone="America/New_York", holidays=frozenset({date(2026, 11, 16)}))
    assert restoration_instant(received, 10, extra) == datetime(2026, 11, 18, 5, 0, tzinfo=UTC)


def test_the_day_of_receipt_is_read_in_the_jurisdiction_zone() -> None:
    # 03:00 UTC on Tuesday is still Monday evening in New York: the count starts from Monday.
    late_monday = datetime(2026, 11, 3, 3, 0, tzinfo=UTC)
    assert US.local_date(late_monday) == date(2026, 11, 2)
    assert restoration_instant(late_monday, 10, US) == restoration_instant(
        datetime(2026, 11, 2, 15, 0, tzinfo=UTC), 10, US
    )


@pytest.mark.parametrize("n", [9, 15, 0, -1])
def test_a_window_outside_10_to_14_business_days_is_refused(n: int) -> None:
    with pytest.raises(ValueError, match="10 to 14 business days"):
        restoration_instant(datetime(2026, 11, 2, tzinfo=UTC), n, US)


def test_settings_refuse_a_restoration_window_outside_the_statute() -> None:
    with pytest.raises(ValueError, match=r"512\(g\)\(2\)\(C\).*15 is outside"):
        Settings(restore_business_days=15)
    with pytest.raises(ValueError, match="IANA time zone"):
        Settings(business_timezone_us="Mars/Olympus_Mons")
    settings = Settings(holidays_us="2026-11-27, 2026-12-24", restore_business_days=14)  # type: ignore[arg-type]
    assert settings.holidays_us == [date(2026, 11, 27), date(2026, 12, 24)]


def test_parse_dates_names_the_bad_value() -> None:
    assert parse_dates(["2026-01-02"]) == {date(2026, 1, 2)}
    with pytest.raises(ValueError, match="'2026-13-01' is not an ISO date"):
        parse_dates(["2026-13-01"])
