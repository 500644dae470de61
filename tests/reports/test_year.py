"""The transparency report over a generated year of 100,000 notices: the CLI as a process, in each
format, in under a minute, with figures that match counts computed independently."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from staydown.db.engine import Database
from staydown.db.migrate import upgrade
from tests.reports.year import Expected, generate

STAYDOWN = [sys.executable, "-m", "staydown.cli"]


def report(data_dir: Path, fmt: str) -> tuple[str, float]:
    env = {**os.environ, "STAYDOWN_DATA_DIR": str(data_dir)}
    env.pop("STAYDOWN_DATABASE_URL", None)
    args = ["report", "transparency", "--from", "2025-01-01", "--to", "2025-12-31", "--format", fmt]
    started = time.perf_counter()
    result = subprocess.run(
        [*STAYDOWN, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    return result.stdout, elapsed


def check_json(document: dict[str, object], expected: Expected) -> None:
    notices = document["notices"]
    assert isinstance(notices, dict)
    assert notices["total"] == expected.total
    assert notices["by_regime"] == dict(expected.by_regime)
    assert notices["by_submitter_class"] == dict(expected.by_class)
    assert notices["by_status"] == dict(expected.by_status)
    urls = document["urls"]
    assert isinstance(urls, dict)
    assert urls["total"] == sum(expected.items.values())
    assert (
        urls["actioned"]
        == expected.items["actioned"] + expected.items["counter_noticed"] + expected.items["restored"]
    )
    assert urls["rejected"] == expected.items["rejected"]
    assert urls["not_on_network"] == expected.items["not_on_network"]
    assert urls["by_status"] == dict(expected.items)
    tta = document["time_to_action"]
    assert isinstance(tta, dict)
    assert tta["notices_actioned"] == len(expected.tta)
    assert tta["median_seconds"] == pytest.approx(expected.median, rel=1e-9)
    assert tta["p90_seconds"] == pytest.approx(expected.p90, rel=1e-9)
    assert tta["within_deadline"] == expected.within_deadline
    assert tta["after_deadline"] == len(expected.tta) - expected.within_deadline
    histogram = document["time_to_action_histogram"]
    assert isinstance(histogram, list)
    assert sum(b["notices"] for b in histogram) == len(expected.tta)
    automation = document["automation"]
    assert isinstance(automation, dict)
    assert (automation["decided_urls"], automation["automated_urls"]) == (
        expected.decided,
        expected.automated,
    )
    policy = document["policy"]
    assert isinstance(policy, dict)
    assert policy["suspensions"] == expected.steps["suspension"]
    assert policy["terminations"] == expected.steps["termination"]
    assert policy["warnings"] == expected.steps["warning"]
    orders = document["disclosure_orders"]
    assert isinstance(orders, dict)
    assert orders["total"] == sum(expected.orders_by_basis.values())
    assert orders["by_legal_basis"] == dict(expected.orders_by_basis)
    assert orders["gagged"] == expected.orders_gagged
    volume = document["volume"]
    assert isinstance(volume, list)
    assert {v["date"]: v["notices"] for v in volume} == dict(expected.volume)
    assert len(volume) == 365


@pytest.mark.slow
def test_a_year_of_notices_reports_in_under_a_minute(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'staydown.db'}"
    upgrade(url)
    database = Database.from_url(url)
    try:
        expected = generate(database, notices=100_000)
    finally:
        database.dispose()

    body, seconds = report(data_dir, "json")
    print(f"\ntransparency report over 100,000 notices: json {seconds:.2f} s")
    assert seconds < 60
    check_json(json.loads(body), expected)

    body, seconds = report(data_dir, "csv")
    print(f"csv {seconds:.2f} s")
    assert seconds < 60
    rows = dict(csv.reader(io.StringIO(body)))
    assert rows["notices.total"] == str(expected.total)
    assert rows["urls.not_on_network"] == str(expected.items["not_on_network"])
    assert rows["policy.suspensions"] == str(expected.steps["suspension"])

    body, seconds = report(data_dir, "html")
    print(f"html {seconds:.2f} s")
    assert seconds < 60
    assert body.count("<svg") == 2
    assert f'<td class="n" id="notices-total">{expected.total:,}</td>' in body
    assert "Notices received per week" in body and "Time from receipt to first action" in body
