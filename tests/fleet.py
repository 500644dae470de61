"""Shared by the fleet tests: the NATS JetStream server on 127.0.0.1:4222 with names of one test's
own, and real `staydown` processes (relay, edge, API) started and stopped around a test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from nats.js.errors import NotFoundError

from staydown.feedrecords import StreamNames

NATS_URL = os.environ.get("STAYDOWN_TEST_NATS_URL", "nats://127.0.0.1:4222")
STAYDOWN = [sys.executable, "-m", "staydown.cli"]


def _nats_reason() -> str | None:
    async def probe() -> None:
        nc = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False)
        try:
            await nc.jetstream().account_info()
        finally:
            await nc.close()

    try:
        asyncio.run(probe())
        return None
    except Exception as exc:
        return f"NATS with JetStream not reachable at {NATS_URL}: {exc!r}".splitlines()[0]


@pytest.fixture(scope="session")
def nats_url() -> str:
    reason = _nats_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test against NATS JetStream: {reason}")
        pytest.skip(reason)
    return NATS_URL


@pytest.fixture
def stream_names(nats_url: str) -> Iterator[StreamNames]:
    """A stream and subjects of this test's own, deleted when it ends."""
    tag = uuid.uuid4().hex[:10]
    names = StreamNames(f"STAYDOWN_FEED_{tag}", f"staydown.feed.{tag}", f"staydown.edges.{tag}")
    yield names

    async def delete() -> None:
        nc = await nats.connect(nats_url)
        try:
            with contextlib.suppress(NotFoundError):
                await nc.jetstream().delete_stream(names.stream)
        finally:
            await nc.close()

    asyncio.run(delete())


def nats_env(names: StreamNames) -> dict[str, str]:
    return {
        "STAYDOWN_NATS_STREAM": names.stream,
        "STAYDOWN_NATS_SUBJECT": names.subject,
        "STAYDOWN_NATS_HEARTBEAT_SUBJECT": names.heartbeats,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A `staydown` command as a real process, its output in a log file next to its data."""

    def __init__(self, *args: str, data_dir: Path, env: dict[str, str] | None = None) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        full = {**os.environ, "STAYDOWN_DATA_DIR": str(data_dir), **(env or {})}
        self.log_path = data_dir / f"{args[0]}-{uuid.uuid4().hex[:6]}.log"
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen([*STAYDOWN, *args], stdout=self.log, stderr=subprocess.STDOUT, env=full)

    def output(self) -> str:
        return self.log_path.read_text()

    def alive(self) -> None:
        assert self.proc.poll() is None, self.output()

    def stop(self, *, kill: bool = False) -> int:
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def eventually(check: object, *, timeout: float = 30.0, every: float = 0.1, what: str = "condition") -> None:
    """Wait until ``check()`` is true (a bound on a test, never a measurement)."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(every)


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False
