"""Shared fixtures: a migrated database on SQLite and PostgreSQL, a clock tests can move, and the
API served over a real socket on 127.0.0.1 with a key for every role."""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest
import uvicorn
from sqlalchemy import text

from staydown import assembly
from staydown.accounts import service as accounts
from staydown.api.app import create_app
from staydown.cli.serve import bind, url_of
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.db.migrate import metadata, upgrade
from staydown.types import Role
from tests.browser import CHROMIUM
from tests.dnsserver import LocalDnsServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser

POSTGRES_URL = os.environ.get(
    "STAYDOWN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_available() -> str | None:
    try:
        with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), connect_timeout=2):
            return None
    except Exception as exc:
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}".splitlines()[0]


@pytest.fixture(scope="session", autouse=True)
def installed() -> None:
    """Wire the domains as the API and the command line do, for tests that call services directly."""
    assembly.install()


@dataclass
class Clock:
    """A clock tests move by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 2, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "staydown.db"
    upgrade(f"sqlite:///{path}")
    Database.from_url(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    reason = _postgres_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test against PostgreSQL: {reason}")
        pytest.skip(reason)
    name = f"staydown_{uuid.uuid4().hex[:12]}"
    admin = POSTGRES_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_postgres(database: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata().sorted_tables if t.name != "chain_heads")
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("UPDATE chain_heads SET seq = 0, digest = ''"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database: a SQLite file or the PostgreSQL test database."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "staydown.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
    else:
        url: str = request.getfixturevalue("postgres_database")
        database = Database.from_url(url)
        _truncate_postgres(database)
        database.dispose()
        yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dns() -> Iterator[LocalDnsServer]:
    with LocalDnsServer() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, database_url: str, dns: LocalDnsServer) -> Settings:
    return settings_for(tmp_path, database_url, dns)


def settings_for(tmp_path: Path, database_url: str, dns: LocalDnsServer, **more: Any) -> Settings:
    """The tests' settings: their own data directory, database and DNS server, with ``more``."""
    # The tests' origins listen on loopback: allowed here as an operator allows private origins.
    base: dict[str, Any] = {"dcv_timeout_seconds": 2.0, "origin_allow": ["127.0.0.0/8"]}
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        dns_nameservers=[dns.nameserver],
        **(base | more),
    )


@dataclass
class Api:
    """The API over a real socket, with a key for every role."""

    url: str
    keys: dict[str, str]
    database: Database
    clock: Clock
    settings: Settings
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, role: str | None = None) -> httpx.Client:
        """A client for ``role`` (closed when the test ends)."""
        headers = {"authorization": f"Bearer {self.keys[role]}"} if role else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def as_(self, role: str) -> httpx.Client:
        return self.client(role)


class ServerThread:
    """Run an ASGI app with uvicorn on 127.0.0.1 in a thread."""

    def __init__(self, app: object) -> None:
        self.sock = bind("127.0.0.1", 0)
        self.url = url_of(self.sock)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))  # type: ignore[arg-type]
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = datetime.now() + timedelta(seconds=10)
        while not self.server.started:
            if datetime.now() > deadline:
                raise RuntimeError("API did not start")
            threading.Event().wait(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def make_keys(database: Database, clock: Clock) -> dict[str, str]:
    keys = {}
    with database.transaction() as session:
        for label, role, trusted in [
            ("admin", Role.admin, False),
            ("agent", Role.agent, False),
            ("agent2", Role.agent, False),
            ("legal", Role.legal, False),
            ("submitter", Role.submitter, False),
            ("trusted_flagger", Role.submitter, True),
            ("edge", Role.edge, False),
        ]:
            _key, secret = accounts.create_key(session, role=role, now=clock(), name=label, trusted=trusted)
            keys[label] = secret
    return keys


@pytest.fixture
def api(database: Database, clock: Clock, settings: Settings) -> Iterator[Api]:
    app = create_app(settings, database, clock=clock)
    keys = make_keys(database, clock)
    with ServerThread(app) as server:
        app.state.origin_guard.serving(*server.sock.getsockname()[:2])
        api = Api(server.url, keys, database, clock, settings)
        yield api
        api.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium (Debian's, driven by Playwright), one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()
