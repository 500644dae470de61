"""Build the control plane's ASGI application."""

from __future__ import annotations

import time

from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from staydown import __version__, assembly
from staydown.accounts.api import router as accounts_router
from staydown.api import docs, errors, openapi
from staydown.api.errors import error_response
from staydown.api.metrics import ApiMetrics
from staydown.audit.api import router as audit_router
from staydown.certificates.api import router as certificates_router
from staydown.certificates.metrics import CertificatesCollector
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.desk.api import STATIC_DIR as DESK_STATIC
from staydown.desk.api import home_router
from staydown.desk.api import router as desk_router
from staydown.disclosure.api import router as disclosure_router
from staydown.due_process.api import router as due_process_router
from staydown.enforcement.api import EdgeKeys
from staydown.enforcement.api import router as enforcement_router
from staydown.enforcement.feed import FeedHub, Foreground
from staydown.enforcement.feedroute import FeedPoll
from staydown.enforcement.pollkeys import PollKeys
from staydown.enforcement.registry import EdgeRegistry, EdgesCollector
from staydown.enforcement.service import feed_signal
from staydown.enforcement.snapshot import Snapshots, SnapshotsCollector
from staydown.fingerprints.api import router as staydown_router
from staydown.hosts.api import router as hosts_router
from staydown.inbound.api import router as inbound_router
from staydown.netguard import OriginAccess, OriginGuard
from staydown.notices.api import items_router, webhook_router
from staydown.notices.api import router as notices_router
from staydown.policy.api import router as policy_router
from staydown.reports.api import router as reports_router
from staydown.serial.api import router as serial_router
from staydown.types import Clock, system_clock
from staydown.works.api import router as works_router


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes, whether declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0:
                    response = error_response(400, "bad_request", "Content-Length is not a valid number")
                    await response(scope, receive, send)
                    return
                if declared > self.limit:
                    response = error_response(
                        413,
                        "payload_too_large",
                        f"request body exceeds {self.limit} bytes",
                        {"limit": self.limit},
                    )
                    await response(scope, receive, send)
                    return
        seen = 0
        refused = False

        async def limited() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # Answer 413 now and tell the app the client went away; it may not answer again.
                    refused = True
                    response = error_response(
                        413,
                        "payload_too_large",
                        f"request body exceeds {self.limit} bytes",
                        {"limit": self.limit},
                    )
                    await response(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, limited, guarded_send)


class HeadAsGet:
    """Answer HEAD wherever GET is answered (RFC 9110 section 9.3.2): run it as GET, send no body.

    The request goes on as GET in a copy of the scope, so the server still knows it answers a HEAD;
    the status and headers (``Content-Length`` included) are those GET would have sent.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class RequestMetrics:
    """Count requests and time them by route template (plain ASGI: bodies pass through untouched)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)


class ForegroundRequests:
    """Count the requests in flight other than the edges' (``/v1/edge/...``): the feed's fan-out to
    waiting edges gives way to them (``enforcement.feed.Foreground``)."""

    def __init__(self, app: ASGIApp, foreground: Foreground) -> None:
        self.app, self.foreground = app, foreground

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/v1/edge/"):
            await self.app(scope, receive, send)
            return
        self.foreground.enter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.foreground.leave()


class ControlPlane(FastAPI):
    """The API application. The edges' feed polls, a thousand after every notice, are answered
    before the middleware and routing every other request passes (``enforcement.feedroute``)."""

    feed_poll: FeedPoll | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.feed_poll is not None:
            query = self.feed_poll.takes(scope)
            if query is not None:
                await self.feed_poll.serve(self.state, query, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings,
    database: Database,
    *,
    clock: Clock = system_clock,
    origin_guard: OriginGuard | None = None,
) -> FastAPI:
    """Assemble the API: routers of every domain, error shapes, limits and metrics (whose registry,
    ``app.state.metrics.registry``, is served by a ``MetricsListener`` apart from the API's port).

    ``origin_guard`` makes every connection to a zone origin (validation, desk previews); the
    assembly tells it where the service listens (``OriginGuard.serving``)."""
    assembly.install(settings)
    app = ControlPlane(
        title="staydown control plane",
        version=__version__,
        description="Notices, due process, repeat-infringer policy and the enforcement feed for edges.",
        docs_url=None,  # served from packaged assets below: the docs work without the internet
        redoc_url=None,
    )
    openapi.install(app)
    docs.install(app)
    app.state.settings = settings
    app.state.database = database
    app.state.clock = clock
    app.state.origin_guard = origin_guard or OriginGuard(OriginAccess.from_settings(settings))
    metrics = ApiMetrics(database, clock)
    app.state.metrics = metrics
    app.state.foreground = Foreground()
    app.state.feed_hub = FeedHub(
        database,
        feed_signal,
        page_limit=settings.feed_page_limit,
        idle_interval=settings.feed_poll_interval_seconds,
        safety_interval=settings.feed_safety_poll_seconds,
        foreground=app.state.foreground,
    )
    app.state.feed_snapshots = Snapshots(database, checkpoint_every=settings.feed_checkpoint_records)
    metrics.registry.register(SnapshotsCollector(app.state.feed_snapshots))
    app.state.edge_registry = EdgeRegistry(database)
    app.state.edge_keys = EdgeKeys(database)
    app.state.poll_keys = PollKeys(database)
    app.state.key_caches = [app.state.edge_keys.expire]  # forgotten when a key is revoked
    metrics.registry.register(EdgesCollector(database, clock, alert_seconds=settings.edge_lag_alert_seconds))
    metrics.registry.register(CertificatesCollector(database, clock, settings))
    errors.install(app)
    for router in (notices_router, accounts_router, enforcement_router, audit_router, policy_router):
        app.include_router(router)
    app.include_router(items_router)
    app.include_router(webhook_router)
    app.include_router(desk_router)
    app.include_router(home_router)
    app.mount("/desk/static", StaticFiles(directory=DESK_STATIC), name="desk-static")
    app.include_router(disclosure_router)
    app.include_router(reports_router)
    app.include_router(due_process_router)
    app.include_router(staydown_router)
    app.include_router(works_router)
    app.include_router(certificates_router)
    app.include_router(inbound_router)
    app.include_router(hosts_router)
    app.include_router(serial_router)

    @app.get("/healthz", include_in_schema=False)
    def _health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", include_in_schema=False)
    def _ready() -> Response:
        # For a load balancer: this process is up *and* reaches its database.
        try:
            with database.reader() as session:
                session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return error_response(503, "database_unreachable", "the database does not answer")
        return Response('{"status":"ready"}', media_type="application/json")

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)
    # Outermost, so that routing, limits and metrics all see the GET it becomes.
    app.add_middleware(HeadAsGet)
    app.add_middleware(ForegroundRequests, foreground=app.state.foreground)
    app.feed_poll = FeedPoll(metrics)
    return app
