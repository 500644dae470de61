"""Metrics are served on a listener of their own on loopback, never on the API's port: ``staydown
api`` and ``staydown up`` as real processes, read over real sockets."""

from __future__ import annotations

import re
import signal
import smtplib
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.edge.harness import free_port
from tests.processes import STAYDOWN, Staydown, eventually

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

PROMETHEUS = "text/plain; version=0.0.4"
LETTER = (
    b"From: Rights Agent <agent@rights.example>\r\nTo: abuse@staydown.invalid\r\nSubject: DMCA notice\r\n"
    b"Message-ID: <metrics-1@rights.example>\r\n\r\nOur work is copied at http://unknown.example/p.jpg\r\n"
)


def upgraded(data_dir: Path) -> Path:
    """The data directory with its schema migrated, as a release does before ``staydown api``."""
    subprocess.run(
        [*STAYDOWN, "db", "upgrade", "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return data_dir


def metrics_url(process: Staydown) -> str:
    return process.printed(r"metrics\s+(http://\S+/metrics)").group(1)


def test_api_metrics_only_on_the_metrics_port(tmp_path: Path) -> None:
    """``staydown api --metrics-port 0``: the chosen port is printed, bound to 127.0.0.1, and
    serves Prometheus text; the API's port answers ``/metrics`` with 404 like any unknown path."""
    port = free_port()
    api = Staydown("api", "--port", str(port), "--metrics-port", "0", data_dir=upgraded(tmp_path))
    try:
        url = metrics_url(api)
        assert url.startswith("http://127.0.0.1:")
        assert int(re.findall(r":(\d+)/", url)[0]) != port
        base = f"http://127.0.0.1:{port}"
        eventually(lambda: _answers(base + "/healthz"), f"the API never answered: {api.output()}")
        refused = httpx.get(base + "/metrics", timeout=5)
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "not_found"
        assert "staydown_" not in refused.text
        answer = httpx.get(url, timeout=5)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith(PROMETHEUS)
        assert "staydown_feed_head_seq 0.0" in answer.text
        # Mail stored by a pipe that leaves reading to a worker: none runs, and the wait shows.
        stored = subprocess.run(
            [*STAYDOWN, "mail", "deliver", "--no-process", "--data-dir", str(tmp_path)],
            check=False,
            input=b"From: agent@rights.example\r\nSubject: notice\r\n\r\nhttp://a.example/x.jpg\r\n",
            capture_output=True,
            timeout=120,
        )
        assert stored.returncode == 0, stored.stderr
        waiting = httpx.get(url, timeout=5).text
        assert 'staydown_inbound_messages{status="pending"} 1.0' in waiting
        assert float(re.findall(r"^staydown_inbound_oldest_pending_seconds (\S+)$", waiting, re.M)[0]) > 0
        # The API's requests are counted there, the refused /metrics among them.
        assert 'staydown_api_requests_total{method="GET",route="unmatched",status="404"}' in answer.text
        api.proc.send_signal(signal.SIGINT)
        api.proc.wait(30)
    finally:
        api.cleanup()


def test_metrics_port_setting(tmp_path: Path) -> None:
    """``STAYDOWN_METRICS_PORT`` chooses the port when ``--metrics-port`` is not given."""
    chosen = free_port()
    api = Staydown(
        "api",
        "--port",
        str(free_port()),
        data_dir=upgraded(tmp_path),
        env={"STAYDOWN_METRICS_PORT": str(chosen)},
    )
    try:
        assert metrics_url(api) == f"http://127.0.0.1:{chosen}/metrics"
        assert "staydown_feed_head_seq" in httpx.get(f"http://127.0.0.1:{chosen}/metrics", timeout=5).text
    finally:
        api.cleanup()


def test_up_serves_api_and_edge_metrics_on_its_metrics_port(tmp_path: Path) -> None:
    """``staydown up``: one loopback listener carries the control plane's metrics and every edge
    worker's; neither the API's port nor the edge's answers them."""
    up = Staydown(
        "up", "--api-port", "0", "--edge-port", "0", "--edge-tls-port", "0", "--smtp-port", "0",
        "--edge-workers", "2", "--metrics-port", "0",
        data_dir=tmp_path,
    )  # fmt: skip
    try:
        url = metrics_url(up)
        api = up.printed(r"api\s+(http://\S+?)\s").group(1)
        edge = up.printed(r"edge\s+(http://\S+?)\s").group(1)
        up.printed("ready; Ctrl-C to stop", timeout=90)
        assert httpx.get(api + "/metrics", timeout=5).status_code == 404
        edge_host = edge.removeprefix("http://")
        assert httpx.get(edge + "/metrics", headers={"host": edge_host}, timeout=5).status_code == 421
        found = {}

        def both_workers() -> bool:
            found["text"] = httpx.get(url, timeout=5).text
            return all(f'staydown_edge_worker_up{{worker="{w}"}} 1.0' in found["text"] for w in "01")

        eventually(both_workers, "the edge workers' metrics never appeared")
        assert "staydown_feed_head_seq" in found["text"]
        # A letter by SMTP is read at once: counted by what it became, and nothing waits.
        host, port = up.printed(r"smtp\s+([\d.]+):(\d+)").groups()
        with smtplib.SMTP(host, int(port), timeout=30) as client:
            client.sendmail("agent@rights.example", ["abuse@staydown.invalid"], LETTER)

        def read() -> bool:
            found["text"] = httpx.get(url, timeout=5).text
            return 'staydown_inbound_messages{status="pending"}' not in found["text"]

        eventually(read, "the letter was never read")
        assert re.search(r'^staydown_inbound_messages\{status="(notice|triage)"\} 1\.0$', found["text"], re.M)
        assert "staydown_inbound_oldest_pending_seconds 0.0" in found["text"]
        assert 'staydown_edge_feed_seq{worker="1"}' in found["text"]
        up.proc.send_signal(signal.SIGINT)
        up.proc.wait(30)
    finally:
        up.cleanup()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
