"""The RDAP bootstrap registries (RFC 9224): the shipped snapshot, longest-prefix lookups, bad
documents refused, and ``staydown hosts bootstrap-refresh`` as a process against a local source."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from staydown.hosts import bootstrap
from staydown.hosts.bootstrap import BootstrapError, Registry
from tests.support import ThreadedServer

STAYDOWN = [sys.executable, "-m", "staydown.cli"]


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def test_the_shipped_snapshot_names_the_registry_of_each_region() -> None:
    v4, v6, asn = (bootstrap.load(r, None) for r in (Registry.ipv4, Registry.ipv6, Registry.asn))
    assert v4.service_for(ip("8.8.8.8")) == "https://rdap.arin.net/registry/"
    assert v4.service_for(ip("193.0.6.139")) == "https://rdap.db.ripe.net/"
    assert v4.service_for(ip("202.12.29.20")) == "https://rdap.apnic.net/"
    assert v4.service_for(ip("127.0.0.1")) is None and v4.service_for(ip("2a00::1")) is None
    assert v6.service_for(ip("2a00:1450::1")) == "https://rdap.db.ripe.net/"
    assert asn.service_for_asn(37000) == "https://rdap.afrinic.net/rdap/"
    assert asn.service_for_asn(1) is None


def test_the_longest_prefix_wins_and_https_is_preferred() -> None:
    document = {
        "services": [
            [["10.0.0.0/8"], ["http://wide.example/", "https://wide.example/rdap"]],
            [["10.1.0.0/16"], ["http://narrow.example/"]],
        ]
    }
    found = bootstrap.parse(Registry.ipv4, json.dumps(document))
    assert found.service_for(ip("10.1.2.3")) == "http://narrow.example/"
    assert found.service_for(ip("10.2.0.1")) == "https://wide.example/rdap/"


@pytest.mark.parametrize(
    ("registry", "text", "why"),
    [
        (Registry.ipv4, "not json", "not JSON"),
        (Registry.ipv4, "[]", "no 'services'"),
        (Registry.ipv4, '{"services": [["1.0.0.0/8"]]}', "not a pair"),
        (Registry.ipv4, '{"services": [[["2001::/16"], ["https://x.example/"]]]}', "not an ipv4 network"),
        (Registry.ipv6, '{"services": [[["nonsense"], ["https://x.example/"]]]}', "not a network"),
        (Registry.asn, '{"services": [[["9-1"], ["https://x.example/"]]]}', "ends before it starts"),
        (Registry.asn, '{"services": [[["AS1"], ["https://x.example/"]]]}', "not an AS number range"),
        (Registry.ipv4, '{"services": [[["1.0.0.0/8"], ["ftp://x.example/"]]]}', "no service names"),
        (Registry.ipv4, " " * (bootstrap.MAX_FILE_BYTES + 1), "larger than"),
    ],
)
def test_a_bad_bootstrap_document_is_refused_with_its_reason(registry: Registry, text: str, why: str) -> None:
    with pytest.raises(BootstrapError, match=why):
        bootstrap.parse(registry, text)


class Source(ThreadedServer):
    def __init__(self, files: dict[str, bytes]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("content-length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)


def refresh(source: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STAYDOWN, "hosts", "bootstrap-refresh", "--source", source, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_refresh_keeps_newer_registries_that_then_win_and_a_bad_one_changes_nothing(tmp_path: Path) -> None:
    files = {f"/{r.value}.json": bootstrap.shipped(r).encode() for r in Registry}
    newer = json.loads(files["/ipv4.json"])
    newer["publication"] = "2026-12-01T00:00:00Z"
    newer["services"].append([["100.64.0.0/10"], ["https://rdap.example.net/"]])
    files["/ipv4.json"] = json.dumps(newer).encode()
    with Source(files) as source:
        done = refresh(source.url, tmp_path)
        assert done.returncode == 0, done.stderr
        assert "ipv4: published 2026-12-01T00:00:00Z" in done.stdout
        assert (
            bootstrap.load(Registry.ipv4, tmp_path).service_for(ip("100.64.1.1"))
            == "https://rdap.example.net/"
        )

        files["/asn.json"] = b"<html>maintenance</html>"
        files["/ipv4.json"] = bootstrap.shipped(Registry.ipv4).encode()
        failed = refresh(source.url, tmp_path)
        assert failed.returncode == 1 and "nothing changed" in failed.stderr and "asn.json" in failed.stderr
        assert bootstrap.load(Registry.ipv4, tmp_path).publication == "2026-12-01T00:00:00Z"

    (tmp_path / "rdap" / "ipv6.json").write_text("damaged")
    assert bootstrap.load(Registry.ipv6, tmp_path) == bootstrap.parse(
        Registry.ipv6, bootstrap.shipped(Registry.ipv6)
    )
