"""``staydown`` commands as real processes, and what runs under them (read from /proc, Linux)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

STAYDOWN = [sys.executable, "-m", "staydown.cli"]


def _stat(pid: int) -> tuple[str, int] | None:
    """A process's state letter and parent pid, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie has ended; only its exit status is left to collect)."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def children(parent: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == parent and stat[0] not in ("Z", "X"):
                found.add(int(entry.name))
    return found


def free_port() -> int:
    """A free port on 127.0.0.1, released for a child process to bind."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ApiProcess:
    """A ``staydown api`` process a test started, and where it answers and writes."""

    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path


@contextmanager
def another_api(
    database_url: str,
    data_dir: Path,
    env: dict[str, str] | None = None,
    *,
    args: Sequence[str] = (),
    ready: Callable[[], bool] = lambda: True,
    timeout: float = 60,
) -> Iterator[ApiProcess]:
    """``staydown api`` (with ``args``) as a process of its own on ``database_url``, yielded once it
    answers ``/healthz`` and ``ready()`` holds; stopped after."""
    port = free_port()
    environment = {
        **os.environ,
        "STAYDOWN_DATA_DIR": str(data_dir),
        "STAYDOWN_DATABASE_URL": database_url,
        **(env or {}),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "api.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*STAYDOWN, "api", "--port", str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    started = ApiProcess(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        deadline = time.monotonic() + timeout
        while not (answers(started.url) and ready()):
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, f"the API did not start: {log_path.read_text()}"
            time.sleep(0.1)
        yield started
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def answers(url: str) -> bool:
    """Whether an API answers ``/healthz`` at ``url`` now."""
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


class Staydown:
    """A ``staydown`` command as a user runs it, with its output in a file."""

    def __init__(self, *args: str, data_dir: Path, env: dict[str, str] | None = None) -> None:
        environment = {**os.environ, "STAYDOWN_DATA_DIR": str(data_dir), **(env or {})}
        environment.pop("STAYDOWN_DATABASE_URL", None)
        self.log_path = data_dir / f"{args[0]}.log"
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [*STAYDOWN, *args], stdout=self.log, stderr=subprocess.STDOUT, env=environment
        )
        self.seen: set[int] = set()

    def output(self) -> str:
        return self.log_path.read_text()

    def printed(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        found: list[re.Match[str]] = []

        def look() -> bool:
            assert self.proc.poll() is None, self.output()
            match = re.search(pattern, self.output())
            if match:
                found.append(match)
            return bool(match)

        eventually(look, f"never printed {pattern!r}: {self.output()}", timeout)
        return found[0]

    def workers(self) -> set[int]:
        current = children(self.proc.pid)
        self.seen |= current
        return current

    def cleanup(self) -> None:
        """Whatever the test did, leave nothing running."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pid in self.seen | self.workers():
            if running(pid):
                os.kill(pid, signal.SIGKILL)
                os.kill(pid, signal.SIGCONT)
        self.log.close()
