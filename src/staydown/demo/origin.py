"""The demo origin: serves a directory for any ``Host``, with validators, ranges and cache headers.

Starlette's ``StaticFiles`` does the serving (``ETag``, ``Last-Modified``, ``If-None-Match`` and
``If-Modified-Since`` to 304, ``Range`` and ``If-Range`` to 206, ``HEAD``); :class:`OriginFiles`
adds what a CDN origin needs on top:

- exact ``Content-Type`` for the site's formats, ``text/html; charset=utf-8`` for pages and
  ``text/plain; charset=utf-8`` for domain-control challenge tokens (files without an extension
  under ``/.well-known/staydown-challenge/``);
- ``Cache-Control``: an hour for images, a minute for everything else, ``no-store`` on errors (a
  404 must not be cached: the challenge file may be written a moment later);
- no dot files or dot directories except ``/.well-known`` (so the generator's manifest, temporary
  files or a ``.git`` are never served), no way out of the root, by ``..``, ``%2e%2e``, absolute
  paths or symlinks, and errors in looking a path up are a 404, never a 500;
- a directory URL without its trailing slash redirects with a *relative* ``Location``, so the
  ``Host`` header, whatever it is, never ends up in a response.
"""

from __future__ import annotations

import mimetypes
import os
import socket
import stat
import threading
import time
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

__all__ = ["OriginFiles", "RunningOrigin", "make_origin_app", "run_origin_in_thread"]

CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
}
WELL_KNOWN = ".well-known"
CHALLENGE_DIR = (WELL_KNOWN, "staydown-challenge")
IMAGE_CACHE = "public, max-age=3600"
OTHER_CACHE = "public, max-age=60"
ERROR_CACHE = "no-store"


def _visible(relative: str) -> bool:
    """Whether a normalised path relative to the root may be served: no component starts with a
    dot (which also rules out ``..``), except a leading ``.well-known``."""
    parts = PurePosixPath(relative.replace(os.sep, "/")).parts
    return all(not part.startswith(".") or (i == 0 and part == WELL_KNOWN) for i, part in enumerate(parts))


def content_type(relative: str) -> str:
    """The ``Content-Type`` for a file at ``relative`` (a path under the root)."""
    path = PurePosixPath(relative.replace(os.sep, "/"))
    if path.parts[:2] == CHALLENGE_DIR and not path.suffix:
        return "text/plain; charset=utf-8"
    suffix = path.suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _error(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(
        text, status_code=status, headers={"cache-control": ERROR_CACHE, **(headers or {})}
    )


class OriginFiles(StaticFiles):
    """``StaticFiles(html=True)`` for one directory, hardened and with an origin's headers."""

    def __init__(self, root: Path) -> None:
        super().__init__(directory=root, html=True, follow_symlink=False)
        self.root = root.resolve()

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        """Resolve ``path`` (already normalised by ``get_path``) to a file or directory inside the
        root, following symlinks only when they stay inside it and reach nothing hidden."""
        if not _visible(path):
            return "", None
        try:
            full_path = (self.root / path).resolve()
            if not full_path.is_relative_to(self.root) or not _visible(str(full_path.relative_to(self.root))):
                return "", None
            return str(full_path), full_path.stat()
        except (OSError, ValueError, RuntimeError):  # a loop of links, a name too long, a NUL byte
            return "", None

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            return _error(405, "Method Not Allowed", {"allow": "GET, HEAD"})
        full_path, stat_result = await anyio.to_thread.run_sync(self.lookup_path, path)
        if stat_result is not None and stat.S_ISDIR(stat_result.st_mode):
            index_path, index_stat = await anyio.to_thread.run_sync(
                self.lookup_path, str(PurePosixPath(path, "index.html"))
            )
            if index_stat is None or not stat.S_ISREG(index_stat.st_mode):
                return _error(404, "Not Found")
            if not scope["path"].endswith("/"):
                return self._add_slash(scope)
            return self.file_response(index_path, index_stat, scope)
        if stat_result is not None and stat.S_ISREG(stat_result.st_mode):
            return self.file_response(full_path, stat_result, scope)
        return _error(404, "Not Found")

    @staticmethod
    def _add_slash(scope: Scope) -> Response:
        """Redirect ``/chapter-1`` to ``/chapter-1/`` by path alone: never an absolute URL built from
        the ``Host`` header, and never ``//host/...`` (which a browser would read as another host)."""
        path = "/" + quote(scope["path"], safe="/").lstrip("/") + "/"  # ASGI: path includes root_path
        query = scope.get("query_string", b"").decode("latin-1")
        location = f"{path}?{query}" if query else path
        return RedirectResponse(location, status_code=301, headers={"cache-control": OTHER_CACHE})

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        media_type = content_type(os.path.relpath(full_path, self.root))
        cache = IMAGE_CACHE if media_type.startswith("image/") else OTHER_CACHE
        response = FileResponse(
            full_path,
            status_code=status_code,
            stat_result=stat_result,
            media_type=media_type,
            headers={"cache-control": cache},
        )
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


def make_origin_app(root: Path) -> Starlette:
    """An ASGI app serving ``root`` (created if missing) to any ``Host``."""
    root.mkdir(parents=True, exist_ok=True)
    return Starlette(routes=[Mount("/", app=OriginFiles(root))])


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``; port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class RunningOrigin:
    """The demo origin served by uvicorn in a daemon thread; ``url`` is known once this returns.

    Use it as a context manager or call :meth:`stop`, which closes the listening socket, asks open
    connections to finish (for at most ``grace`` seconds) and joins the thread. Stopping twice is
    harmless.
    """

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0, *, grace: int = 5) -> None:
        self.root = root
        app = make_origin_app(root)  # before binding: a root that cannot be made leaks no socket
        self.sock = bind(host, port)
        self.host, self.port = self.sock.getsockname()[:2]
        self.url = (
            f"http://[{self.host}]:{self.port}" if ":" in self.host else f"http://{self.host}:{self.port}"
        )
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=False,
            timeout_graceful_shutdown=grace,
        )
        self.grace = grace
        self.server = uvicorn.Server(config)
        self._stopped = False
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.sock]},
            name=f"demo-origin-{self.port}",
            daemon=True,
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        if not self.server.started:
            self.stop()
            raise RuntimeError(f"demo origin for {root} did not start")

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.server.should_exit = True
        self.thread.join(self.grace + 5)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(5)
        self.sock.close()

    def __enter__(self) -> RunningOrigin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_origin_in_thread(root: Path, host: str = "127.0.0.1", port: int = 0) -> RunningOrigin:
    """Start serving ``root`` on ``host:port`` (0: a free port); stop it with ``.stop()`` or by
    using the result as a context manager."""
    return RunningOrigin(root, host, port)
