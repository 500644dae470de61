"""Flood quarantine under concurrency: two API processes receive edges' match reports for one bank
entry at once; the entry is quarantined once, exactly at the limit, and blocks nothing past it."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from staydown.demo.pages import render_page
from tests.conftest import Api
from tests.edge.harness import ScriptedOrigin, free_port, live_zone
from tests.support import jpeg
from tests.test_cli import STAYDOWN, Process

COPIES = 64
LIMIT = 50  # the setting's default, which the API processes below run with


@pytest.fixture
def origin() -> Any:
    with ScriptedOrigin() as scripted:
        yield scripted


@pytest.fixture
def two_apis(api: Api, tmp_path: Path) -> Any:
    """Two ``staydown api`` processes on the test's database."""
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


def test_two_api_processes_quarantine_a_flooding_entry_once(
    api: Api, origin: ScriptedOrigin, two_apis: list[str]
) -> None:
    zones = [live_zone(api, origin, f"site{n}.example.test")["zone_id"] for n in range(4)]
    logo = jpeg(render_page(61))
    work = api.as_("trusted_flagger").post(
        "/v1/works", data={"description": "A logo"}, files=[("images", ("l.jpg", logo, "image/jpeg"))]
    )
    assert work.status_code == 201, work.text
    (entry,) = api.as_("agent").get(f"/v1/works/{work.json()['id']}").json()["entries"]
    headers = {"authorization": f"Bearer {api.keys['edge']}"}

    def report(n: int) -> int:
        body = {
            "entry_id": entry["id"],
            "zone_id": zones[n % len(zones)],
            "target": f"/img/{n}.jpg",
            "url": f"http://site{n % len(zones)}.example.test/img/{n}.jpg",
            "distance": 0,
            "exact": True,
            "copy_sha256": entry["sha256"],
        }
        response = httpx.post(f"{two_apis[n % 2]}/v1/edge/matches", json=body, headers=headers, timeout=60)
        return response.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(report, range(COPIES)))
    assert statuses == [201] * COPIES

    agent = api.as_("agent")
    quarantines = agent.get("/v1/staydown/quarantines").json()
    assert quarantines["total"] == 1
    (item,) = quarantines["quarantines"]
    assert item["urls"] == LIMIT + 1
    assert item["matches"] == {"blocked": LIMIT, "pending_review": COPIES - LIMIT}
    feed = api.as_("edge").get("/v1/edge/feed", params={"after": 0, "limit": 1000}).json()["records"]
    removed = [r for r in feed if r["kind"] == "hash_remove" and r["entry_id"] == entry["id"]]
    assert len(removed) == 1
    blocks = [r for r in feed if r["kind"] == "block"]
    assert len(blocks) == LIMIT
