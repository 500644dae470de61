"""Edge workers as real processes: they never outlive ``staydown edge`` or ``staydown up``, however
those end, and a worker whose event loop stops turning is replaced.

A worker "stuck in a request" is a stopped one (``SIGSTOP``): like a worker spinning in C code it
runs no handler and turns no loop, and unlike one it costs no CPU while the test waits.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from staydown.edge.workers import (
    STARTUP_LIMIT,
    Supervisor,
    WorkerState,
    judge,
    restart_delay,
)
from tests.edge.harness import free_port
from tests.processes import Staydown, eventually, running

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG is Linux's"
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def start_edge(data_dir: Path) -> Iterator[Callable[..., tuple[Staydown, int, str]]]:
    started: list[Staydown] = []

    def start(*, stall: float = 300.0) -> tuple[Staydown, int, str]:
        """``staydown edge --workers 2`` following an unreachable control plane (it serves its
        local state all the same); its public port and its admin metrics URL, once both serve."""
        port = free_port()
        edge = Staydown(
            "edge", "--control-plane", f"http://127.0.0.1:{free_port()}", "--key", "sd_unused",
            "--port", str(port), "--workers", "2", "--admin-port", "0",
            data_dir=data_dir, env={"STAYDOWN_EDGE_WORKER_STALL_SECONDS": str(stall)},
        )  # fmt: skip
        started.append(edge)
        admin = edge.printed(r"metrics\s+(http://127\.0\.0\.1:\d+/metrics)").group(1)
        wait_serving(edge, admin)
        return edge, port, admin

    yield start
    for edge in started:
        edge.cleanup()


def wait_serving(edge: Staydown, admin: str) -> None:
    def both_up() -> bool:
        assert edge.proc.poll() is None, edge.output()
        try:
            text = httpx.get(admin, timeout=5).text
        except httpx.HTTPError:
            return False
        return 'worker_up{worker="0"} 1.0' in text and 'worker_up{worker="1"} 1.0' in text

    eventually(both_up, f"the workers never both served: {edge.output()}", timeout=60)
    assert len(edge.workers()) == 2


def test_workers_end_when_the_edge_is_killed(start_edge: Callable[..., tuple[Staydown, int, str]]) -> None:
    """``kill -9`` of ``staydown edge`` while one worker is stuck: no worker survives it."""
    edge, _port, _admin = start_edge()
    stuck, free = sorted(edge.workers())
    os.kill(stuck, signal.SIGSTOP)
    edge.proc.kill()
    edge.proc.wait(10)
    eventually(lambda: not running(stuck) and not running(free), "a worker outlived the edge", timeout=10)


def test_stopping_the_edge_stops_a_stuck_worker(start_edge: Callable[..., tuple[Staydown, int, str]]) -> None:
    """SIGTERM (what a service manager sends) stops every worker, the stuck one too, before the
    edge exits."""
    edge, _port, _admin = start_edge()
    stuck, free = sorted(edge.workers())
    # One process group of their own: a stop signals them all, a terminal's Ctrl-C only the edge.
    assert os.getpgid(stuck) == os.getpgid(free) != os.getpgid(edge.proc.pid)
    os.kill(stuck, signal.SIGSTOP)
    edge.proc.terminate()
    assert edge.proc.wait(30) == 0, edge.output()
    assert not running(stuck) and not running(free)


def test_a_stalled_or_exited_worker_is_replaced(
    start_edge: Callable[..., tuple[Staydown, int, str]],
) -> None:
    """A worker whose loop has not turned within the bound is killed and another takes its slot;
    so does one that exits; the edge serves on, and the admin listener reads the new workers."""
    edge, port, admin = start_edge(stall=3.0)
    stuck, other = sorted(edge.workers())
    os.kill(stuck, signal.SIGSTOP)
    eventually(lambda: not running(stuck) and len(edge.workers()) == 2, "the stalled worker stayed")
    assert "has not turned its event loop" in edge.output()
    wait_serving(edge, admin)
    assert other in edge.workers()
    os.kill(other, signal.SIGKILL)
    eventually(lambda: other not in edge.workers() and len(edge.workers()) == 2, "no worker replaced it")
    wait_serving(edge, admin)
    text = httpx.get(admin, timeout=5).text
    assert re.search(r'staydown_edge_worker_restarts_total\{reason="stalled",worker="[01]"\} 1\.0', text)
    assert re.search(r'staydown_edge_worker_restarts_total\{reason="exited",worker="[01]"\} 1\.0', text)
    for _ in range(10):  # whichever worker takes the connection
        answer = httpx.get(f"http://127.0.0.1:{port}/", headers={"host": "nobody.example"}, timeout=5)
        assert answer.status_code == 421
    edge.proc.send_signal(signal.SIGINT)
    assert edge.proc.wait(30) == 0, edge.output()
    assert not any(running(pid) for pid in edge.seen)


def test_an_edge_whose_workers_cannot_start_gives_up(data_dir: Path) -> None:
    """Its HTTPS port held by another program (a busy public port is refused before any worker
    starts): each worker fails at start, is retried a few times with a growing pause, and then
    ``staydown edge`` exits 1 instead of retrying for ever."""
    seal = data_dir / "seal.key"
    data_dir.mkdir(parents=True, exist_ok=True)
    seal.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        edge = Staydown(
            "edge", "--control-plane", f"http://127.0.0.1:{free_port()}", "--key", "sd_unused",
            "--port", str(free_port()), "--tls-port", str(port), "--cert-seal-key-file", str(seal),
            "--workers", "2", data_dir=data_dir,
        )  # fmt: skip
        try:
            assert edge.proc.wait(120) == 1, edge.output()
            assert "failed 5 times without serving" in edge.output()
            assert "Address already in use" in edge.output()
        finally:
            edge.cleanup()


def test_the_public_port_tells_no_metrics(start_edge: Callable[..., tuple[Staydown, int, str]]) -> None:
    """``/metrics`` on the public port is a request for a zone like any other: the edge's own
    address names none; the admin listener on loopback serves them."""
    edge, port, admin = start_edge()
    for host in ("127.0.0.1", f"127.0.0.1:{port}", "localhost"):
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"host": host}, timeout=5)
        assert answer.status_code == 421 and "staydown_edge" not in answer.text
    assert "staydown_edge_feed_seq" in httpx.get(admin, timeout=5).text
    edge.proc.send_signal(signal.SIGINT)
    assert edge.proc.wait(30) == 0


def test_edge_workers_end_when_up_is_killed(data_dir: Path) -> None:
    """``kill -9`` of ``staydown up``: its edge workers end with it."""
    up = Staydown(
        "up", "--api-port", "0", "--edge-port", "0", "--edge-tls-port", "0", "--smtp-port", "0",
        "--edge-workers", "2", "--metrics-port", "0",
        data_dir=data_dir,
    )  # fmt: skip
    try:
        up.printed(r"ready; Ctrl-C to stop", timeout=90)
        workers = up.workers()
        assert len(workers) == 2
        os.kill(min(workers), signal.SIGSTOP)
        up.proc.kill()
        up.proc.wait(10)
        eventually(lambda: not any(running(pid) for pid in workers), "an edge worker outlived up", 10)
    finally:
        up.cleanup()


def test_stopping_up_stops_a_stuck_edge_worker(data_dir: Path) -> None:
    """SIGTERM to ``staydown up`` with an edge worker stuck: ``up`` exits and leaves no worker."""
    up = Staydown(
        "up",
        "--api-port",
        "0",
        "--edge-port",
        "0",
        "--edge-tls-port",
        "0",
        "--smtp-port",
        "0",
        "--edge-workers",
        "2",
        data_dir=data_dir,
    )
    try:
        up.printed(r"ready; Ctrl-C to stop", timeout=90)
        workers = up.workers()
        assert len(workers) == 2
        os.kill(min(workers), signal.SIGSTOP)
        up.proc.terminate()
        assert up.proc.wait(60) == 0, up.output()
        assert not any(running(pid) for pid in workers)  # stopped and collected before it exited
    finally:
        up.cleanup()


def test_a_worker_spinning_in_c_code_is_killed_with_its_traceback(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A regex backtracking in C holds the GIL: nothing in the worker can run, yet the supervisor
    sees its heartbeat stop, names the request it was deciding, has it print where it is stuck,
    kills it and starts another."""
    supervisor = Supervisor(spin_in_a_regex, None, 1, stall=1.0)
    supervisor.start()
    try:
        first = supervisor.pids()[0]
        assert first is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (running(first) or supervisor.pids()[0] in (None, first)):
            supervisor.check()
            time.sleep(supervisor.interval)
        assert not running(first)
        assert supervisor.pids()[0] not in (None, first)
    finally:
        supervisor.stop(grace=1)
    err = capfd.readouterr().err
    assert "most recent call first" in err and "spin_in_a_regex" in err
    assert "while deciding 'GET spin.example /slow'" in caplog.text


def spin_in_a_regex(_payload: None, _index: int, slot: object) -> None:
    """A worker that serves a moment, then backtracks for ever in C (importable by the child)."""
    import asyncio

    from staydown.edge.workers import Heartbeat, WorkerSlot

    assert isinstance(slot, WorkerSlot)

    async def main() -> None:
        Heartbeat(slot, 0.1).start()
        await asyncio.sleep(0.5)
        slot.answering("GET spin.example /slow")
        # Nested quantifiers over a non-matching input: exponential time in C, on purpose.
        re.match(r"(a+)+$", "a" * 64 + "!")

    asyncio.run(main())


def test_judge() -> None:
    assert judge(exited=True, beat=5.0, started=0.0, now=6.0, stall=2.0) is WorkerState.exited
    assert judge(exited=False, beat=0.0, started=0.0, now=60.0, stall=2.0) is WorkerState.starting
    assert judge(exited=False, beat=0.0, started=0.0, now=STARTUP_LIMIT + 1, stall=2.0) is WorkerState.stalled
    assert judge(exited=False, beat=5.0, started=0.0, now=7.0, stall=2.0) is WorkerState.serving
    assert judge(exited=False, beat=5.0, started=0.0, now=7.5, stall=2.0) is WorkerState.stalled


def test_restart_delay_backs_off() -> None:
    delays = [restart_delay(failures) for failures in range(12)]
    assert delays[:2] == [0.0, 0.0]
    assert delays == sorted(delays) and delays[-1] == 30.0
