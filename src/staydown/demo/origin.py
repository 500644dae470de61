"""The demo origin: serves a directory for any Host, with validators, ranges and cache headers."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from staydown.cli.serve import bind, url_of

_IMAGE_TYPES = (b"image/",)


class CacheHeaders:
    """Add ``Cache-Control``: an hour for images, a minute for everything else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                age = b"3600" if content_type.startswith(_IMAGE_TYPES) else b"60"
                headers.append((b"cache-control", b"public, max-age=" + age))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def make_origin_app(root: Path) -> ASGIApp:
    """An ASGI app serving ``root`` (``index.html`` for directories, 404 for anything else)."""
    root.mkdir(parents=True, exist_ok=True)
    app = Starlette(routes=[Mount("/", app=StaticFiles(directory=root, html=True, follow_symlink=False))])
    return CacheHeaders(app)


class RunningOrigin:
    """A demo origin served by uvicorn in a thread on 127.0.0.1."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = bind(host, port)
        self.url = url_of(self.sock)
        config = uvicorn.Config(make_origin_app(root), log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self.server.started:
            self.stop()
            raise RuntimeError(f"demo origin for {root} did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()

    def __enter__(self) -> RunningOrigin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_origin_in_thread(root: Path, host: str = "127.0.0.1", port: int = 0) -> RunningOrigin:
    """Start serving ``root``; stop it with ``.stop()`` or as a context manager."""
    return RunningOrigin(root, host, port)
