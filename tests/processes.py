"""``staydown`` commands as real processes, and what runs under them (read from /proc, Linux)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

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
