"""Every notice has a measured deadline; ``staydown timers run --as-of`` fires it as of any instant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import httpx

from staydown.api.metrics import ApiMetrics, MetricsListener
from tests.conftest import Api
from tests.support import active_zone, notice_body


def timers_run(api: Api, as_of: str) -> dict[str, object]:
    env = {**os.environ, "STAYDOWN_DATABASE_URL": str(api.database.engine.url.render_as_string(False))}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "staydown.cli",
            "timers",
            "run",
            "--as-of",
            as_of,
            "--data-dir",
            str(api.settings.data_dir),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_overdue_notice_is_recorded_when_its_deadline_fires(api: Api) -> None:
    active_zone(api, "late.example.test")
    notice = (
        api.as_("submitter").post("/v1/notices", json=notice_body(["http://late.example.test/a.jpg"])).json()
    )
    deadline = notice["deadline_at"]
    assert notice["overdue"] is False
    received = api.clock()
    assert deadline.startswith((received + timedelta(hours=24)).date().isoformat())

    assert timers_run(api, (received + timedelta(hours=23)).isoformat())["ran"] == 0
    assert timers_run(api, (received + timedelta(hours=25)).isoformat())["ran"] == 1
    assert timers_run(api, (received + timedelta(hours=26)).isoformat())["ran"] == 0
    trail = api.as_("agent").get(f"/v1/audit/notice/{notice['id']}").json()
    assert trail[-1]["action"] == "notice.overdue"
    assert trail[-1]["data"]["pending_items"] == 1
    outbox = api.as_("agent").get("/v1/outbox", params={"notice_id": notice["id"]}).json()
    assert any(
        m["kind"] == "notice_overdue" and m["recipient"] == api.settings.abuse_desk_email for m in outbox
    )

    api.clock.advance(hours=30)
    late = api.as_("agent").get(f"/v1/notices/{notice['id']}").json()
    assert late["overdue"] is True
    with MetricsListener(ApiMetrics(api.database, api.clock).registry, host="127.0.0.1", port=0) as metrics:
        assert "staydown_notices_overdue 1.0" in httpx.get(metrics.url).text
    item = late["items"][0]["id"]
    decided = (
        api.as_("agent")
        .post(
            f"/v1/notices/{notice['id']}/decision",
            json={"items": {str(item): "action"}, "reason": "late but valid"},
        )
        .json()
    )
    assert decided["time_to_action_seconds"] == 30 * 3600
    assert decided["overdue"] is True  # decided after its deadline, and the record says so


def test_deadline_timer_is_cancelled_when_the_notice_is_decided_in_time(api: Api) -> None:
    active_zone(api, "prompt.example.test")
    notice = (
        api.as_("submitter")
        .post("/v1/notices", json=notice_body(["http://prompt.example.test/a.jpg"]))
        .json()
    )
    api.clock.advance(hours=1)
    item = notice["items"][0]["id"]
    api.as_("agent").post(
        f"/v1/notices/{notice['id']}/decision", json={"items": {str(item): "reject"}, "reason": "no"}
    )
    assert timers_run(api, (api.clock() + timedelta(days=2)).isoformat())["ran"] == 0
    decided = api.as_("agent").get(f"/v1/notices/{notice['id']}").json()
    assert (decided["status"], decided["overdue"], decided["time_to_action_seconds"]) == (
        "rejected",
        False,
        None,
    )
