"""Fixtures for the mail intake's process tests: a data directory with a migrated database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def data_dir(tmp_path: Path, sqlite_template: Path) -> Path:
    """A data directory whose SQLite database is migrated, as `staydown db upgrade` leaves it."""
    directory = tmp_path / "data"
    directory.mkdir()
    shutil.copy(sqlite_template, directory / "staydown.db")
    return directory
