"""Run the control plane's parts in one process: API, worker and, with ``--demo``, the demo."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from rich.console import Console

from staydown.accounts import service as accounts
from staydown.api.app import create_app
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.db.migrate import upgrade
from staydown.edge.main import EdgeOptions, reuseport_socket, start_processes, stop_processes
from staydown.netguard import OriginAccess, OriginGuard
from staydown.types import Role, system_clock
from staydown.worker import run_forever

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
    settings: Settings, database: Database, *, host: str, port: int, workers: int, api_url: str
) -> tuple[str, list[Any]]:
    """Start the edge workers on ``port`` (0 picks one) and wait until they answer."""
    key = await asyncio.to_thread(embedded_edge_key, settings, database)
    reservation = reuseport_socket(host, port, listen=False)
    port = reservation.getsockname()[1]
    options = EdgeOptions.from_settings(settings, host=host, port=port, control_plane=api_url, key=key)
    processes = start_processes(options, workers)
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    try:
        async with httpx.AsyncClient() as client:
            deadline = asyncio.get_running_loop().time() + 60
            while True:
                try:
                    await client.get(url + "/", headers={"host": "edge-check.invalid"}, timeout=1)
                    break
                except httpx.HTTPError:
                    if asyncio.get_running_loop().time() > deadline or not all(
                        p.is_alive() for p in processes
                    ):
                        await asyncio.to_thread(stop_processes, processes)
                        raise RuntimeError("the edge did not start") from None
                    await asyncio.sleep(0.1)
    finally:
        reservation.close()
    return url, processes


async def serve(
    settings: Settings,
    *,
    host: str,
    api_port: int,
    edge_port: int = 8000,
    edge_workers: int = 1,
    worker: bool,
    demo: bool,
) -> None:
    """Serve until interrupted."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    database = Database.from_url(settings.resolved_database_url)
    api_sock = bind(host, api_port)
    api_url = url_of(api_sock)
    # Validation, previews and captures never reach the service itself, whatever the allowance.
    guard = OriginGuard(OriginAccess.from_settings(settings))
    guard.serving(*api_sock.getsockname()[:2])
    app = create_app(settings, database, origin_guard=guard)
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
    )
    stop = asyncio.Event()
    tasks = [asyncio.create_task(server.serve(sockets=[api_sock]), name="api")]
    if worker:
        tasks.append(
            asyncio.create_task(run_forever(database, settings, stop=stop, origin_guard=guard), name="worker")
        )
    origins: list[Any] = []
    edge_processes: list[Any] = []
    try:
        while not server.started:
            if tasks[0].done():
                await tasks[0]
                return
            await asyncio.sleep(0.02)
        console.print(f"api       {api_url}  (OpenAPI at {api_url}/docs)")
        console.print(f"metrics   {api_url}/metrics")
        console.print(f"database  {settings.resolved_database_url.split('@')[-1]}")
        edge_url, edge_processes = await start_edge(
            settings, database, host=host, port=edge_port, workers=edge_workers, api_url=api_url
        )
        guard.serving(host, int(edge_url.rsplit(":", 1)[1]))
        console.print(f"edge      {edge_url}  ({edge_workers} worker(s), following {api_url}/v1/edge/feed)")
        if demo:
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
            path = settings.data_dir / "demo.json"
            write_json_atomically(path, document)
            console.print(f"demo      {path}")
            for hostname, zone in document["zones"].items():
                console.print(f"  zone {hostname}: {len(zone['assets'])} assets")
        console.print("ready; Ctrl-C to stop")
        await tasks[0]
    finally:
        server.should_exit = True
        stop.set()
        for task in tasks[1:]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for origin in origins:
            origin.stop()
        stop_processes(edge_processes)  # synchronously: this must happen even while being cancelled
        database.dispose()
        api_sock.close()
