"""A busy port ends a serving command at once with one line naming the option to change, and
leaves nothing behind (no data directory, no processes)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from staydown.cli import main as cli
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


def _help(runner: CliRunner, command: list[str]) -> str:
    result = runner.invoke(cli.app, [*command, "--help"], prog_name="staydown")
    assert result.exit_code == 0, (command, result.output)
    return result.output


def _commands(runner: CliRunner) -> list[list[str]]:
    """Every command and group, as a user would name them, read from the help itself."""
    found: list[list[str]] = []
    pending: list[list[str]] = [[]]
    while pending:
        prefix = pending.pop()
        text = _help(runner, prefix)
        found.append(prefix)
        listed = text.split("Commands:", 1)[1].splitlines() if "Commands:" in text else []
        pending += [[*prefix, line.split()[0]] for line in listed if line.startswith("  ") and line.strip()]
    return found


def test_help_is_plain_text_with_flags_shown_as_flags() -> None:
    runner = CliRunner()
    commands = _commands(runner)
    assert ["up"] in commands and ["keys", "revoke"] in commands
    for command in commands:
        text = _help(runner, command)
        assert "<bool>" not in text, command
        assert "``" not in text, command
        assert text.startswith("Usage: staydown"), command
    # As the installed command prints it:
    up_help = subprocess.run(
        [*STAYDOWN, "up", "--help"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "  --demo " in up_help
    assert "--api-port <int>" in up_help
    assert "<bool>" not in up_help
