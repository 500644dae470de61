"""The serial tests run with small review thresholds: four works from two rightsholders."""

from __future__ import annotations

from pathlib import Path

import pytest

from staydown.config import Settings
from tests.conftest import settings_for
from tests.dnsserver import LocalDnsServer


@pytest.fixture
def settings(tmp_path: Path, database_url: str, dns: LocalDnsServer) -> Settings:
    return settings_for(
        tmp_path,
        database_url,
        dns,
        serial_review_works=4,
        serial_review_rightsholders=2,
        serial_review_matches=3,
        serial_review_window_days=30,
        serial_review_deadline_days=7,
    )
