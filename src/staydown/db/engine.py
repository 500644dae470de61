"""Engines and sessions.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL`` so that an acknowledged
write survives a crash, and every writing transaction starts with ``BEGIN IMMEDIATE`` so writers
queue on the busy timeout instead of failing to upgrade a read lock. Readers use a second engine
that shares the pool but begins deferred transactions, so long-polls never hold the write lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

_BEGIN_OPTION = "staydown_sqlite_begin"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun explicitly below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


def create_db_engine(url: str, *, echo: bool = False, pool_size: int = 10, max_overflow: int = 10) -> Engine:
    """Create an engine for ``url`` that opens at most ``pool_size + max_overflow`` connections;
    SQLite files get their directory and pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, echo=echo, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True)


@dataclass
class Database:
    """The engines and session factories of one process."""

    engine: Engine

    def __post_init__(self) -> None:
        reader = self.engine.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(reader, expire_on_commit=False)
        self._brief: Engine | None = None
        self._brief_lock = threading.Lock()

    def brief(self) -> Engine:
        """An engine for frequent one-statement reads on a server database (the feed's key checks):
        one connection of its own in autocommit and without the pool's liveness ping, so that a read
        is one transaction, not three; the caller retries once on a dropped connection. On SQLite,
        the reading engine itself."""
        if self.is_sqlite:
            return self.engine.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
        with self._brief_lock:
            if self._brief is None:
                self._brief = create_engine(
                    self.engine.url, pool_size=1, max_overflow=1, isolation_level="AUTOCOMMIT"
                )
            return self._brief

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 10, max_overflow: int = 10) -> Database:
        return cls(create_db_engine(url, pool_size=pool_size, max_overflow=max_overflow))

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def writer(self) -> Session:
        """A session for a unit of work that writes; commit it explicitly."""
        return self._write()

    def reader(self) -> Session:
        """A session that only reads and never takes the SQLite write lock."""
        return self._read()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Run a writing unit of work: commit on success, roll back on error."""
        with self._write() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self._brief is not None:
            self._brief.dispose()
