"""A busy port ends a serving command at once with one line naming the option to change, and
leaves nothing behind (no data directory, no processes)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import STAYDOWN


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize(
    "command, option",
    [
        (["up", "--demo", "--api-port", "{port}"], "--api-port"),
        (["up", "--api-port", "0", "--edge-port", "{port}"], "--edge-port"),
        (["api", "--port", "{port}"], "--port"),
        (["edge", "--control-plane", "http://127.0.0.1:9", "--key", "k", "--port", "{port}"], "--port"),
    ],
)
def test_a_busy_port_is_one_line_naming_the_option(
    busy_port: int, tmp_path: Path, command: list[str], option: str
) -> None:
    data_dir = tmp_path / "data"
    args = [part.format(port=busy_port) for part in command]
    done = subprocess.run(
        [*STAYDOWN, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"staydown: port {busy_port} on 127.0.0.1 is already in use; "
        f"choose another with {option} (0 picks a free one)"
    ]
    assert not data_dir.exists()  # refused before anything was created or started
