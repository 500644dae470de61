"""HTTPS from ``staydown edge --workers 2 --tls-port 0`` as real processes: every worker serves TLS
on the shared port, from certificates kept in its local store (the control plane is unreachable),
opened with the sealing key given in a file."""

from __future__ import annotations

import base64
import os
import re
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from staydown import certseal
from staydown.edge.state import EnforcementState, LocalStore
from tests.edge.harness import free_port
from tests.edge.pki import LocalCA
from tests.processes import STAYDOWN, Staydown, eventually

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT as Linux has it")

HOST = "tls-workers.example.test"


def seeded_state(ca: LocalCA, secret: bytes) -> EnforcementState:
    """A zone with a certificate and one blocked page, as the feed would have left them."""
    chain, key = ca.issue(HOST)
    state = EnforcementState()
    records = [
        {"kind": "zone", "zone_id": 7, "customer_id": 1, "hostnames": [HOST], "origin": "http://192.0.2.1",
         "status": "active", "hsts_max_age": 600},
        {"kind": "cert_set", "cert_id": 70, "zone_id": 7, "hostnames": [HOST], "chain_pem": chain,
         "key_sealed": certseal.seal(key, secret=secret, zone_id=7, cert_id=70), "not_after": "2099-01-01"},
        {"kind": "block", "zone_id": 7, "target": "/blocked", "notice_id": 5},
    ]  # fmt: skip
    for seq, record in enumerate(records, start=1):
        state.apply({"seq": seq, **record})
    return state


def test_every_worker_serves_https_on_the_shared_port(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ca = LocalCA(tmp_path / "pki")
    secret = certseal.new_secret()
    key_file = tmp_path / "seal.key"
    key_file.write_text(base64.b64encode(secret).decode() + "\n")
    state = seeded_state(ca, secret)
    for index in range(2):
        LocalStore(data_dir / "edge" / f"worker-{index}").compact(state)
    edge = Staydown(
        "edge", "--control-plane", f"http://127.0.0.1:{free_port()}", "--key", "sd_unused",
        "--port", str(free_port()), "--workers", "2", "--admin-port", "0",
        "--tls-port", "0", "--cert-seal-key-file", str(key_file),
        data_dir=data_dir,
    )  # fmt: skip
    try:
        port = int(edge.printed(r"edge serving https://127\.0\.0\.1:(\d+)").group(1))
        admin = edge.printed(r"metrics\s+(http://127\.0\.0\.1:\d+/metrics)").group(1)
        client = ca.client()

        sessions: list[ssl.SSLSession] = []
        resumed: list[bool] = []

        def fetch(session: ssl.SSLSession | None = None) -> bytes:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
                client.wrap_socket(raw, server_hostname=HOST, session=session) as tls,
            ):
                tls.sendall(f"GET /blocked HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
                chunks = []
                while data := tls.recv(65536):
                    chunks.append(data)
                sessions.append(tls.session)
                resumed.append(tls.session_reused)
                return b"".join(chunks)

        def blocked_by_both() -> bool:
            try:
                answer = fetch()
            except (OSError, ssl.SSLError):
                return False
            assert answer.startswith(b"HTTP/1.1 451") and b"Strict-Transport-Security: max-age=600" in answer
            text = httpx.get(admin, timeout=5).text
            counts = re.findall(
                r'staydown_edge_responses_total\{outcome="blocked",worker="(\d)"\} (\S+)', text
            )
            return {worker for worker, value in counts if float(value) > 0} == {"0", "1"}

        eventually(blocked_by_both, f"both workers never served HTTPS: {edge.output()}", timeout=60)
        # One worker's ticket resumes the session on either: the kernel spreads these connections
        # over both (with a key per worker about half of them would need a full handshake).
        ticket = sessions[-1]
        resumed.clear()
        for _ in range(16):
            assert fetch(ticket).startswith(b"HTTP/1.1 451")
        assert all(resumed), resumed
    finally:
        edge.cleanup()


def test_an_edge_without_the_sealing_key_refuses_to_serve_https(tmp_path: Path) -> None:
    """A key made on the spot would open no certificate: the edge says what it needs instead."""
    bad = tmp_path / "bad.key"
    bad.write_text("not base64!\n")
    base = [*STAYDOWN, "edge", "--control-plane", "http://127.0.0.1:9", "--key", "k", "--tls-port", "0"]
    env = {k: v for k, v in os.environ.items() if k != "STAYDOWN_CERT_SEAL_KEY"}
    for extra, expected in (
        ([], "certificate sealing key"),
        (["--cert-seal-key-file", str(bad)], "cannot read a sealing key"),
    ):
        run = subprocess.run(
            [*base, *extra, "--data-dir", str(tmp_path / "data")],
            capture_output=True, text=True, timeout=60, env=env, check=False,
        )  # fmt: skip
        assert run.returncode == 2 and expected in run.stderr, run.stderr
    assert not (tmp_path / "data" / "cert-seal.key").exists()
