"""A scripted origin and an edge worker running in a thread, for tests over real sockets."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import uvloop

from staydown.config import Settings
from staydown.edge.main import EdgeOptions, run_worker
from staydown.edge.server import EdgeConfig
from staydown.edge.workers import WorkerSlot
from staydown.netguard import OriginAccess
from tests.processes import free_port
from tests.support import ChallengeOrigin, ThreadedServer, customer_body

if TYPE_CHECKING:
    from tests.conftest import Api


@dataclass
class Route:
    body: bytes = b"hello"
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Cache-Control": "public, max-age=300"})
    delay: float = 0.0


class ScriptedOrigin(ThreadedServer):
    """Serves ``routes`` by path (query included) and records every request it receives."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                origin.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = origin.routes.get(self.path) or origin.routes.get(self.path.partition("?")[0])
                if route is None:
                    route = Route(b"missing", 404, {"Cache-Control": "no-store"})
                if route.delay:
                    time.sleep(route.delay)
                etag = route.headers.get("ETag")
                if etag and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    for name, value in route.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    return
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)

    def hits(self, path: str) -> int:
        return sum(1 for seen, _ in self.seen if seen == path)


class EdgeThread:
    """One edge worker on its own uvloop in a thread."""

    def __init__(
        self,
        *,
        control_plane: str,
        key: str,
        data_dir: Path,
        settings: Settings,
        config: EdgeConfig | None = None,
        tls_port: int | None = None,
        cert_seal_key: bytes | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tls_port = tls_port
        self.options = EdgeOptions(
            host="127.0.0.1",
            port=self.port,
            control_plane=control_plane,
            key=key,
            data_dir=data_dir,
            config=config or EdgeConfig(legal_url="https://cdn.example/legal"),
            feed_wait=5.0,
            origins=OriginAccess.from_settings(settings),  # the tests' origins are on loopback
            tls_port=tls_port,
            cert_seal_key=cert_seal_key,
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None
        self.slot = WorkerSlot()  # where the worker says which loopback port serves its metrics

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.stop_event = asyncio.Event()
            ready = asyncio.Event()
            worker = asyncio.create_task(
                run_worker(self.options, 0, stop=self.stop_event, ready=ready, slot=self.slot)
            )
            await ready.wait()
            self.ready.set()
            await worker

        try:
            uvloop.run(main())
        except BaseException as exc:  # surfaced by the test that started it
            self.error = exc
            self.ready.set()

    def __enter__(self) -> EdgeThread:
        self.thread.start()
        assert self.ready.wait(15), "edge did not start"
        if self.error:
            raise self.error
        return self

    @property
    def metrics_url(self) -> str:
        """The worker's own metrics, served on loopback apart from the public port."""
        return f"http://127.0.0.1:{self.slot.metrics_port}/metrics"

    def __exit__(self, *exc: object) -> None:
        if self.loop and self.stop_event and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(15)


def raw_request(port: int, payload: bytes, *, source: str = "127.0.0.1", timeout: float = 5.0) -> bytes:
    """Send bytes on a fresh connection and read until the edge closes it or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as sock:
        sock.sendall(payload)
        chunks = []
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except TimeoutError:
            pass
        return b"".join(chunks)


HOST = "cdn-zone.example.test"


def live_zone(
    api: Api, origin: ScriptedOrigin, hostname: str = HOST, *, customer_id: int | None = None
) -> dict[str, Any]:
    """An active zone on ``origin``, of a new verified customer or of ``customer_id``."""
    agent = api.as_("agent")
    if customer_id is None:
        name = hostname.split(".", maxsplit=1)[0]
        customer = agent.post("/v1/customers", json=customer_body(name)).json()
        agent.post(
            f"/v1/customers/{customer['id']}/verification/decision",
            json={"level": "identity", "reason": "ok"},
        )
    else:
        customer = {"id": customer_id}
    with ChallengeOrigin() as challenge:
        zone = agent.post(
            "/v1/zones", json={"customer_id": customer["id"], "hostname": hostname, "origin": challenge.url}
        ).json()
        challenge.files[zone["challenge"]["http_path"]] = zone["challenge"]["token"]
        agent.post(f"/v1/zones/{zone['id']}/validate", json={"method": "http"})
    # Point the live zone at the scripted origin (what a customer does once validated).
    from staydown.accounts import service as accounts

    with api.database.transaction() as session:
        stored = accounts.get_zone(session, zone["id"])
        assert stored is not None
        stored.origin = origin.url
        accounts.change_zone_status(
            session, stored, accounts.ZoneEvent.suspend, now=api.clock(), actor="test", reason="origin move"
        )
        accounts.change_zone_status(
            session,
            stored,
            accounts.ZoneEvent.reinstate,
            now=api.clock(),
            actor="test",
            reason="origin moved",
        )
    return {"zone_id": zone["id"], "customer_id": customer["id"]}


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def get(edge: EdgeThread, path: str, host: str = HOST, **headers: str) -> httpx.Response:
    return httpx.get(edge.url + path, headers={"host": host, **headers}, timeout=10)
