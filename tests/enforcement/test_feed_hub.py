"""The feed's waiting requests: one reader per process, woken across processes by PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from staydown.db.engine import Database
from staydown.enforcement import service
from staydown.enforcement.feed import FeedAhead, FeedHub
from staydown.feedrecords import FeedKind
from tests.conftest import Api
from tests.processes import another_api
from tests.support import active_zone, notice_body


def append_purge(database: Database, target: str) -> None:
    with database.transaction() as session:
        service.append(
            session, FeedKind.purge, at=datetime.now(UTC), payload={"url": target}, zone_id=1, target=target
        )


def hub_for(database: Database) -> FeedHub:
    # Re-reads only on a wake-up: a test that passes cannot have been rescued by polling.
    return FeedHub(database, service.feed_signal, page_limit=100, idle_interval=600, safety_interval=600)


def test_many_waiting_requests_share_one_read(database: Database) -> None:
    append_purge(database, "/before")

    async def scenario() -> tuple[list[bytes], int, int]:
        hub = hub_for(database)
        head = await hub.current_head()
        await asyncio.sleep(0.5)  # PostgreSQL: the LISTEN connection is up (and read once after it)
        reads_idle = hub.reads
        waiting = [asyncio.create_task(hub.page(after=head, limit=100, wait=30)) for _ in range(300)]
        await asyncio.sleep(0.5)  # every request is parked; none reads
        idle = hub.reads - reads_idle
        await asyncio.to_thread(append_purge, database, "/after")
        pages = await asyncio.gather(*waiting)
        reads = hub.reads - reads_idle
        await hub.close()
        return pages, idle, reads

    pages, idle, reads = asyncio.run(scenario())
    assert idle == 0
    assert reads <= 2  # one wake-up, one read, for all 300
    assert len({id(page) for page in pages}) == 1  # the same encoded page for everyone
    page = json.loads(pages[0])
    assert [r["target"] for r in page["records"]] == ["/after"]
    assert page["last"] == page["head"] == 2


def test_a_reader_ahead_of_the_log_is_told_the_head(database: Database) -> None:
    append_purge(database, "/one")

    async def scenario() -> FeedAhead:
        hub = hub_for(database)
        try:
            with pytest.raises(FeedAhead) as raised:
                await hub.page(after=5, limit=10, wait=1)
            return raised.value
        finally:
            await hub.close()

    ahead = asyncio.run(scenario())
    assert (ahead.after, ahead.head) == (5, 1)


def test_catching_up_reads_pages_beyond_the_recent_records(database: Database) -> None:
    for n in range(30):
        append_purge(database, f"/{n}")

    async def scenario() -> list[int]:
        hub = FeedHub(
            database, service.feed_signal, page_limit=100, idle_interval=600, safety_interval=600, keep=5
        )
        seqs, after = [], 0
        try:
            while True:
                page = json.loads(await hub.page(after=after, limit=7, wait=0))
                if not page["records"]:
                    return seqs
                seqs += [r["seq"] for r in page["records"]]
                after = page["last"]
        finally:
            await hub.close()

    assert asyncio.run(scenario()) == list(range(1, 31))


@pytest.fixture
def api_process(api: Api, tmp_path: Path) -> Iterator[str]:
    """A second API process on the same PostgreSQL database, which only a NOTIFY can wake."""
    if api.database.is_sqlite:
        pytest.skip("cross-process wake-up is PostgreSQL's LISTEN/NOTIFY; SQLite wakes in-process")
    quiet = {"STAYDOWN_FEED_POLL_INTERVAL_SECONDS": "600", "STAYDOWN_FEED_SAFETY_POLL_SECONDS": "600"}
    with another_api(api.settings.resolved_database_url, tmp_path / "second", quiet) as second:
        yield second.url


def test_pollers_in_another_process_wake_on_a_commit_here(api: Api, api_process: str) -> None:
    active_zone(api, "far.example.test")
    headers = {"authorization": f"Bearer {api.keys['edge']}"}
    head = httpx.get(f"{api_process}/v1/edge/feed", headers=headers, timeout=10).json()["head"]
    pages: list[dict] = []

    def poll() -> None:
        answer = httpx.get(
            f"{api_process}/v1/edge/feed", params={"after": head, "wait": 25}, headers=headers, timeout=40
        )
        pages.append(answer.json())

    pollers = [threading.Thread(target=poll) for _ in range(5)]
    for poller in pollers:
        poller.start()
    time.sleep(0.5)  # the pollers are waiting in the other process
    created = api.as_("trusted_flagger").post(
        "/v1/notices", json=notice_body(["http://far.example.test/x.jpg"])
    )
    assert created.status_code == 201
    for poller in pollers:
        poller.join(40)
    assert len(pages) == 5
    for page in pages:
        assert page["records"], "woken by the timeout, not by the commit"
        assert page["records"][0]["kind"] == "block"
        assert page["records"][0]["seq"] == head + 1
