"""``staydown api --feed-port``: the edges' feed served by processes of its own, woken by the notices
the main port takes (PostgreSQL's NOTIFY), started, replaced and stopped with the API."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import Api
from tests.processes import STAYDOWN, another_api, answers, children, eventually, free_port
from tests.support import active_zone, notice_body


@dataclass
class SplitApi:
    proc: subprocess.Popen[bytes]
    url: str  # notices, the desk, the API
    feed_url: str  # the edges
    log: Path


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


@pytest.fixture
def split_api(api: Api, tmp_path: Path) -> Iterator[SplitApi]:
    """``staydown api --feed-port`` with two feed processes, on the test's PostgreSQL database."""
    if api.database.is_sqlite:
        pytest.skip("the feed processes are woken by PostgreSQL's NOTIFY")
    feed_port = free_port()
    feed_url = f"http://127.0.0.1:{feed_port}"
    # Re-read only on a wake-up: a poll answered in time cannot have been rescued by polling.
    quiet = {"STAYDOWN_FEED_POLL_INTERVAL_SECONDS": "600", "STAYDOWN_FEED_SAFETY_POLL_SECONDS": "600"}
    with another_api(
        api.settings.resolved_database_url,
        tmp_path / "split",
        quiet,
        args=("--feed-port", str(feed_port), "--feed-processes", "2"),
        ready=lambda: answers(feed_url),
        timeout=150,
    ) as started:
        yield SplitApi(started.proc, started.url, feed_url, started.log_path)


def test_edges_on_the_feed_port_get_the_block_of_a_notice_taken_on_the_main_port(
    api: Api, split_api: SplitApi
) -> None:
    active_zone(api, "split.example.test")
    feed = children(split_api.proc.pid)
    assert len(feed) == 2, split_api.log.read_text()
    for pid in feed:  # by default the kernel gives a core to intake first (once they serve)
        eventually(lambda pid=pid: niceness(pid) == niceness(split_api.proc.pid) + 10, "not nicer")
    headers = {"authorization": f"Bearer {api.keys['edge']}"}
    head = httpx.get(f"{split_api.feed_url}/v1/edge/feed", headers=headers, timeout=10).json()["head"]
    pages: list[tuple[float, dict]] = []

    def poll() -> None:  # each on a connection of its own: the kernel spreads them over both processes
        answer = httpx.get(
            f"{split_api.feed_url}/v1/edge/feed",
            params={"after": head, "wait": 25},
            headers=headers,
            timeout=40,
        )
        pages.append((time.monotonic(), answer.json()))

    pollers = [threading.Thread(target=poll) for _ in range(8)]
    for poller in pollers:
        poller.start()
    time.sleep(1)  # the polls are waiting in the feed processes
    created = httpx.post(
        f"{split_api.url}/v1/notices",
        json=notice_body(["http://split.example.test/x.jpg"]),
        headers={"authorization": f"Bearer {api.keys['trusted_flagger']}"},
        timeout=30,
    )
    answered = time.monotonic()
    assert created.status_code == 201, created.text
    for poller in pollers:
        poller.join(40)
    assert len(pages) == 8
    for at, page in pages:
        assert page["records"], "woken by the wait's end, not by the commit"
        assert page["records"][0]["kind"] == "block"
        assert page["records"][0]["seq"] == head + 1
        assert at - answered < 10
    # The main port serves the feed as before, and the feed port the rest of the API.
    assert httpx.get(f"{split_api.url}/v1/edge/feed", headers=headers, timeout=10).json()["head"] == head + 1
    notice = created.json()["id"]
    read = httpx.get(
        f"{split_api.feed_url}/v1/notices/{notice}",
        headers={"authorization": f"Bearer {api.keys['agent']}"},
        timeout=10,
    )
    assert read.status_code == 200


def test_a_feed_process_that_exits_is_replaced_and_all_stop_with_the_api(split_api: SplitApi) -> None:
    first = children(split_api.proc.pid)
    assert len(first) == 2
    gone = min(first)
    os.kill(gone, signal.SIGKILL)
    eventually(
        lambda: len(children(split_api.proc.pid) - {gone}) == 2, "the exited feed process was not replaced"
    )
    eventually(lambda: answers(split_api.feed_url), "the feed port does not answer")
    feed = children(split_api.proc.pid)
    split_api.proc.terminate()
    split_api.proc.wait(30)
    for pid in feed:
        eventually(
            lambda pid=pid: not Path(f"/proc/{pid}").exists(), f"feed process {pid} outlived the API", 15
        )
    assert not answers(split_api.feed_url)


def test_a_feed_port_on_sqlite_is_refused(sqlite_template: Path, tmp_path: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "staydown.db")
    env = {
        **os.environ,
        "STAYDOWN_DATA_DIR": str(tmp_path),
        "STAYDOWN_DATABASE_URL": f"sqlite:///{tmp_path / 'staydown.db'}",
    }
    done = subprocess.run(
        [*STAYDOWN, "api", "--port", str(free_port()), "--feed-port", "0"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert b"--feed-port needs PostgreSQL" in done.stdout + done.stderr
