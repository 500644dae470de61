"""Headless Chromium for the tests that meet the desk and the docs as a person does: Debian's
``chromium`` driven by Playwright, never a downloaded browser. The ``browser`` fixture (one per test
module) is in ``tests/conftest.py``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # screenshots, looked at by people

NEEDS_CHROMIUM = [
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None, reason="the playwright package is not installed"
    ),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]
