"""Authenticate every feed poll against the database, at the cost of one read per batch of polls.

A key revoked in any process, or by ``staydown keys revoke``, must be refused on its very next
request, so no poll is answered from a cache of keys. What a thousand idle edges cost is then their
key reads: each used to take a connection from the pool (with its liveness ping, a second
transaction) and a thread, once per poll. Here the polls waiting to be authenticated are read
together, in one indexed statement, on a connection of their own in autocommit
(``Database.brief``: one transaction per read, no ping; a dropped connection is retried once). On
PostgreSQL the statement is compiled once and run on the driver's connection as a prepared
statement: less than half the CPU of a read through the ORM's result machinery. Reads start at
least ``PollKeys.spacing`` (0.1 s) apart, so a thousand edges whose polls arrive one by one cost ten
reads a second, not a thousand reads and thread hops. A read starts after every poll in it arrived,
so a revocation committed before a poll is always seen by it; polls that arrive while a read is in
flight, or within the spacing, wait for the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import ARRAY, String, any_, bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from staydown.accounts import service as accounts
from staydown.accounts.models import ApiKey
from staydown.db.engine import Database
from staydown.types import Role

# The live keys among the digests presented (accounts.live_keys, as one PostgreSQL statement).
_LIVE_KEYS = select(ApiKey.key_hash, ApiKey.id, ApiKey.role, ApiKey.trusted, ApiKey.customer_id).where(
    ApiKey.key_hash == any_(bindparam("digests", type_=ARRAY(String))), ApiKey.revoked_at.is_(None)
)


class PollKeys:
    """The live key of each poll, read from the database for every poll (see the module).

    Reads start at least ``spacing`` seconds apart: a lone poll is read at once, but a thousand
    edges whose polls arrive one by one share a read every ``spacing`` seconds (at most 1/spacing
    reads a second, however many edges) instead of a read and a thread hop each. A poll waits at
    most ``spacing`` longer to be answered; records committed meanwhile are in its answer."""

    def __init__(self, database: Database, *, spacing: float = 0.1) -> None:
        self.database, self.spacing = database, spacing
        self.reads = 0  # statements run (each for one batch of polls)
        self._last_read = float("-inf")
        self._pending: dict[str, list[asyncio.Future[accounts.LiveKey | None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._statement: str | None = None

    async def live(self, secret: str) -> accounts.LiveKey | None:
        """The live key ``secret`` is, as the database holds it after this call began; else None."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[accounts.LiveKey | None] = loop.create_future()
        self._pending.setdefault(secret, []).append(answer)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain(), name="staydown-poll-keys")
        return await answer

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            pause = self._last_read + self.spacing - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
            self._last_read = loop.time()
            batch, self._pending = self._pending, {}
            try:
                found = await asyncio.to_thread(self._read, list(batch))
            except Exception as exc:
                for waiting in batch.values():
                    for answer in waiting:
                        if not answer.done():
                            answer.set_exception(exc)
                continue
            for secret, waiting in batch.items():
                for answer in waiting:
                    if not answer.done():  # a poll whose edge left meanwhile is cancelled
                        answer.set_result(found.get(secret))

    def _read(self, secrets: Sequence[str]) -> dict[str, accounts.LiveKey]:
        self.reads += 1
        engine = self.database.brief()
        if engine.dialect.name == "postgresql":
            return self._read_prepared(engine, secrets)
        try:
            with engine.connect() as connection:
                return accounts.live_keys(connection, secrets)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        with engine.connect() as connection:  # the server had dropped the connection: once more
            return accounts.live_keys(connection, secrets)

    def _read_prepared(self, engine: Engine, secrets: Sequence[str]) -> dict[str, accounts.LiveKey]:
        digests = accounts.key_digests(secrets)
        if not digests:
            return {}
        if self._statement is None:
            self._statement = str(_LIVE_KEYS.compile(dialect=engine.dialect))
        for attempt in (1, 2):
            pooled = engine.raw_connection()
            try:
                rows = pooled.driver_connection.execute(  # type: ignore[union-attr]
                    self._statement, {"digests": list(digests)}, prepare=True
                ).fetchall()
            except Exception as exc:
                if attempt == 2 or not engine.dialect.is_disconnect(exc, pooled.dbapi_connection, None):  # type: ignore[arg-type]
                    raise
                pooled.invalidate()  # the server had dropped the connection: once more on a new one
                continue
            finally:
                pooled.close()
            return {
                digests[digest]: accounts.LiveKey(key_id, Role(role), bool(trusted), customer_id)
                for digest, key_id, role, trusted, customer_id in rows
            }
        raise AssertionError("unreachable")
