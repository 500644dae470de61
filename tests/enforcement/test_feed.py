"""The enforcement feed: ordered, gap-free under concurrent writers, resumable, long-polled."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from staydown.config import Settings
from tests.conftest import Api
from tests.support import active_zone, notice_body


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """A policy that never suspends, so many notices against one zone keep it live."""
    policy = tmp_path / "lenient.toml"
    policy.write_text(
        "[repeat_infringer]\nwarning_strikes = 1000\n[repeat_infringer.suspension]\nstrikes = 1000\n"
        "[repeat_infringer.termination]\nstrikes = 1000\n"
    )
    return settings.model_copy(update={"policy_file": policy})


def read_all(api: Api, *, limit: int = 7) -> list[dict]:
    records, after = [], 0
    with api.as_("edge") as edge:
        while True:
            page = edge.get("/v1/edge/feed", params={"after": after, "limit": limit}).json()
            if not page["records"]:
                assert page["last"] == after == page["head"]
                return records
            records += page["records"]
            after = page["last"]


def test_concurrent_writers_leave_no_gaps(api: Api) -> None:
    active_zone(api, "busy.example.test")

    def submit(n: int) -> int:
        with api.as_("trusted_flagger") as client:
            urls = [f"http://busy.example.test/{n}/{i}.jpg" for i in range(5)]
            return client.post("/v1/notices", json=notice_body(urls)).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(submit, range(24))) == {201}
    records = read_all(api)
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    blocks = [r for r in records if r["kind"] == "block"]
    assert len(blocks) == 24 * 5
    assert len({r["target"] for r in blocks}) == 120
    by_notice: dict[int, list[int]] = {}
    for r in blocks:
        by_notice.setdefault(r["notice_id"], []).append(r["seq"])
    for seqs in by_notice.values():  # one notice's records are contiguous: one transaction each
        assert seqs == list(range(seqs[0], seqs[0] + 5))


def test_long_poll_wakes_on_commit(api: Api) -> None:
    active_zone(api, "wait.example.test")
    head = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["head"]
    result: dict = {}

    def poll() -> None:
        started = time.perf_counter()
        with api.as_("edge") as edge:
            result["page"] = edge.get("/v1/edge/feed", params={"after": head, "wait": 20}).json()
        result["waited"] = time.perf_counter() - started

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.3)
    sent = time.perf_counter()
    api.as_("trusted_flagger").post("/v1/notices", json=notice_body(["http://wait.example.test/x.jpg"]))
    poller.join(10)
    assert result["page"]["records"][0]["kind"] == "block"
    assert result["page"]["records"][0]["seq"] == head + 1
    assert result["waited"] < 5
    assert time.perf_counter() - sent < 5


def test_long_poll_times_out_empty(api: Api) -> None:
    started = time.perf_counter()
    page = api.as_("edge").get("/v1/edge/feed", params={"after": 0, "wait": 0.5}).json()
    assert page == {"records": [], "last": 0, "head": 0}
    assert 0.4 < time.perf_counter() - started < 5


def test_reader_ahead_of_the_log_must_resync(api: Api) -> None:
    r = api.as_("edge").get("/v1/edge/feed", params={"after": 10})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "feed_reset"
    assert api.as_("edge").get("/v1/edge/feed", params={"after": -1}).status_code == 422


def test_block_records_carry_what_an_edge_needs(api: Api) -> None:
    zone = active_zone(api, "rec.example.test")
    notice = (
        api.as_("trusted_flagger")
        .post("/v1/notices", json=notice_body(["https://REC.example.test:443/a/../b.jpg?size=2"]))
        .json()
    )
    [record] = [r for r in read_all(api) if r["kind"] == "block"]
    assert record | {"seq": 0, "at": ""} == {
        "seq": 0,
        "kind": "block",
        "at": "",
        "zone_id": zone["zone_id"],
        "target": "/b.jpg?size=2",
        "url": "https://rec.example.test/b.jpg?size=2",
        "notice_id": notice["id"],
        "item_id": notice["items"][0]["id"],
        "reason": f"notice {notice['id']}",
    }
