"""The bulk-sender contract over HTTP: Idempotency-Key on POST /v1/notices, external ids on notices
and items, finding items by any spelling of their URL, and per-item rejection of bad URLs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from staydown.db.engine import Database
from staydown.notices.models import IdempotentSubmission, Notice
from staydown.worker import run_retention
from tests.conftest import Api, Clock, _truncate_postgres, make_keys
from tests.processes import STAYDOWN
from tests.support import active_zone, notice_body

HOST = "manga.example.test"


@pytest.fixture
def zone(api: Api) -> dict[str, Any]:
    return active_zone(api, HOST)


def _notices(api: Api) -> int:
    with api.database.reader() as session:
        return int(session.scalar(select(func.count()).select_from(Notice)) or 0)


def test_a_replay_under_the_same_key_gets_the_first_answer_and_no_second_notice(
    api: Api, zone: dict[str, Any]
) -> None:
    client = api.as_("submitter")
    body = notice_body([f"http://{HOST}/vol1/p{i}.jpg" for i in range(5)], external_id="case-77")
    first = client.post("/v1/notices", json=body, headers={"Idempotency-Key": "batch-1"})
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers

    # The notice moves on meanwhile; the replay still answers what the first request was answered.
    notice_id = first.json()["id"]
    item = first.json()["items"][0]["id"]
    decided = api.as_("agent").post(
        f"/v1/notices/{notice_id}/decision", json={"items": {str(item): "action"}, "reason": "copy"}
    )
    assert decided.status_code == 200, decided.text

    api.clock.advance(hours=23)
    again = client.post("/v1/notices", json=body, headers={"Idempotency-Key": "batch-1"})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert _notices(api) == 1

    # The same request with other spacing is the same request.
    spaced = client.post(
        "/v1/notices",
        content=json.dumps(body, indent=2).encode(),
        headers={"Idempotency-Key": "batch-1", "content-type": "application/json"},
    )
    assert spaced.status_code == 201 and spaced.json() == first.json()

    # Another key of the same role is another scope: its key of the same name is its own.
    other = api.as_("trusted_flagger").post("/v1/notices", json=body, headers={"Idempotency-Key": "batch-1"})
    assert other.status_code == 201 and other.json()["id"] != notice_id
    assert _notices(api) == 2


def test_the_same_key_with_another_body_is_refused_and_a_key_expires_after_a_day(
    api: Api, zone: dict[str, Any]
) -> None:
    client = api.as_("submitter")
    body = notice_body([f"http://{HOST}/a.jpg"])
    assert client.post("/v1/notices", json=body, headers={"Idempotency-Key": "k-1"}).status_code == 201

    changed = notice_body([f"http://{HOST}/b.jpg"])
    r = client.post("/v1/notices", json=changed, headers={"Idempotency-Key": "k-1"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "idempotency_key_reused"
    assert _notices(api) == 1

    for bad in (b"", b"x" * 256, b"spaced key", "ключ".encode()):
        r = client.post("/v1/notices", json=body, headers={"Idempotency-Key": bad})
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error"]["code"] == "invalid_idempotency_key"
    assert _notices(api) == 1

    # A refused request claims nothing: the key stays free for the corrected request.
    empty = client.post(
        "/v1/notices", json=notice_body(["ftp://x.example/a"]), headers={"Idempotency-Key": "k-2"}
    )
    assert empty.status_code == 422
    assert client.post("/v1/notices", json=body, headers={"Idempotency-Key": "k-2"}).status_code == 201

    api.clock.advance(hours=24, seconds=1)
    later = client.post("/v1/notices", json=changed, headers={"Idempotency-Key": "k-1"})
    assert later.status_code == 201 and "idempotent-replayed" not in later.headers
    assert _notices(api) == 3

    # The worker's retention drops the kept answers once their day is over.
    api.clock.advance(hours=24, seconds=1)
    assert run_retention(api.database, now=api.clock(), settings=api.settings)["idempotent_answers"] == 2
    with api.database.reader() as session:
        assert session.scalar(select(func.count()).select_from(IdempotentSubmission)) == 0


def test_external_ids_are_kept_and_searchable(api: Api, zone: dict[str, Any]) -> None:
    client = api.as_("submitter")
    body = notice_body([f"http://{HOST}/x/1.jpg", f"http://{HOST}/x/2.jpg"], external_id="MM-2026-0042")
    body["items"][0]["external_id"] = "row-1"
    created = client.post("/v1/notices", json=body).json()
    assert created["external_id"] == "MM-2026-0042"
    assert [i["external_id"] for i in created["items"]] == ["row-1", None]
    client.post("/v1/notices", json=notice_body([f"http://{HOST}/y.jpg"], external_id="other"))

    page = client.get("/v1/notices", params={"external_id": "MM-2026-0042"}).json()
    assert [n["id"] for n in page["notices"]] == [created["id"]] and page["total"] == 1
    assert page["notices"][0]["external_id"] == "MM-2026-0042"
    # Another submitter does not find it by its reference.
    assert (
        api.as_("trusted_flagger").get("/v1/notices", params={"external_id": "MM-2026-0042"}).json()["total"]
        == 0
    )
    read = client.get(f"/v1/notices/{created['id']}").json()
    assert read["external_id"] == "MM-2026-0042" and read["items"][0]["external_id"] == "row-1"

    for bad in (" ", "a\nb", "x" * 201):
        r = client.post("/v1/notices", json=notice_body([f"http://{HOST}/z.jpg"], external_id=bad))
        assert r.status_code == 422, bad


def test_items_are_found_by_any_spelling_of_their_url(api: Api, zone: dict[str, Any]) -> None:
    mine = api.as_("submitter").post(
        "/v1/notices",
        json=notice_body([f"http://{HOST}/chapter%2D1/./page.jpg?b=2", "http://elsewhere.example/Page.jpg"]),
    )
    assert mine.status_code == 201, mine.text
    theirs = api.as_("trusted_flagger").post(
        "/v1/notices", json=notice_body([f"http://{HOST}/chapter-1/page.jpg?b=2"])
    )
    assert theirs.status_code == 201

    spellings = [
        f"HTTP://{HOST.upper()}:80/chapter-1/page.jpg?b=2",
        f"http://{HOST}/chapter-1/x/../page.jpg?b=2",
        f"http://{HOST}/%63hapter-1/page.jpg?b=2",
    ]
    for spelling in spellings:
        found = api.as_("submitter").get("/v1/items", params={"url": spelling}).json()
        assert [(i["notice_id"], i["status"]) for i in found["items"]] == [
            (mine.json()["id"], "pending_review")
        ], spelling
        everyone = api.as_("agent").get("/v1/items", params={"url": spelling}).json()
        assert {i["notice_id"] for i in everyone["items"]} == {mine.json()["id"], theirs.json()["id"]}
        assert everyone["total"] == 2

    off_network = api.as_("submitter").get("/v1/items", params={"url": "http://ELSEWHERE.example/Page.jpg"})
    assert [i["status"] for i in off_network.json()["items"]] == ["not_on_network"]
    assert (
        api.as_("submitter").get("/v1/items", params={"url": f"http://{HOST}/page.JPG"}).json()["total"] == 0
    )
    assert (
        api.as_("submitter")
        .get("/v1/items", params={"url": f"http://{HOST}/chapter-1/page.jpg"})
        .json()["total"]
        == 0
    )  # another query is another resource

    # An item named before its host became a zone here is found once it is one.
    early = api.as_("submitter").post("/v1/notices", json=notice_body(["http://later.example.test/x.jpg"]))
    active_zone(api, "later.example.test")
    found = api.as_("submitter").get("/v1/items", params={"url": "http://LATER.example.test/x.jpg"}).json()
    assert [(i["notice_id"], i["zone_id"]) for i in found["items"]] == [(early.json()["id"], None)]

    bad = api.as_("submitter").get("/v1/items", params={"url": "ftp://x/"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_url"
    assert api.as_("edge").get("/v1/items", params={"url": spellings[0]}).status_code == 403


def test_a_large_notice_reports_each_bad_url_and_takes_the_rest(api: Api, zone: dict[str, Any]) -> None:
    urls = [f"http://{HOST}/bulk/{i}.jpg" for i in range(2000)]
    bad = {7: "ftp://x.example/a", 500: "http://u:p@x.example/", 1999: "http://x.example:99999/a"}
    for index, url in bad.items():
        urls[index] = url
    body = notice_body(urls)
    body["items"][500]["external_id"] = "row-501"
    r = api.as_("submitter").post("/v1/notices", json=body)
    assert r.status_code == 201, r.text[:500]
    notice = r.json()
    assert len(notice["items"]) == 1997 and notice["item_count"] == 1997
    assert [(e["index"], e["url"]) for e in notice["rejected"]] == sorted(bad.items())
    assert {e["code"] for e in notice["rejected"]} == {
        "scheme_not_allowed",
        "credentials_in_url",
        "invalid_port",
    }
    assert notice["rejected"][1]["external_id"] == "row-501"
    assert all(e["message"] for e in notice["rejected"])
    outbox = api.as_("agent").get("/v1/outbox").json()
    [receipt] = [m for m in outbox if m["kind"] == "notice_receipt"]
    assert "3 URL(s) could not be taken in" in receipt["body"]


# --- concurrent replays, as real API processes on PostgreSQL --------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def two_api_processes(
    postgres_database: str, tmp_path: Path
) -> Iterator[tuple[list[str], dict[str, str], str]]:
    database = Database.from_url(postgres_database)
    _truncate_postgres(database)
    keys = make_keys(database, Clock())
    database.dispose()
    env = {
        **os.environ,
        "STAYDOWN_DATA_DIR": str(tmp_path),
        "STAYDOWN_DATABASE_URL": postgres_database,
    }
    processes, urls, logs = [], [], []
    try:
        for index in range(2):
            port = _free_port()
            log = (tmp_path / f"api{index}.log").open("w")
            logs.append(log)
            processes.append(
                subprocess.Popen(
                    [*STAYDOWN, "api", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        for url in urls:
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "api0.log").read_text()
                time.sleep(0.1)
        yield urls, keys, postgres_database
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for log in logs:
            log.close()


@pytest.mark.postgres
def test_concurrent_replays_on_two_api_processes_create_one_notice(
    two_api_processes: tuple[list[str], dict[str, str], str],
) -> None:
    urls, keys, database_url = two_api_processes
    body = notice_body([f"http://race.example/{i}.jpg" for i in range(3000)], external_id="race")
    headers = {"authorization": f"Bearer {keys['submitter']}", "Idempotency-Key": "race-1"}
    answers: list[httpx.Response] = []
    start = threading.Barrier(8)

    def send(index: int) -> None:
        with httpx.Client(base_url=urls[index % 2], headers=headers, timeout=120) as client:
            start.wait()
            answers.append(client.post("/v1/notices", json=body))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert len(answers) == 8
    assert {r.status_code for r in answers} == {201}, [r.text[:300] for r in answers]
    assert len({r.content for r in answers}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in answers) == 7

    database = Database.from_url(database_url)
    try:
        with database.reader() as session:
            assert session.scalar(select(func.count()).select_from(Notice)) == 1
            assert session.scalar(select(func.count()).select_from(IdempotentSubmission)) == 1
    finally:
        database.dispose()
