"""Run the control plane's parts in one process: API, worker and, with ``--demo``, the demo."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from pathlib import Path
from typing import Any

import uvicorn
from rich.console import Console

from staydown.api.app import create_app
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.db.migrate import upgrade
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
    if settings.legal_url is None:
        settings = settings.model_copy(update={"legal_url": f"{api_url}/v1/policy/repeat-infringer"})
    app = create_app(settings, database)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(server.serve(sockets=[api_sock]), name="api")]
    if worker:
        tasks.append(asyncio.create_task(run_forever(database, settings, stop=stop), name="worker"))
    origins: list[Any] = []
    try:
        while not server.started:
            if tasks[0].done():
                await tasks[0]
                return
            await asyncio.sleep(0.02)
        console.print(f"api       {api_url}  (OpenAPI at {api_url}/docs)")
        console.print(f"metrics   {api_url}/metrics")
        console.print(f"database  {settings.resolved_database_url.split('@')[-1]}")
        console.print(
            "edge      not in this build yet: the enforcement feed at "
            f"{api_url}/v1/edge/feed is what edges consume"
        )
        if demo:
            from staydown.demo.seed import seed_demo

            document, origins = await asyncio.to_thread(
                seed_demo, database, settings, api_url=api_url, edge_url=None, desk_url=None
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
        database.dispose()
        api_sock.close()
