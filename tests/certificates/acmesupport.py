"""Pebble (Let's Encrypt's test ACME server) run by the tests, and an edge stand-in that follows the
enforcement feed over HTTP and answers the ACME challenges its records name: HTTP-01 on a plain
HTTP port and TLS-ALPN-01 (RFC 8737) on a TLS port, both on 127.0.0.1.

The stand-in polls ``/v1/edge/feed`` with an edge key like a real edge, so the control plane's edge
registry learns what it has applied, which is what an order waits for before asking for validation.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from staydown import certseal
from staydown.feedrecords import ChallengeRemoveRecord, ChallengeSetRecord, parse_record

PEBBLE = "/usr/bin/pebble"
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listener_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for Pebble's own HTTPS listener on 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pebble listener")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "listener.pem", directory / "listener-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class Pebble:
    directory: str
    management: str
    ca_bundle: Path  # trusts Pebble's listener (not the certificates it issues)
    http_port: int  # where its validation authority asks HTTP-01 challenges
    tls_port: int  # and TLS-ALPN-01 challenges
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def roots(self) -> list[x509.Certificate]:
        """The roots Pebble signs with (made anew at each start), from its management port."""
        found = httpx.get(
            f"{self.management}/roots/0", verify=ssl.create_default_context(cafile=self.ca_bundle), timeout=10
        )
        found.raise_for_status()
        return x509.load_pem_x509_certificates(found.content)

    def intermediates(self) -> list[x509.Certificate]:
        found = httpx.get(
            f"{self.management}/intermediates/0",
            verify=ssl.create_default_context(cafile=self.ca_bundle),
            timeout=10,
        )
        found.raise_for_status()
        return x509.load_pem_x509_certificates(found.content)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@contextlib.contextmanager
def running_pebble(workdir: Path, *, nameserver: str | None = None) -> Iterator[Pebble]:
    """Pebble on free loopback ports, resolving names with ``nameserver`` (``host:port``) if given,
    else with a mock DNS server answering 127.0.0.1 for every name."""
    workdir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = _listener_certificate(workdir)
    acme_port, management_port, dns_port, dns_management = (free_port() for _ in range(4))
    pebble = Pebble(
        directory=f"https://127.0.0.1:{acme_port}/dir",
        management=f"https://127.0.0.1:{management_port}",
        ca_bundle=cert_path,
        http_port=free_port(),
        tls_port=free_port(),
    )
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{acme_port}",
            "managementListenAddress": f"127.0.0.1:{management_port}",
            "certificate": str(cert_path),
            "privateKey": str(key_path),
            "httpPort": pebble.http_port,
            "tlsPort": pebble.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    config_path = workdir / "pebble-config.json"
    config_path.write_text(json.dumps(config))
    env = {
        **os.environ,
        "PEBBLE_VA_NOSLEEP": "1",
        "PEBBLE_WFE_NONCEREJECT": "0",
        "PEBBLE_AUTHZREUSE": "0",  # every order is validated again, renewals too
    }
    log = (workdir / "pebble.log").open("wb")
    try:
        if nameserver is None:
            nameserver = f"127.0.0.1:{dns_port}"
            pebble.processes.append(
                subprocess.Popen(
                    [
                        CHALLTESTSRV,
                        "-dns01",
                        f"127.0.0.1:{dns_port}",
                        "-http01",
                        "",
                        "-https01",
                        "",
                        "-tlsalpn01",
                        "",
                        "-management",
                        f"127.0.0.1:{dns_management}",
                        "-defaultIPv4",
                        "127.0.0.1",
                        "-defaultIPv6",
                        "",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        pebble.processes.append(
            subprocess.Popen(
                [PEBBLE, "-config", str(config_path), "-dnsserver", nameserver],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        )
        deadline = time.monotonic() + 30
        while True:
            for process in pebble.processes:
                assert process.poll() is None, (workdir / "pebble.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if (
                    httpx.get(
                        pebble.directory, verify=ssl.create_default_context(cafile=cert_path), timeout=2
                    ).status_code
                    == 200
                ):
                    break
            assert time.monotonic() < deadline, (workdir / "pebble.log").read_text()
            time.sleep(0.1)
        yield pebble
    finally:
        pebble.stop()
        log.close()


class ChallengeEdge:
    """Follows the feed as edge ``name`` and answers the challenges it carries (a test stand-in for
    the real edge, which serves the same records)."""

    def __init__(self, *, api_url: str, key: str, secret: bytes, http_port: int, tls_port: int) -> None:
        self.api_url, self.key, self.secret = api_url, key, secret
        self.seq = 0
        self.http: dict[tuple[str, str], str] = {}
        self.tls: dict[str, tuple[str, bytes]] = {}
        self.asked: list[tuple[str, str]] = []  # (challenge type, hostname) the CA asked about
        self.applied: list[Any] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._tempdir = tempfile.TemporaryDirectory()
        self._http_server = self._make_http(http_port)
        self._tls_socket = socket.create_server(("127.0.0.1", tls_port))
        self._tls_socket.settimeout(0.2)
        self._threads = [
            threading.Thread(target=self._follow, daemon=True),
            threading.Thread(target=self._http_server.serve_forever, args=(0.05,), daemon=True),
            threading.Thread(target=self._serve_tls, daemon=True),
        ]

    def __enter__(self) -> ChallengeEdge:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._http_server.shutdown()
        self._http_server.server_close()
        self._tls_socket.close()
        for thread in self._threads:
            thread.join(10)
        self._tempdir.cleanup()

    def _follow(self) -> None:
        with httpx.Client(
            base_url=self.api_url,
            headers={"authorization": f"Bearer {self.key}", "staydown-edge": "challenge-edge"},
            timeout=10,
        ) as client:
            while not self._stop.is_set():
                try:
                    page = client.get("/v1/edge/feed", params={"after": self.seq, "wait": 0.5}).json()
                except httpx.HTTPError:
                    time.sleep(0.1)
                    continue
                for document in page["records"]:
                    self._apply(parse_record(document))
                    self.seq = document["seq"]

    def _apply(self, record: Any) -> None:
        with self._lock:
            self.applied.append(record)
            match record:
                case ChallengeSetRecord(challenge_type="http-01"):
                    self.http[(record.hostname, record.token)] = record.key_authorization
                case ChallengeSetRecord(challenge_type="tls-alpn-01"):
                    assert record.chain_pem is not None and record.key_sealed is not None
                    key = certseal.unseal_challenge_key(record.key_sealed, secret=self.secret)
                    self.tls[record.hostname] = (record.chain_pem, key)
                case ChallengeRemoveRecord():
                    self.http.pop((record.hostname, record.token), None)
                    self.tls.pop(record.hostname, None)

    def _make_http(self, port: int) -> ThreadingHTTPServer:
        edge = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host = (self.headers.get("host") or "").rsplit(":", 1)[0].lower()
                prefix = "/.well-known/acme-challenge/"
                token = self.path[len(prefix) :] if self.path.startswith(prefix) else ""
                with edge._lock:
                    answer = edge.http.get((host, token))
                    edge.asked.append(("http-01", host))
                body = (answer or "not found").encode()
                self.send_response(200 if answer else 404)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        return server

    def _context_for(self, hostname: str) -> ssl.SSLContext | None:
        with self._lock:
            found = self.tls.get(hostname)
        if found is None:
            return None
        chain_pem, key_pem = found
        path = Path(self._tempdir.name) / f"{hostname}.pem"
        path.write_bytes(chain_pem.encode() + key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(path)
        context.set_alpn_protocols(["acme-tls/1"])
        return context

    def _serve_tls(self) -> None:
        base = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        base.set_alpn_protocols(["acme-tls/1"])

        def choose(sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> int | None:
            context = self._context_for((name or "").lower())
            with self._lock:
                self.asked.append(("tls-alpn-01", (name or "").lower()))
            if context is None:
                return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
            sock.context = context
            return None

        base.sni_callback = choose
        while not self._stop.is_set():
            try:
                conn, _addr = self._tls_socket.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(5)
            with contextlib.suppress(OSError, ssl.SSLError), base.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)  # the validator closes once it has seen the certificate
