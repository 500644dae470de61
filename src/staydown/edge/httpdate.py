"""HTTP-dates (RFC 9110 section 5.6.7): the three forms a recipient must accept, read with plain
string operations in one pass, and the one form a sender writes.

A value in any other form is not a date; callers decide what that means (an invalid ``Expires`` is
already expired, RFC 9111 section 5.3).
"""

from __future__ import annotations

import calendar
import time

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LONG_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}


def _digits(text: str, count: int) -> int | None:
    return int(text) if len(text) == count and text.isascii() and text.isdigit() else None


def _time_of_day(text: str) -> tuple[int, int, int] | None:
    """``HH:MM:SS`` (hour 00-23, minute 00-59, second 00-60 for a leap second)."""
    if len(text) != 8 or text[2] != ":" or text[5] != ":":
        return None
    hour, minute, second = _digits(text[0:2], 2), _digits(text[3:5], 2), _digits(text[6:8], 2)
    if hour is None or minute is None or second is None:
        return None
    if hour > 23 or minute > 59 or second > 60:
        return None
    return hour, minute, second


def _timestamp(year: int, month: int, day: int, clock: tuple[int, int, int]) -> float | None:
    if year < 1 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return float(calendar.timegm((year, month, day, *clock)))


def parse_http_date(value: str | None, *, now: float | None = None) -> float | None:
    """Return an HTTP-date as a POSIX timestamp, or None when absent or not an HTTP-date.

    Only the three forms of RFC 9110 section 5.6.7 are dates: IMF-fixdate
    (``Sun, 06 Nov 1994 08:49:37 GMT``), the obsolete RFC 850 form (``Sunday, 06-Nov-94
    08:49:37 GMT``) and asctime (``Sun Nov  6 08:49:37 1994``), each exactly as the grammar
    spells it. An RFC 850 two-digit year more than 50 years after ``now`` (the clock when not
    given) is the latest such year in the past.
    """
    if not value:
        return None
    text = value.strip(" \t")
    if len(text) > 40:  # the longest form ("Wednesday, 09-Nov-94 08:49:37 GMT") is 33
        return None
    comma = text.find(",")
    if comma == 3 and text[:3] in _DAYS:
        return _imf_fixdate(text)
    if comma > 3 and text[:comma] in _LONG_DAYS:
        return _rfc850_date(text[comma + 1 :], now=time.time() if now is None else now)
    if text[:3] in _DAYS:
        return _asctime_date(text)
    return None


def _imf_fixdate(text: str) -> float | None:
    # "Sun, 06 Nov 1994 08:49:37 GMT"
    parts = text[4:].split(" ")
    if len(text) != 29 or text[4] != " " or len(parts) != 6 or parts[0] != "" or parts[5] != "GMT":
        return None
    day, month, year = _digits(parts[1], 2), _MONTHS.get(parts[2]), _digits(parts[3], 4)
    clock = _time_of_day(parts[4])
    if day is None or month is None or year is None or clock is None:
        return None
    return _timestamp(year, month, day, clock)


def _rfc850_date(rest: str, *, now: float) -> float | None:
    # " 06-Nov-94 08:49:37 GMT"
    parts = rest.split(" ")
    if len(parts) != 4 or parts[0] != "" or parts[3] != "GMT" or len(parts[1]) != 9:
        return None
    date = parts[1].split("-")
    if len(date) != 3:
        return None
    day, month, short_year = _digits(date[0], 2), _MONTHS.get(date[1]), _digits(date[2], 2)
    clock = _time_of_day(parts[2])
    if day is None or month is None or short_year is None or clock is None:
        return None
    this_year = time.gmtime(now).tm_year
    year = this_year - this_year % 100 + short_year
    if year > this_year + 50:
        year -= 100
    return _timestamp(year, month, day, clock)


def _asctime_date(text: str) -> float | None:
    # "Sun Nov  6 08:49:37 1994" or "Sun Nov 16 08:49:37 1994"
    if len(text) != 24 or text[3] != " " or text[7] != " " or text[10] != " " or text[19] != " ":
        return None
    month = _MONTHS.get(text[4:7])
    day_text = text[8:10]
    day = _digits(day_text[1], 1) if day_text[0] == " " else _digits(day_text, 2)
    clock, year = _time_of_day(text[11:19]), _digits(text[20:24], 4)
    if month is None or day is None or clock is None or year is None:
        return None
    return _timestamp(year, month, day, clock)


def format_http_date(timestamp: float) -> str:
    """``timestamp`` as an IMF-fixdate, the form a sender generates (RFC 9110 section 5.6.7)."""
    year, month, day, hour, minute, second, weekday = time.gmtime(timestamp)[:7]
    return (
        f"{_DAYS[weekday]}, {day:02d} {_MONTH_NAMES[month - 1]} {year:04d} "
        f"{hour:02d}:{minute:02d}:{second:02d} GMT"
    )
