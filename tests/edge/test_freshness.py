"""RFC 9111 decisions of the edge's shared cache."""

from __future__ import annotations

from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staydown.edge.freshness import (
    ANY_STALENESS,
    CacheControl,
    current_age,
    freshness_lifetime,
    parse_cache_control,
    reuse,
    storability,
)

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
    conflicting = cc("max-age=600", "max-age=60")
    assert conflicting.max_age == 60 and conflicting.conflicting == frozenset({"max-age"})
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
