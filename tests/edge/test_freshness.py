"""RFC 9111 decisions of the edge's shared cache."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from staydown.edge.freshness import (
    ANY_STALENESS,
    CacheControl,
    current_age,
    delta_seconds,
    freshens,
    freshness_lifetime,
    parse_age,
    parse_cache_control,
    parse_targeted,
    response_cache_control,
    reuse,
    serve_on_error,
    storability,
    vary_members,
)
from staydown.edge.httpdate import format_http_date, parse_http_date

NOW = 1_800_000_000.0


def http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def cc(*values: str) -> CacheControl:
    return parse_cache_control(values)


def test_parsing() -> None:
    parsed = cc('public, max-age=60, s-maxage="120"', 'No-Cache, private="set-cookie, x", must-revalidate')
    assert (parsed.max_age, parsed.s_maxage) == (60, 120)
    assert parsed.public and parsed.no_cache and parsed.private and parsed.must_revalidate
    assert cc("max-stale").max_stale == ANY_STALENESS
    assert cc("max-age=abc").max_age == 0  # malformed: stale
    assert cc("max-age=-5").max_age == 0
    # A lifetime given twice with different values is stale (RFC 9111 section 4.2.1).
    conflicting = cc("max-age=600", "max-age=60")
    assert conflicting.max_age == 0 and conflicting.conflicting == frozenset({"max-age"})
    assert cc("max-age=60, max-age=60").max_age == 60
    assert cc("").max_age is None


@pytest.mark.parametrize(
    ("kwargs", "storable"),
    [
        ({}, True),
        ({"method": "POST"}, False),
        ({"status": 206}, False),
        ({"status": 500}, False),
        ({"response_cc": cc("no-store")}, False),
        ({"request_cc": cc("no-store")}, False),
        ({"response_cc": cc("private, max-age=60")}, False),
        ({"response_headers": {"set-cookie": "sid=1", "cache-control": "max-age=60"}}, False),
        ({"response_headers": {"vary": "*"}}, False),
        ({"request_has_authorization": True}, False),
        ({"request_has_authorization": True, "response_cc": cc("public")}, True),
        ({"request_has_authorization": True, "response_cc": cc("s-maxage=10")}, True),
        ({"status": 302, "response_cc": cc()}, False),
        ({"status": 302, "response_cc": cc("max-age=60")}, True),
    ],
)
def test_storability(kwargs: dict[str, object], storable: bool) -> None:
    arguments: dict[str, object] = {
        "method": "GET",
        "status": 200,
        "request_cc": cc(),
        "response_cc": cc("max-age=60"),
        "response_headers": {},
        "request_has_authorization": False,
    } | kwargs
    result = storability(**arguments)  # type: ignore[arg-type]
    assert result.storable is storable, result.reason


def test_lifetime_precedence_and_heuristics() -> None:
    headers = {"date": http_date(NOW), "expires": http_date(NOW + 300)}
    assert (
        freshness_lifetime(status=200, response_cc=cc("s-maxage=5, max-age=50"), response_headers=headers)
        == 5
    )
    assert freshness_lifetime(status=200, response_cc=cc("max-age=50"), response_headers=headers) == 50
    assert freshness_lifetime(status=200, response_cc=cc(), response_headers=headers) == 300
    assert (
        freshness_lifetime(
            status=200, response_cc=cc(), response_headers={"expires": "0", "date": http_date(NOW)}
        )
        == 0
    )
    modified = {"date": http_date(NOW), "last-modified": http_date(NOW - 1000)}
    assert freshness_lifetime(status=200, response_cc=cc(), response_headers=modified) == pytest.approx(100)
    assert freshness_lifetime(status=302, response_cc=cc(), response_headers=modified) == 0
    old = {"date": http_date(NOW), "last-modified": http_date(NOW - 10**8)}
    assert freshness_lifetime(status=200, response_cc=cc(), response_headers=old) == 24 * 3600


def test_age_follows_rfc_9111() -> None:
    headers = {"date": http_date(NOW - 10), "age": "30"}
    # apparent age 10 s, corrected age 30 + 2 s of delay, then 100 s resident.
    assert (
        current_age(response_headers=headers, request_time=NOW - 2, response_time=NOW, now=NOW + 100) == 132
    )
    assert current_age(response_headers={}, request_time=NOW, response_time=NOW, now=NOW + 5) == 5


def test_reuse() -> None:
    assert reuse(lifetime=60, age=10, request_cc=cc(), response_cc=cc()).serve
    assert reuse(lifetime=60, age=70, request_cc=cc(), response_cc=cc()).revalidate
    assert reuse(lifetime=60, age=10, request_cc=cc(), response_cc=cc("no-cache")).revalidate
    assert reuse(lifetime=60, age=10, request_cc=cc("no-cache"), response_cc=cc()).revalidate
    assert reuse(lifetime=60, age=10, request_cc=cc("max-age=5"), response_cc=cc()).revalidate
    assert reuse(lifetime=60, age=50, request_cc=cc("min-fresh=20"), response_cc=cc()).revalidate
    assert reuse(lifetime=60, age=70, request_cc=cc("max-stale=20"), response_cc=cc()).serve
    assert reuse(
        lifetime=60, age=70, request_cc=cc("max-stale"), response_cc=cc("must-revalidate")
    ).revalidate
    assert reuse(lifetime=60, age=70, request_cc=cc("max-stale"), response_cc=cc("s-maxage=60")).revalidate


@given(
    st.floats(0, 1e6), st.floats(0, 1e6), st.sampled_from(["", "no-cache", "must-revalidate", "max-stale=10"])
)
def test_never_serves_past_lifetime_without_permission(lifetime: float, age: float, request: str) -> None:
    verdict = reuse(lifetime=lifetime, age=age, request_cc=cc(request), response_cc=cc())
    assert verdict.serve != verdict.revalidate
    if verdict.serve and age >= lifetime:
        assert request == "max-stale=10" and age - lifetime <= 10


# --- dates (RFC 9110 section 5.6.7, RFC 9111 section 5.3) -----------------------------------------

SUNDAY = 784111777.0  # Sun, 06 Nov 1994 08:49:37 GMT


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "  Sun, 06 Nov 1994 08:49:37 GMT ",  # optional whitespace around a field value
    ],
)
def test_the_three_http_date_forms_are_dates(value: str) -> None:
    assert parse_http_date(value, now=NOW) == SUNDAY


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "-1",
        "now",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 +0000",
        "Sun, 06 Nov 1994 08:49:37",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun,  06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",  # two lines joined
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "1994-11-06T08:49:37Z",
        "Sun, 06 Nov 1994 08:49:37 GMT\x00",
        "Sun, \uff106 Nov 1994 08:49:37 GMT",  # a digit outside ASCII
        "Sun, ²6 Nov 1994 08:49:37 GMT",
    ],
)
def test_anything_else_is_not_a_date(value: str) -> None:
    assert parse_http_date(value, now=NOW) is None


@given(st.integers(-2_000_000_000, 250_000_000_000))
def test_every_form_reads_back_what_was_written(timestamp: int) -> None:
    moment = time.gmtime(timestamp)
    assert parse_http_date(format_http_date(timestamp)) == timestamp
    assert format_http_date(timestamp) == formatdate(timestamp, usegmt=True)
    asctime = time.strftime("%a %b ", moment) + f"{moment.tm_mday:2d}" + time.strftime(" %H:%M:%S %Y", moment)
    assert parse_http_date(asctime) == timestamp
    rfc850 = time.strftime("%A, %d-%b-%y %H:%M:%S GMT", moment)
    now = float(timestamp)  # a two-digit year is read within 50 years of now
    assert parse_http_date(rfc850, now=now) == timestamp


def test_a_two_digit_year_far_ahead_is_in_the_past() -> None:
    now = parse_http_date("Mon, 07 Dec 2026 00:00:00 GMT")
    assert now is not None
    assert parse_http_date("Monday, 07-Dec-76 00:00:00 GMT", now=now) == parse_http_date(
        "Mon, 07 Dec 2076 00:00:00 GMT"
    )
    assert parse_http_date("Saturday, 07-Dec-77 00:00:00 GMT", now=now) == parse_http_date(
        "Sat, 07 Dec 1977 00:00:00 GMT"
    )


@pytest.mark.parametrize(
    "expires",
    [
        "0",
        "-1",
        "Sun, 06 Nov 2094 08:49:37 UTC",
        "Tomorrow",
        # Several Expires lines: the cache sees them joined, as one invalid value.
        f"{http_date(NOW + 600)}, {http_date(NOW + 600)}",
        f"{http_date(NOW + 600)}, {http_date(NOW + 60)}",
    ],
)
def test_an_invalid_expires_means_already_expired(expires: str) -> None:
    headers = {"date": http_date(NOW), "expires": expires}
    assert freshness_lifetime(status=200, response_cc=cc(), response_headers=headers, received=NOW) == 0
    # and it is never a reason to use heuristics instead
    headers["last-modified"] = http_date(NOW - 10_000)
    assert freshness_lifetime(status=200, response_cc=cc(), response_headers=headers, received=NOW) == 0


def test_expires_without_date_counts_from_receipt() -> None:
    headers = {"expires": http_date(NOW + 300)}
    assert freshness_lifetime(status=200, response_cc=cc(), response_headers=headers, received=NOW) == 300
    headers["date"] = "yesterday"  # an invalid Date is no Date
    assert freshness_lifetime(status=200, response_cc=cc(), response_headers=headers, received=NOW) == 300


def test_max_age_and_s_maxage_override_expires() -> None:
    headers = {"date": http_date(NOW), "expires": "0"}
    assert freshness_lifetime(status=200, response_cc=cc("max-age=30"), response_headers=headers) == 30
    assert freshness_lifetime(status=200, response_cc=cc("s-maxage=40"), response_headers=headers) == 40


def test_heuristics_only_for_heuristically_cacheable_statuses() -> None:
    modified = {"date": http_date(NOW), "last-modified": http_date(NOW - 1000)}
    for status in (200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501):
        assert freshness_lifetime(status=status, response_cc=cc(), response_headers=modified) > 0
    for status in (302, 303, 307, 400, 403, 500, 503):
        assert freshness_lifetime(status=status, response_cc=cc(), response_headers=modified) == 0
    # an explicit lifetime, even one of 0, rules heuristics out
    assert freshness_lifetime(status=200, response_cc=cc("max-age=0"), response_headers=modified) == 0
    assert freshness_lifetime(status=200, response_cc=cc("max-age=abc"), response_headers=modified) == 0


# --- Age (RFC 9111 section 5.1) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30", 30.0),
        ("7200, 0", 7200.0),  # a list, or two lines joined: the first member
        ("0, 7200", 0.0),
        (" 15 ", 15.0),
        ("99999999999999999999999999", float(ANY_STALENESS)),
        ("9" * 5000, float(ANY_STALENESS)),
        ("abc", None),
        ("-5", None),
        ("1.5", None),
        ("²", None),
        ("", None),
        (None, None),
    ],
)
def test_age_values(value: str | None, seconds: float | None) -> None:
    assert parse_age(value) == seconds


def test_the_first_age_counts_and_an_invalid_one_is_ignored() -> None:
    def age(value: str) -> float:
        return current_age(response_headers={"age": value}, request_time=NOW, response_time=NOW, now=NOW)

    assert age("7200, 0") == 7200
    assert age("bogus") == 0
    assert age("9" * 100) == ANY_STALENESS


def test_delta_seconds() -> None:
    assert delta_seconds("0") == 0
    assert delta_seconds("000000000000000000060") == 60
    assert delta_seconds("2147483649") == ANY_STALENESS
    assert delta_seconds("1" * 10_000) == ANY_STALENESS
    for bad in (None, "", "-1", "+1", "1e3", "0x10", "¹", "\u0661"):
        assert delta_seconds(bad) == -1, bad


# --- directives (RFC 9111 section 5.2) ------------------------------------------------------------


def test_invalid_and_repeated_directive_values() -> None:
    assert cc('max-age="10"').max_age == 10  # the quoted-string form is accepted
    assert cc("max-age=").max_age == 0
    assert cc("max-age").max_age == 0
    assert cc("max-age=²").max_age == 0  # int() would refuse it: no crash, stale
    assert cc("s-maxage=10", "s-maxage=20").s_maxage == 0
    # a request's repeated limits take the most restrictive value
    assert cc("max-stale=10, max-stale=5").max_stale == 5
    assert cc("min-fresh=10", "min-fresh=50").min_fresh == 50
    assert cc("stale-while-revalidate=60, stale-while-revalidate=5").stale_while_revalidate == 5
    assert cc("stale-if-error=x").stale_if_error == 0
    assert cc('no-cache="set-cookie", private="x, y"').no_cache


def test_conflicting_lifetimes_make_a_response_stale() -> None:
    lifetime = freshness_lifetime(
        status=200, response_cc=cc("max-age=600", "max-age=60"), response_headers={}
    )
    assert lifetime == 0
    assert reuse(lifetime=lifetime, age=0, request_cc=cc(), response_cc=cc()).revalidate


def test_no_cache_wins_over_max_age() -> None:
    verdict = reuse(lifetime=600, age=0, request_cc=cc(), response_cc=cc("max-age=600, no-cache"))
    assert verdict.revalidate


# --- Vary (RFC 9111 section 4.1) ------------------------------------------------------------------


@pytest.mark.parametrize("vary", ["*", "*, Accept", "Accept, *", "Accept,*", "accept , * ", "Accept, Foo, *"])
def test_vary_with_a_star_member_is_never_stored(vary: str) -> None:
    assert "*" in vary_members(vary)
    result = storability(
        method="GET",
        status=200,
        request_cc=cc(),
        response_cc=cc("public, max-age=60"),
        response_headers={"vary": vary},
        request_has_authorization=False,
    )
    assert not result.storable


@given(st.lists(st.sampled_from(["Accept", "*", "Cookie", " * ", "x-a"]), min_size=1, max_size=5))
def test_no_vary_list_with_a_star_is_stored(members: list[str]) -> None:
    result = storability(
        method="GET",
        status=200,
        request_cc=cc(),
        response_cc=cc("public, max-age=60"),
        response_headers={"vary": ", ".join(members)},
        request_has_authorization=False,
    )
    assert result.storable is not any(m.strip() == "*" for m in members)


def test_vary_members() -> None:
    assert vary_members("Accept-Encoding, accept-language,,") == ("accept-encoding", "accept-language")
    assert vary_members("") == ()


# --- CDN-Cache-Control (RFC 9213) ---------------------------------------------------------------


def test_cdn_cache_control_replaces_cache_control_and_expires() -> None:
    headers = [
        ("Cache-Control", "private, no-store"),
        ("Expires", "0"),
        ("CDN-Cache-Control", "max-age=600"),
    ]
    directives = response_cache_control(headers)
    assert directives.targeted and directives.max_age == 600
    assert not directives.private and not directives.no_store
    lowered = {"cache-control": "private, no-store", "expires": "0", "date": http_date(NOW)}
    assert storability(
        method="GET",
        status=200,
        request_cc=cc(),
        response_cc=directives,
        response_headers=lowered,
        request_has_authorization=False,
    ).storable
    assert freshness_lifetime(status=200, response_cc=directives, response_headers=lowered) == 600
    # Expires is ignored even when the targeted field gives no lifetime of its own.
    only_flags = response_cache_control([("CDN-Cache-Control", "public"), ("Expires", "0")])
    modified = {"expires": "0", "date": http_date(NOW), "last-modified": http_date(NOW - 1000)}
    assert freshness_lifetime(status=200, response_cc=only_flags, response_headers=modified) == pytest.approx(
        100
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("no-store", "no_store"),
        ("no-cache", "no_cache"),
        ("private", "private"),
        ("must-revalidate", "must_revalidate"),
        ('private="set-cookie"', "private"),
    ],
)
def test_cdn_cache_control_directives_a_cache_must_implement(value: str, expected: str) -> None:
    directives = response_cache_control(
        [("Cache-Control", "public, max-age=600"), ("CDN-Cache-Control", value)]
    )
    assert directives.targeted and getattr(directives, expected)
    assert directives.max_age is None and not directives.public


@pytest.mark.parametrize(
    "value",
    ["", "   ", "max-age=60,", "Max-Age=60", "max-age=60;;", 'max-age="60', "max-age=60 max-age=1", "é"],
)
def test_an_empty_or_unparsable_cdn_cache_control_is_ignored(value: str) -> None:
    assert parse_targeted([value]) is None
    directives = response_cache_control([("Cache-Control", "max-age=30"), ("CDN-Cache-Control", value)])
    assert not directives.targeted and directives.max_age == 30


def test_cdn_cache_control_field_lines_are_one_dictionary() -> None:
    directives = response_cache_control(
        [("CDN-Cache-Control", "max-age=60"), ("cdn-cache-control", "stale-while-revalidate=30")]
    )
    assert (directives.max_age, directives.stale_while_revalidate) == (60, 30)
    # a lifetime that is not a non-negative Integer is malformed: stale; a huge one saturates
    for malformed in ("max-age=1.5", "max-age=-1", 'max-age="60"', "max-age=?1", "max-age=(1 2)"):
        directives = parse_targeted([malformed])
        assert directives is not None and directives.max_age == 0, malformed
    huge = parse_targeted(["max-age=999999999999999"])
    assert huge is not None and huge.max_age == ANY_STALENESS


# --- serving stale (RFC 9111 section 4.2.4, RFC 5861) ---------------------------------------------


def test_stale_while_revalidate_serves_within_the_window_and_revalidates() -> None:
    swr = cc("max-age=60, stale-while-revalidate=30")
    within = reuse(lifetime=60, age=80, request_cc=cc(), response_cc=swr)
    assert within.serve and within.background and not within.revalidate
    assert reuse(lifetime=60, age=90, request_cc=cc(), response_cc=swr).background
    beyond = reuse(lifetime=60, age=91, request_cc=cc(), response_cc=swr)
    assert beyond.revalidate and not beyond.serve and not beyond.background
    fresh = reuse(lifetime=60, age=10, request_cc=cc(), response_cc=swr)
    assert fresh.serve and not fresh.background


@pytest.mark.parametrize("response", ["must-revalidate", "proxy-revalidate", "s-maxage=60", "no-cache"])
def test_nothing_serves_stale_what_must_be_revalidated(response: str) -> None:
    directives = cc(f"max-age=60, {response}, stale-while-revalidate=600, stale-if-error=600")
    lifetime = 60.0
    for request in ("", "max-stale", "max-stale=1000", "stale-if-error=1000"):
        verdict = reuse(lifetime=lifetime, age=61, request_cc=cc(request), response_cc=directives)
        assert verdict.revalidate and not verdict.serve and not verdict.background, (response, request)
        assert not serve_on_error(lifetime=lifetime, age=61, request_cc=cc(request), response_cc=directives)


@pytest.mark.parametrize("request_value", ["no-cache", "max-age=0", "max-age=70", "min-fresh=1"])
def test_a_request_that_refuses_stale_is_not_served_stale(request_value: str) -> None:
    swr = cc("max-age=60, stale-while-revalidate=30")
    verdict = reuse(lifetime=60, age=65, request_cc=cc(request_value), response_cc=swr)
    assert verdict.revalidate and not verdict.serve


def test_stale_if_error() -> None:
    sie = cc("max-age=60, stale-if-error=30")
    assert serve_on_error(lifetime=60, age=85, request_cc=cc(), response_cc=sie)
    assert not serve_on_error(lifetime=60, age=95, request_cc=cc(), response_cc=sie)
    assert not serve_on_error(lifetime=60, age=65, request_cc=cc(), response_cc=cc("max-age=60"))
    # the request's own value overrides the response's
    assert not serve_on_error(lifetime=60, age=65, request_cc=cc("stale-if-error=1"), response_cc=sie)
    assert serve_on_error(lifetime=60, age=200, request_cc=cc("stale-if-error=500"), response_cc=cc())
    assert not serve_on_error(lifetime=60, age=65, request_cc=cc("no-cache"), response_cc=sie)


# --- Authorization (RFC 9111 section 3.5) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "storable"),
    [
        ("max-age=60", False),
        ("public, max-age=60", True),
        ("s-maxage=60", True),
        ("must-revalidate, max-age=60", True),
        ("proxy-revalidate, max-age=60", False),
        ("public, private, max-age=60", False),
    ],
)
def test_requests_with_authorization(response: str, storable: bool) -> None:
    result = storability(
        method="GET",
        status=200,
        request_cc=cc(),
        response_cc=cc(response),
        response_headers={},
        request_has_authorization=True,
    )
    assert result.storable is storable, result.reason


# --- linear time on hostile values ----------------------------------------------------------------


@contextmanager
def hard_timeout(seconds: float) -> Iterator[None]:
    """Fail the block when it runs longer than ``seconds`` (a guard against super-linear parsing,
    not a benchmark: the bound is generous, and the alarm interrupts a parser that hangs)."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"parsing took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


HOSTILE_PIECES = st.sampled_from(
    ['"', "\\", ",", "=", " ", "\t", "max-age=", 'no-cache="', "9", "Sun, ", "a", "*", ";", "?1", "(", "é"]
)
hostile = st.builds(
    lambda pieces, repeat: "".join(pieces) * repeat,
    st.lists(HOSTILE_PIECES, min_size=1, max_size=6),
    st.integers(1, 20_000),
)


@settings(max_examples=40, deadline=None)
@given(hostile)
def test_parsers_take_linear_time_on_long_hostile_values(value: str) -> None:
    with hard_timeout(5.0):
        parse_cache_control([value])
        parse_cache_control([value, value])
        parse_targeted([value])
        response_cache_control([("Cache-Control", value), ("CDN-Cache-Control", value)])
        parse_http_date(value)
        parse_age(value)
        vary_members(value)
        delta_seconds(value)


def test_the_worst_values_we_know_of_stay_fast() -> None:
    worst = [
        '"' + "\\" * 200_000,
        "a=" + '"' * 200_000,
        "," * 400_000,
        "max-age=" + "9" * 400_000,
        "9" * 400_000,
        "a=(" * 100_000,
    ]
    with hard_timeout(10.0):
        for value in worst:
            parse_cache_control([value])
            parse_targeted([value])
            parse_age(value)
            parse_http_date(value)


@given(st.text(max_size=200))
def test_parsers_never_raise(value: str) -> None:
    parse_cache_control([value])
    parse_targeted([value])
    parse_http_date(value)
    parse_age(value)
    vary_members(value)


@given(st.floats(0, 1e6), st.floats(0, 1e6), st.integers(0, 1000), st.integers(0, 1000))
def test_stale_only_within_a_window_the_origin_or_client_gave(
    lifetime: float, age: float, swr: int, max_stale: int
) -> None:
    response = cc(f"stale-while-revalidate={swr}")
    request = cc(f"max-stale={max_stale}")
    for request_cc in (cc(), request):
        verdict = reuse(lifetime=lifetime, age=age, request_cc=request_cc, response_cc=response)
        assert verdict.serve != verdict.revalidate
        if verdict.serve and age >= lifetime:
            allowed = max(swr, max_stale if request_cc is request else 0)
            assert age - lifetime <= allowed


def test_time_guard_fires() -> None:
    with pytest.raises(TimeoutError), hard_timeout(0.05):
        time.sleep(1)


@pytest.mark.parametrize(
    ("stored_etag", "stored_modified", "fields", "updates"),
    [
        ('"a"', None, [("ETag", '"a"')], True),
        ('"a"', None, [("ETag", '"b"')], False),
        ('W/"a"', None, [("ETag", 'W/"a"')], True),
        ('"a"', None, [("ETag", 'W/"a"')], True),  # a weak validator compares weakly
        ('W/"a"', None, [("ETag", '"a"')], False),  # a strong one identifies only strong matches
        (None, "Sun, 06 Nov 1994 08:49:37 GMT", [("ETag", '"a"')], False),
        (None, "Sun, 06 Nov 1994 08:49:37 GMT", [("Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT")], True),
        (None, "Sun, 06 Nov 1994 08:49:37 GMT", [("Last-Modified", "Mon, 07 Nov 1994 08:49:37 GMT")], False),
        ('"a"', None, [("Cache-Control", "max-age=60")], True),
    ],
)
def test_a_304_updates_only_the_response_it_identifies(
    stored_etag: str | None, stored_modified: str | None, fields: list[tuple[str, str]], updates: bool
) -> None:
    assert freshens(stored_etag=stored_etag, stored_last_modified=stored_modified, fields=fields) is updates
