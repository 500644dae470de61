"""A policy file sets the thresholds the policy enforces and the text it publishes."""

from __future__ import annotations

from pathlib import Path

import pytest

from staydown.config import Settings
from tests.conftest import Api
from tests.policy.test_api import strike, zone_statuses
from tests.support import active_zone, notice_body


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        "[repeat_infringer]\nwarning_strikes = 2\nurls_per_strike = 10\nmax_strikes_per_notice = 3\n"
        "[repeat_infringer.suspension]\nstrikes = 2\nwindow_days = 30\n"
        "[repeat_infringer.termination]\nstrikes = 4\nwindow_days = 60\nautomatic = false\n"
    )
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        policy_file=policy,
        origin_allow=["127.0.0.0/8"],  # type: ignore[list-item]  # the test's origin is on loopback
    )


def test_policy_file_sets_thresholds_and_published_text(api: Api) -> None:
    text = api.client().get("/v1/policy/repeat-infringer").text
    assert "2 strikes within 30 days suspend" in text
    assert "4 strikes within 60 days refer the account to an agent" in text
    zone = active_zone(api, "file.example.test")
    strike(api, zone, 1)
    strike(api, zone, 2)
    assert zone_statuses(api, zone["zone_id"])[-1] == "suspended"
    strike(api, zone, 3)
    strike(api, zone, 4)
    ledger = api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/strikes").json()
    assert ledger["steps"][-1]["kind"] == "termination_pending"
    assert zone_statuses(api, zone["zone_id"])[-1] == "suspended"


def test_the_policy_file_sets_how_a_notice_is_weighed(api: Api) -> None:
    assert "one strike for every 10 URL(s) actioned (rounded up), at most 3 for one notice" in (
        api.client().get("/v1/policy/repeat-infringer").text
    )
    zone = active_zone(api, "weighed.example.test")
    for n, prefix in ((25, "a"), (11, "b")):
        r = api.as_("trusted_flagger").post(
            "/v1/notices", json=notice_body([f"http://{zone['hostname']}/{prefix}/{i}.jpg" for i in range(n)])
        )
        assert r.json()["status"] == "actioned"
    book = api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/strikes").json()
    assert [(s["weight"], s["urls"]) for s in book["strikes"]] == [(3, 25), (2, 11)]
    assert [(s["kind"], s["strikes_counted"]) for s in book["steps"]] == [
        ("suspension", 3),
        ("termination_pending", 5),
    ]
