"""Long decisions in the desk run in chunks with a progress record: each chunk decides its items
whole, the record says how far it got, items decided meanwhile are skipped, a refusal stops it."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest

from staydown.desk import decisions
from staydown.desk.models import DecisionJob
from tests.conftest import Api
from tests.desk.support import DeskClient
from tests.support import active_zone, notice_body


def pending_notice(api: Api, host: str, count: int) -> dict[str, Any]:
    active_zone(api, host)
    urls = [f"http://{host}/page-{i}.jpg" for i in range(count)]
    notice = api.as_("submitter").post("/v1/notices", json=notice_body(urls)).json()
    assert {i["status"] for i in notice["items"]} == {"pending_review"}
    return notice


def statuses(api: Api, notice_id: int) -> list[str]:
    view = api.as_("agent").get(f"/v1/notices/{notice_id}").json()
    return [item["status"] for item in view["items"]]


def test_chunks_advance_the_record_and_skip_what_was_decided_meanwhile(api: Api) -> None:
    notice = pending_notice(api, "chunks.example", 5)
    ids = [item["id"] for item in notice["items"]]
    assert decisions.needs_job(251) and not decisions.needs_job(250)
    job = decisions.create(
        api.database, notice["id"], ids, verdict="action", reason="copies", actor="key:1", now=api.clock.now
    )
    assert decisions.claim(api.database, job, now=api.clock.now)
    assert not decisions.claim(api.database, job, now=api.clock.now)  # leased: one runner only
    assert decisions.step(api.database, job, now=api.clock.now, settings=api.settings, chunk=2)
    progress = decisions.read(api.database, job)
    assert progress is not None and (progress.done, progress.status) == (2, "running")
    assert statuses(api, notice["id"]) == [
        "actioned",
        "actioned",
        "pending_review",
        "pending_review",
        "pending_review",
    ]
    # Someone rejects the fourth item over the API while the job runs.
    api.clock.advance(seconds=1)
    api.as_("agent").post(
        f"/v1/notices/{notice['id']}/decision", json={"items": {ids[3]: "reject"}, "reason": "not a copy"}
    ).raise_for_status()
    while decisions.step(api.database, job, now=api.clock.now, settings=api.settings, chunk=2):
        pass
    progress = decisions.read(api.database, job)
    assert progress is not None
    assert (progress.status, progress.done, progress.skipped, progress.percent) == ("done", 5, 1, 100)
    assert str(progress.summary).startswith("4 item(s) actioned (1 decided by someone else")
    assert statuses(api, notice["id"]) == ["actioned", "actioned", "actioned", "rejected", "actioned"]


def test_a_refused_chunk_stops_the_job_with_the_reason(api: Api) -> None:
    notice = pending_notice(api, "refused.example", 3)
    ids = [item["id"] for item in notice["items"]]
    job = decisions.create(
        api.database, notice["id"], ids, verdict="inquire", reason="ask", actor="key:1", now=api.clock.now
    )
    decisions.run(api.database, job, clock=api.clock, settings=api.settings, chunk=2)
    progress = decisions.read(api.database, job)
    assert progress is not None and progress.status == "failed" and progress.done == 0
    assert "Japanese" in (progress.error or "")
    assert statuses(api, notice["id"]) == ["pending_review"] * 3  # nothing of the refused chunk


def test_the_desk_runs_a_long_decision_as_a_job_and_reports_it(api: Api) -> None:
    notice = pending_notice(api, "long.example", 260)
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["agent"])
    answer = desk.post(
        f"/desk/notices/{notice['id']}/decision",
        {"verdict": "action", "reason": "all copies", "scope": "all_pending"},
    )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/desk/decisions/")
    page = desk.get(answer.headers["location"])
    assert page.status_code == 200 and "<progress" in page.text and 'role="status"' in page.text
    job_id = int(answer.headers["location"].rsplit("/", 1)[1])
    deadline = time.monotonic() + 60  # the runner thread commits chunk by chunk
    while (figures := desk.get(f"/desk/decisions/{job_id}/progress").json())["status"] == "running":
        assert time.monotonic() < deadline, figures
        time.sleep(0.05)
    assert figures == {
        "status": "done",
        "done": 260,
        "total": 260,
        "percent": 100,
        "summary": "260 item(s) actioned.",
    }
    back = desk.get(f"/desk/decisions/{job_id}/finished")
    assert back.status_code == 303 and back.headers["location"] == f"/desk/notices/{notice['id']}"
    assert set(statuses(api, notice["id"])) == {"actioned"}
    with api.database.reader() as session:
        assert session.get(DecisionJob, job_id) is not None
    other = DeskClient(api)
    other.sign_in_with_key(api.keys["submitter"])
    assert other.get(f"/desk/decisions/{job_id}/progress").status_code == 403
    assert desk.get("/desk/decisions/999999").status_code == 404


RUNNER = """
import sys
from datetime import UTC, datetime

from staydown import assembly
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.desk import decisions

settings = Settings.model_validate_json(sys.stdin.read())
assembly.install(settings)
database = Database.from_url(settings.database_url)
job = int(sys.argv[1])
while decisions.step(database, job, now=datetime.now(UTC), settings=settings, chunk=3):
    pass
"""


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_runner_processes_on_postgres_take_each_chunk_once(api: Api) -> None:
    # A runner whose lease ran out while it was still working meets the one that took over: the
    # job's row, locked per chunk, lets each chunk be decided by one of them only.
    notice = pending_notice(api, "race.example", 60)
    ids = [item["id"] for item in notice["items"]]
    job = decisions.create(
        api.database, notice["id"], ids, verdict="action", reason="copies", actor="key:1", now=api.clock.now
    )
    settings = api.settings.model_dump_json()
    runners = [
        subprocess.Popen([sys.executable, "-c", RUNNER, str(job)], stdin=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        for runner in runners:
            assert runner.stdin is not None
            runner.stdin.write(settings)
            runner.stdin.close()
        for runner in runners:
            assert runner.wait(timeout=120) == 0
    finally:
        for runner in runners:
            runner.kill()
    progress = decisions.read(api.database, job)
    assert progress is not None
    assert (progress.status, progress.done, progress.skipped) == ("done", 60, 0)
    assert set(statuses(api, notice["id"])) == {"actioned"}
