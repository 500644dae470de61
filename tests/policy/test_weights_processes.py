"""Weighed strikes counted by two ``staydown api`` processes at once on PostgreSQL: each notice's
strike is weighed and counted under the customer's row lock, so racing notices take exactly the
steps a serial run takes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Api
from tests.edge.harness import free_port
from tests.support import active_zone, notice_body
from tests.test_cli import STAYDOWN, Process

NOTICES = 8
URLS = 60  # weight 2 under the default policy (one strike per 50 URLs begun, at most 2)
EXPECTED = [("warning", 2), ("suspension", 4), ("termination", 6)]


@pytest.fixture
def two_apis(api: Api, tmp_path: Path) -> Iterator[list[str]]:
    """Two ``staydown api`` processes on the test's PostgreSQL database."""
    if not api.settings.database_url or not api.settings.database_url.startswith("postgresql"):
        pytest.skip("strike counting across processes is tested on PostgreSQL")
    processes, urls = [], []
    for n in range(2):
        data_dir = tmp_path / f"api{n}"
        data_dir.mkdir()
        port = free_port()
        env = {
            **os.environ,
            "STAYDOWN_DATA_DIR": str(data_dir),
            "STAYDOWN_DATABASE_URL": api.settings.database_url,
        }
        process = Process.__new__(Process)  # its constructor runs on the data directory's own database
        process.log = (data_dir / "api.log").open("w")
        process.proc = subprocess.Popen(
            [*STAYDOWN, "api", "--port", str(port)], stdout=process.log, stderr=subprocess.STDOUT, env=env
        )
        processes.append(process)
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for process, url in zip(processes, urls, strict=True):
            process.wait_http(url)
        yield urls
    finally:
        for process in processes:
            process.stop()


def steps(api: Api, customer_id: int) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    ledger: dict[str, Any] = api.as_("agent").get(f"/v1/customers/{customer_id}/strikes").json()
    return [(s["kind"], s["strikes_counted"]) for s in ledger["steps"]], ledger


def test_two_api_processes_weigh_and_count_racing_notices_as_a_serial_run(
    api: Api, two_apis: list[str]
) -> None:
    headers = {"authorization": f"Bearer {api.keys['trusted_flagger']}"}

    def submit(hostname: str, n: int) -> int:
        body = notice_body([f"http://{hostname}/chapter-{n}/{i}.jpg" for i in range(URLS)])
        r = httpx.post(f"{two_apis[n % 2]}/v1/notices", json=body, headers=headers, timeout=120)
        return r.status_code

    serial = active_zone(api, "serial.example.test", name="Serial")
    assert [submit(serial["hostname"], n) for n in range(NOTICES)] == [201] * NOTICES
    serial_steps, serial_ledger = steps(api, serial["customer_id"])
    assert serial_steps == EXPECTED

    # Its own identity: sharing the serial customer's would link it to a suspended one (serial).
    racing = active_zone(
        api, "racing.example.test", name="Racing", phone="+1 202 555 0188", address="8 Race Rd"
    )
    with ThreadPoolExecutor(NOTICES) as pool:
        statuses = list(pool.map(lambda n: submit(racing["hostname"], n), range(NOTICES)))
    assert statuses == [201] * NOTICES
    racing_steps, racing_ledger = steps(api, racing["customer_id"])
    assert racing_steps == EXPECTED
    for ledger in (serial_ledger, racing_ledger):
        assert ledger["standing"] == "terminated"
        assert {(s["weight"], s["urls"]) for s in ledger["strikes"]} == {(2, URLS)}
        assert ledger["active_strikes"] == 2 * len(ledger["strikes"])
    # Notices resolved to the zone before it ended still strike, but take no further step.
    assert 3 <= len(racing_ledger["strikes"]) <= NOTICES
    letters = [m["kind"] for m in api.as_("agent").get("/v1/outbox", params={"limit": 1000}).json()]
    assert sorted(k for k in letters if k.startswith("policy_")) == sorted(
        [f"policy_{kind}" for kind, _ in EXPECTED] * 2
    )
