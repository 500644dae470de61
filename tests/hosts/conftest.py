"""The hosts tests run the API with a local RDAP server as the one RDAP service (STAYDOWN_RDAP_URL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from staydown.config import Settings
from tests.conftest import settings_for
from tests.dnsserver import LocalDnsServer
from tests.hosts.rdapserver import RdapServer


@pytest.fixture
def rdap() -> Iterator[RdapServer]:
    with RdapServer() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, database_url: str, dns: LocalDnsServer, rdap: RdapServer) -> Settings:
    return settings_for(
        tmp_path,
        database_url,
        dns,
        rdap_url=rdap.url,
        rdap_timeout_seconds=1.0,
        rdap_max_bytes=100_000,
    )
