"""Run the control plane's processes: ``staydown api`` (the API and desk alone, and with
``--feed-port`` the edges' feed on processes of its own) and the single-box ``staydown up`` (migrate,
then API, worker, an edge and, with ``--demo``, the demo)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from rich.console import Console

from staydown import assembly
from staydown.accounts import service as accounts
from staydown.api.app import create_app
from staydown.api.metrics import MetricsListener
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.db.migrate import upgrade
from staydown.edge.main import EdgeOptions, WorkersCollector, reuseport_socket, start_workers
from staydown.edge.workers import Heartbeat, Supervisor, WorkerSlot, heartbeat_interval
from staydown.inbound import smtp
from staydown.netguard import OriginAccess, OriginGuard
from staydown.types import Role, system_clock
from staydown.worker import build as build_worker

console = Console(stderr=True)


def bind(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def embedded_edge_key(settings: Settings, database: Database) -> str:
    """The key the embedded edge uses, kept (mode 0600) in the data directory across restarts."""
    path = settings.data_dir / "edge" / "key"
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        with database.reader() as session:
            key = accounts.authenticate(session, secret)
            if key is not None and key.role is Role.edge:
                return secret
    with database.transaction() as session:
        _key, secret = accounts.create_key(
            session, role=Role.edge, now=system_clock(), name="embedded edge", actor="staydown up"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secret, encoding="utf-8")
    return secret


async def start_edge(
    settings: Settings,
    database: Database,
    *,
    host: str,
    port: int,
    workers: int,
    api_url: str,
    registry: CollectorRegistry,
    tls_port: int | None = None,
) -> tuple[str, Supervisor, str | None]:
    """Start the edge workers on ``port`` (0 picks one), and on ``tls_port`` for HTTPS when given,
    and wait until they answer; their metrics join ``registry``. Return the edge's URLs."""
    key = await asyncio.to_thread(embedded_edge_key, settings, database)
    reservation = reuseport_socket(host, port, listen=False)
    port = reservation.getsockname()[1]
    tls_reservation = reuseport_socket(host, tls_port, listen=False) if tls_port is not None else None
    if tls_reservation is not None:
        tls_port = int(tls_reservation.getsockname()[1])
    options = EdgeOptions.from_settings(
        settings, host=host, port=port, control_plane=api_url, key=key, tls_port=tls_port
    )
    supervisor = start_workers(options, workers)
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    try:
        async with httpx.AsyncClient() as client:
            deadline = asyncio.get_running_loop().time() + 60
            while True:
                try:
                    await client.get(url + "/", headers={"host": "edge-check.invalid"}, timeout=1)
                    break
                except httpx.HTTPError:
                    if asyncio.get_running_loop().time() > deadline or not supervisor.alive():
                        supervisor.stop()
                        raise RuntimeError("the edge did not start") from None
                    await asyncio.sleep(0.1)
    finally:
        reservation.close()
        if tls_reservation is not None:
            tls_reservation.close()
    registry.register(WorkersCollector(supervisor.metrics_ports, restarts=supervisor.restarts.copy))
    tls_url = None
    if tls_port is not None:
        tls_url = f"https://[{host}]:{tls_port}" if ":" in host else f"https://{host}:{tls_port}"
    return url, supervisor, tls_url


def start_metrics(
    registry: CollectorRegistry, settings: Settings, *, port: int, guard: OriginGuard
) -> MetricsListener:
    """Serve ``registry`` on the metrics host (loopback by default), never on the API's port."""
    metrics = MetricsListener(registry, host=settings.metrics_host, port=port)
    guard.serving(settings.metrics_host, metrics.port)  # an origin is never the service itself
    console.print(f"metrics   {metrics.url}  (API and edge workers)")
    return metrics


async def supervise(supervisor: Supervisor, stop: asyncio.Event) -> None:
    """Replace the edge workers that exit or stall, from the loop's thread (which started them)."""
    while not stop.is_set():
        supervisor.check()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), supervisor.interval)


def _api_server(app: FastAPI) -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
    )


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> bool:
    while not server.started:
        if task.done():
            await task
            return False
        await asyncio.sleep(0.02)
    return True


# A feed process's event loop may stop turning this long before its supervisor replaces it: far
# above what a release to thousands of edges keeps it busy, on a loaded machine too.
FEED_STALL_SECONDS = 30.0


@dataclass(frozen=True)
class FeedProcesses:
    """What a feed process serves: the whole API, on a port it shares with the other feed processes
    (``SO_REUSEPORT``), so that the edges' polls never queue behind notice intake, nor it behind them."""

    settings: Settings
    host: str
    port: int
    niceness: int = 0  # added to the processes' nice value: the kernel runs intake first


def feed_process(options: FeedProcesses, index: int, slot: WorkerSlot) -> None:
    """A feed process's body, run by ``edge.workers.worker_entry`` once its life is tied to the
    ``staydown api`` that started it."""
    import uvloop

    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s feed[{index}] %(levelname)s %(name)s: %(message)s"
    )
    uvloop.run(_serve_feed(options, slot))


async def _serve_feed(options: FeedProcesses, slot: WorkerSlot) -> None:
    settings = options.settings
    assembly.install(settings)
    database = Database.from_url(
        settings.resolved_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    sock = reuseport_socket(options.host, options.port)
    guard = OriginGuard(OriginAccess.from_settings(settings))
    guard.serving(options.host, options.port)
    server = _api_server(create_app(settings, database, origin_guard=guard))
    heartbeat = Heartbeat(slot, heartbeat_interval(FEED_STALL_SECONDS))
    task = asyncio.create_task(server.serve(sockets=[sock]), name="feed")
    try:
        if await _started(server, task):
            heartbeat.start()
            if options.niceness:  # once serving: starting is not starved on a busy machine
                os.nice(options.niceness)
            await task
    finally:
        heartbeat.stop()
        server.should_exit = True
        database.dispose()
        sock.close()


async def start_feed(
    settings: Settings, *, host: str, port: int, processes: int, niceness: int = 0
) -> tuple[str, Supervisor]:
    """Start ``processes`` feed processes on ``port`` (0 picks one), ``niceness`` lower in the
    kernel's priority than this one, and wait until they answer."""
    reservation = reuseport_socket(host, port, listen=False)
    port = int(reservation.getsockname()[1])
    supervisor = Supervisor(
        feed_process,
        FeedProcesses(settings, host, port, niceness),
        processes,
        stall=FEED_STALL_SECONDS,
        name="feed process",
    )
    supervisor.start()
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    try:
        async with httpx.AsyncClient() as client:
            deadline = asyncio.get_running_loop().time() + 120
            while True:
                try:
                    if (await client.get(url + "/healthz", timeout=1)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if asyncio.get_running_loop().time() > deadline or not supervisor.alive():
                    supervisor.stop()
                    raise RuntimeError("the feed processes did not start")
                await asyncio.sleep(0.1)
    finally:
        reservation.close()
    return url, supervisor


async def serve_api(
    settings: Settings,
    database: Database,
    *,
    host: str,
    port: int,
    metrics_port: int | None = None,
    feed_port: int | None = None,
    feed_processes: int = 1,
    feed_niceness: int = 0,
) -> None:
    """Serve the API and the desk on ``host:port`` until interrupted, and its metrics on a listener of
    their own; with ``feed_port``, also the whole API from ``feed_processes`` processes of their own
    on that port, for the edges (a commit here wakes their polls by PostgreSQL's NOTIFY)."""
    sock = bind(host, port)
    url = url_of(sock)
    # Validation and previews never reach the service itself, whatever the allowance.
    guard = OriginGuard(OriginAccess.from_settings(settings))
    guard.serving(*sock.getsockname()[:2])
    app = create_app(settings, database, origin_guard=guard)
    server = _api_server(app)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="api")
    metrics: MetricsListener | None = None
    feed: Supervisor | None = None
    stop = asyncio.Event()
    watching: asyncio.Task[None] | None = None
    try:
        if await _started(server, task):
            console.print(f"api       {url}  (OpenAPI at {url}/docs, desk at {url}/desk/)")
            if feed_port is not None:
                feed_url, feed = await start_feed(
                    settings, host=host, port=feed_port, processes=feed_processes, niceness=feed_niceness
                )
                guard.serving(host, int(feed_url.rsplit(":", 1)[1]))
                watching = asyncio.create_task(supervise(feed, stop), name="feed supervisor")
                console.print(
                    f"feed      {feed_url}  ({feed_processes} process(es) of its own; point edges here)"
                )
            port = settings.metrics_port if metrics_port is None else metrics_port
            metrics = start_metrics(app.state.metrics.registry, settings, port=port, guard=guard)
            console.print(f"database  {settings.resolved_database_url.split('@')[-1]}")
            console.print("ready; Ctrl-C to stop")
            await task
    finally:
        server.should_exit = True
        stop.set()
        if watching is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await watching
        if feed is not None:  # synchronously: this must happen even while being cancelled
            feed.stop()
        if metrics is not None:
            metrics.stop()
        database.dispose()
        sock.close()


async def start_mail(database: Database, settings: Settings, *, host: str, port: int) -> asyncio.Server:
    """Receive mail on ``host:port`` (0 picks a free one); the worker reads what arrives."""
    sock = smtp.listening_socket(host, port)
    mail = await smtp.start(database, settings, sock)
    console.print("smtp      {}:{}  (mail intake)".format(*sock.getsockname()[:2]))
    return mail


async def _demo(
    database: Database,
    settings: Settings,
    guard: OriginGuard,
    *,
    api_url: str,
    edge_url: str,
    **listening: str,
) -> list[Any]:
    """Seed the demo and write ``demo.json`` (with where everything listens); return its origins."""
    from staydown.demo.seed import seed_demo

    document, origins = await asyncio.to_thread(
        seed_demo,
        database,
        settings,
        api_url=api_url,
        edge_url=edge_url,
        desk_url=f"{api_url}/desk/",
        guard=guard,
    )
    document.update(listening)
    path = settings.data_dir / "demo.json"
    write_json_atomically(path, document)
    console.print(f"demo      {path}")
    for hostname, zone in document["zones"].items():
        console.print(f"  zone {hostname}: {len(zone['assets'])} assets")
    return origins


async def serve(
    settings: Settings,
    *,
    host: str,
    api_port: int,
    edge_port: int = 8000,
    edge_workers: int = 1,
    edge_tls_port: int | None = None,
    smtp_port: int = 2525,
    metrics_port: int | None = None,
    demo: bool,
) -> None:
    """Run the single box until interrupted: migrate (under the release lock), then the API, a
    worker, the SMTP mail intake and an edge, and with ``demo`` the demo origin and its customers;
    metrics (the API's and the edge workers') on a listener of their own."""
    assembly.install()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    database = Database.from_url(
        settings.resolved_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    api_sock = bind(host, api_port)
    api_url = url_of(api_sock)
    # Validation, previews and captures never reach the service itself, whatever the allowance.
    guard = OriginGuard(OriginAccess.from_settings(settings))
    guard.serving(*api_sock.getsockname()[:2])
    app = create_app(settings, database, origin_guard=guard)
    server = _api_server(app)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(server.serve(sockets=[api_sock]), name="api"),
        asyncio.create_task(
            build_worker(settings, database, origin_guard=guard).run(stop=stop), name="worker"
        ),
    ]
    origins: list[Any] = []
    supervisor: Supervisor | None = None
    metrics: MetricsListener | None = None
    mail = await start_mail(database, settings, host=host, port=smtp_port)
    try:
        if not await _started(server, tasks[0]):
            return
        console.print(f"api       {api_url}  (OpenAPI at {api_url}/docs, desk at {api_url}/desk/)")
        metrics = start_metrics(
            app.state.metrics.registry,
            settings,
            port=settings.metrics_port if metrics_port is None else metrics_port,
            guard=guard,
        )
        console.print(f"database  {settings.resolved_database_url.split('@')[-1]}")
        edge_url, supervisor, edge_tls = await start_edge(
            settings,
            database,
            host=host,
            port=edge_port,
            workers=edge_workers,
            api_url=api_url,
            registry=app.state.metrics.registry,
            tls_port=edge_tls_port,
        )
        tasks.append(asyncio.create_task(supervise(supervisor, stop), name="edge supervisor"))
        for url in (edge_url, edge_tls):
            if url is not None:  # an origin is never the edge itself
                guard.serving(host, int(url.rsplit(":", 1)[1]))
        console.print(f"edge      {edge_url}  ({edge_workers} worker(s), following {api_url}/v1/edge/feed)")
        console.print(
            f"edge tls  {edge_tls}" if edge_tls else "edge tls  off (--edge-tls-port to serve HTTPS)"
        )
        if demo:
            listening = {
                "metrics": metrics.url,
                "smtp": "{}:{}".format(*mail.sockets[0].getsockname()[:2]),
                **({"edge_tls": edge_tls} if edge_tls is not None else {}),
            }
            origins = await _demo(database, settings, guard, api_url=api_url, edge_url=edge_url, **listening)
        console.print("ready; Ctrl-C to stop")
        await tasks[0]
    finally:
        server.should_exit = True
        stop.set()
        mail.close()
        for task in tasks[1:]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for origin in origins:
            origin.stop()
        for part in (supervisor, metrics):  # synchronously: this must happen even while being cancelled
            if part is not None:
                part.stop()
        database.dispose()
        api_sock.close()
