"""Snapshots across API processes on PostgreSQL: the log is folded once, kept as a checkpoint, and a
process started later folds only what came after it."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from staydown.db.engine import Database
from staydown.enforcement import service
from staydown.enforcement.models import FeedCheckpoint
from staydown.feedrecords import FeedKind
from tests.conftest import Clock, _truncate_postgres, make_keys
from tests.fleet import Process, eventually, free_port, http_ok


@pytest.fixture
def postgres(postgres_database: str) -> Iterator[Database]:
    database = Database.from_url(postgres_database)
    _truncate_postgres(database)
    yield database
    database.dispose()


def append_entries(database: Database, start: int, count: int) -> None:
    """Bank entries straight into the log (what a snapshot carries, with nothing else to set up)."""
    at = datetime.now(UTC)
    for first in range(start, start + count, 500):
        with database.transaction() as session:
            for n in range(first, min(start + count, first + 500)):
                code = f"{n:064x}"
                payload = {"entry_id": n + 1, "scope": "network", "sha256": code, "pdq": [code]}
                service.append(session, FeedKind.hash_add, at=at, payload=payload)


class ApiProcess:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.port, self.metrics_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {"STAYDOWN_DATABASE_URL": url, "STAYDOWN_FEED_CHECKPOINT_RECORDS": "500"}
        self.process = Process(
            "api",
            "--port",
            str(self.port),
            "--metrics-port",
            str(self.metrics_port),
            data_dir=data_dir,
            env=env,
        )
        eventually(lambda: http_ok(self.url + "/healthz"), timeout=60, what="the API starting")

    def snapshot(self, key: str) -> tuple[int, bytes]:
        answer = httpx.get(
            self.url + "/v1/edge/snapshot", headers={"authorization": f"Bearer {key}"}, timeout=120
        )
        assert answer.status_code == 200, answer.text
        return int(answer.headers["staydown-snapshot-seq"]), answer.content  # decoded by httpx

    def metric(self, name: str) -> float:
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name:
                    return float(sample.value)
        raise AssertionError(f"{name} not served")


def checkpoint(database: Database) -> tuple[int, bytes] | None:
    with database.reader() as session:
        row = session.execute(select(FeedCheckpoint.seq, FeedCheckpoint.state)).first()
        return None if row is None else (int(row[0]), gzip.decompress(row[1]))


@pytest.mark.postgres
def test_processes_asked_at_once_fold_the_log_once_and_later_ones_start_from_the_checkpoint(
    postgres: Database, postgres_database: str, tmp_path: Path
) -> None:
    keys = make_keys(postgres, Clock())
    append_entries(postgres, 0, 1200)
    first, second = (
        ApiProcess(postgres_database, tmp_path / "a"),
        ApiProcess(postgres_database, tmp_path / "b"),
    )
    try:
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda api: api.snapshot(keys["edge"]), (first, second)))
        assert answers[0] == answers[1] and answers[0][0] == 1200
        assert answers[0][1].count(b'"network"') == 1200
        folded = [api.metric("staydown_snapshot_folded_records_total") for api in (first, second)]
        assert sorted(folded) == [0, 1200]  # one process folded; the other waited and read its checkpoint
        assert sum(api.metric("staydown_snapshot_checkpoint_loads_total") for api in (first, second)) == 1
        assert checkpoint(postgres) == (1200, answers[0][1])

        append_entries(postgres, 1200, 600)
        seq, body = second.snapshot(keys["edge"])
        assert seq == 1800 and body.count(b'"network"') == 1800
        # Only the new records were folded, and the checkpoint moved past them.
        assert second.metric("staydown_snapshot_folded_records_total") == folded[1] + 600
        assert checkpoint(postgres) == (1800, body)  # 600 records past the checkpoint: replaced

        later = ApiProcess(postgres_database, tmp_path / "c")
        try:
            assert later.snapshot(keys["edge"]) == (1800, body)
            assert later.metric("staydown_snapshot_folded_records_total") == 0
            assert later.metric("staydown_snapshot_checkpoint_loads_total") == 1
        finally:
            later.process.stop()
    finally:
        first.process.stop()
        second.process.stop()
