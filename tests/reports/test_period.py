"""Report periods at the edges of the calendar, over HTTP: a period may end on 9999-12-31."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import Api
from tests.support import notice_body


@pytest.mark.parametrize("path", ["/v1/reports/transparency", "/v1/reports/transparency.html"])
def test_a_period_may_end_on_the_last_day_of_9999(api: Api, path: str) -> None:
    api.clock.now = datetime(9999, 6, 1, 12, tzinfo=UTC)
    r = api.as_("submitter").post("/v1/notices", json=notice_body(["http://x.test/a"]))
    assert r.status_code == 201, r.text
    r = api.as_("agent").get(path, params={"from": "9998-01-01", "to": "9999-12-31"})
    assert r.status_code == 200, r.text
    if path.endswith(".html"):
        assert "Transparency report 9998-01-01 to 9999-12-31" in r.text
        assert "9999-12-31T23:59:59.999999+00:00 (end excluded)" in r.text
    else:
        report = r.json()
        assert report["period_to"] == "9999-12-31T23:59:59.999999Z"
        assert report["notices"]["total"] == 1


@pytest.mark.parametrize("path", ["/v1/reports/transparency", "/v1/reports/transparency.html"])
def test_periods_out_of_reach_are_refused_with_the_reason(api: Api, path: str) -> None:
    agent = api.as_("agent")
    r = agent.get(path, params={"from": "2026-01-01", "to": "9999-12-31"})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == {
        "code": "invalid_period",
        "message": "a report covers at most three years",
        "details": None,
    }
    r = agent.get(path, params={"from": "9999-12-31T23:00:00-05:00", "to": "9999-12-31"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_period"
    assert "outside the years 1 to 9999" in r.json()["error"]["message"]
    r = agent.get(path, params={"from": "0001-01-01T00:00:00+05:00", "to": "0001-02-01"})
    assert r.status_code == 422, r.text
    assert "outside the years 1 to 9999" in r.json()["error"]["message"]
