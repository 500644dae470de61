"""Serve the enforcement feed to many waiting edges at the cost of one reader per process.

A long-polling edge used to re-read the database every 0.2 s while it waited, and each commit woke
only the readers in the committing process. Here one ``FeedHub`` per API process does the reading:
it learns of new records from a wake-up source (PostgreSQL ``LISTEN``/``NOTIFY`` across processes,
the in-process commit signal always, and a slow safety re-read), reads the new records once, encodes
each record once, and hands the same bytes to every waiting request. A waiting request costs a
future and a timer, nothing else.

Releasing a thousand waiting requests at once costs a thousand answers and, right after, a thousand
new polls: about as much work as the notice that caused it. Waiting requests are therefore released
in batches that yield to the event loop, and while other requests (notice intake, the desk) are in
flight the release waits for them, for at most ``hold`` seconds a release (``Foreground``). Records
committed meanwhile join the same release: a burst of notices costs each edge one answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from staydown.db.engine import Database
from staydown.db.journal import ChainHead
from staydown.enforcement.models import EnforcementRecord
from staydown.feedrecords import FeedKind, parse_record

log = logging.getLogger("staydown.enforcement.feed")

CHANNEL = "staydown_feed"
JOURNAL = "enforcement"


class FeedAhead(Exception):
    """The reader is ahead of this log: it was made against another database and must resync."""

    def __init__(self, after: int, head: int) -> None:
        super().__init__(f"after={after} is beyond the last sequence {head}")
        self.after, self.head = after, head


def notify_appended(session: Session, seq: int) -> None:
    """Tell every listening process, when this transaction commits, that the log reached ``seq``."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, :seq)"), {"channel": CHANNEL, "seq": str(seq)})


def read_head(session: Session) -> int:
    return session.scalar(select(ChainHead.seq).where(ChainHead.name == JOURNAL)) or 0


def read_rows(session: Session, *, after: int, limit: int) -> list[EnforcementRecord]:
    return list(
        session.scalars(
            select(EnforcementRecord)
            .where(EnforcementRecord.seq > after)
            .order_by(EnforcementRecord.seq)
            .limit(limit)
        ).all()
    )


_RESOURCE_KINDS = frozenset({FeedKind.block, FeedKind.unblock, FeedKind.purge})


def document_of(
    seq: int,
    kind: FeedKind,
    payload: dict[str, Any],
    *,
    zone_id: int | None = None,
    target: str | None = None,
    notice_id: int | None = None,
    item_id: int | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """A record as the feed delivers it (the relay publishes the same): its columns, then its payload."""
    record: dict[str, Any] = {"seq": seq, "kind": kind.value}
    if at is not None:
        record["at"] = at.isoformat()
    if kind in _RESOURCE_KINDS:
        record |= {"zone_id": zone_id, "target": target, "notice_id": notice_id, "item_id": item_id}
    return record | payload


def render(row: EnforcementRecord) -> dict[str, Any]:
    """One stored record the way the feed delivers it."""
    return document_of(
        row.seq,
        row.kind,
        row.payload,
        zone_id=row.zone_id,
        target=row.target,
        notice_id=row.notice_id,
        item_id=row.item_id,
        at=row.at,
    )


def check_record(document: dict[str, Any]) -> None:
    """Refuse to write a record an edge could not apply (a bug at its source, not at every edge)."""
    parse_record(document)


def encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def page_bytes(records: list[bytes], *, last: int, head: int) -> bytes:
    """A feed page from records encoded beforehand: joining bytes, not encoding them again."""
    return b'{"records":[' + b",".join(records) + b'],"last":%d,"head":%d}' % (last, head)


class Foreground:
    """Counts the requests in flight that are not the edges' own (notice intake, the desk, the API):
    the feed's fan-out gives way to them. Used from the event loop's thread only."""

    def __init__(self) -> None:
        self.count = 0
        self._quiet: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def enter(self) -> None:
        self.count += 1

    def leave(self) -> None:
        self.count -= 1
        if self.count <= 0 and self._quiet is not None:
            self._quiet.set()

    async def quiet(self, timeout: float) -> None:
        """Return when no such request is in flight, or after ``timeout`` seconds."""
        if self.count <= 0 or timeout <= 0:
            return
        loop = asyncio.get_running_loop()
        if self._quiet is None or self._quiet.is_set() or self._loop is not loop:
            self._quiet, self._loop = asyncio.Event(), loop
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._quiet.wait(), timeout)


def _time_up(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class CommitSignal(Protocol):
    """Wakes waiters in this process when a feed append commits (``service.FeedSignal``)."""

    @property
    def generation(self) -> int: ...

    async def wait_past(self, generation: int, timeout: float) -> None: ...


@dataclass
class _Read:
    head: int
    rows: list[tuple[int, bytes]]


class FeedHub:
    """The one reader of the feed in an API process, shared by every waiting request.

    ``head`` is the highest sequence this process knows is committed; ``_recent`` holds the encoded
    records of the last ``keep`` sequences, contiguous up to ``head``. Requests at the head park (a
    future each, in ``_waiting``) until the hub has read past them; a release resolves them
    ``release_batch`` at a time, giving way to ``foreground`` requests for at most ``hold`` seconds.
    """

    def __init__(
        self,
        database: Database,
        signal: CommitSignal,
        *,
        page_limit: int,
        idle_interval: float,
        safety_interval: float,
        keep: int = 20_000,
        foreground: Foreground | None = None,
        release_batch: int = 100,
        hold: float = 0.25,
    ) -> None:
        self.database, self.signal = database, signal
        self.page_limit, self.keep = page_limit, keep
        self.idle_interval, self.safety_interval = idle_interval, safety_interval
        self.foreground, self.release_batch, self.hold = foreground, release_batch, hold
        self.head = -1  # unknown until the first read
        self.reads = 0  # database reads done by the hub (wake-ups that found something or not)
        self.releases = 0  # times the waiting requests were released (the head moved)
        self._recent: OrderedDict[int, bytes] = OrderedDict()
        self._pages: dict[tuple[int, int, int], bytes] = {}
        self._wake: asyncio.Event | None = None
        self._waiting: dict[asyncio.Future[None], None] = {}
        self._releasing: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._listening = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- the hub's own loop ------------------------------------------------------------------------

    def _ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and self._loop is loop and not self._task.done():
            return
        if self._loop is not loop:
            self._waiting = {}  # requests parked on a loop that is gone
        self._loop = loop
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._run(), name="staydown-feed-hub")

    def wake(self) -> None:
        """Ask the hub to read the log again (safe from any thread)."""
        loop, event = self._loop, self._wake
        if loop is None or event is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(event.set)

    async def _run(self) -> None:
        assert self._wake is not None
        tasks = [asyncio.create_task(self._forward_signal())]
        if self.database.engine.dialect.name == "postgresql":
            tasks.append(asyncio.create_task(self._listen()))
        try:
            while True:
                self._wake.clear()
                try:
                    more = await self._refresh()
                except Exception:
                    log.exception("feed hub read failed; retrying")
                    more = False
                if more:
                    continue
                interval = self.safety_interval if self._listening else self.idle_interval
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), interval)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _forward_signal(self) -> None:
        assert self._wake is not None
        while True:
            generation = self.signal.generation
            await self.signal.wait_past(generation, 3600)
            if self.signal.generation != generation:
                self._wake.set()

    async def _listen(self) -> None:
        """Hold a ``LISTEN`` connection; every commit of a feed record in any process wakes us."""
        import psycopg

        assert self._wake is not None
        url = self.database.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        backoff = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._listening = True
                    self._wake.set()  # anything committed before LISTEN took hold is read now
                    backoff = 0.5
                    async for _notify in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("feed LISTEN connection lost (%s); re-reading every %ss", exc, self.idle_interval)
            self._listening = False
            await asyncio.sleep(backoff)
            backoff = min(10.0, backoff * 2)

    def _read_new(self, after: int) -> _Read:
        with self.database.reader() as session:
            head = read_head(session)
            rows: list[tuple[int, bytes]] = []
            if head > after:
                rows = [
                    (row.seq, encode(render(row)))
                    for row in read_rows(session, after=after, limit=self.page_limit)
                ]
        return _Read(head, rows)

    async def _refresh(self) -> bool:
        """Read what was committed since ``head``; return whether more is waiting to be read."""
        start = max(self.head, 0)
        before = self.head
        read = await asyncio.to_thread(self._read_new, start)
        self.reads += 1
        if read.head < self.head:  # the log went back (a restored or reset database): start over
            self._recent.clear()
        if read.rows:
            for seq, body in read.rows:
                self._recent[seq] = body
            while len(self._recent) > self.keep:
                self._recent.popitem(last=False)
            self.head = read.rows[-1][0]
        else:
            self.head = read.head
        if self.head != before:
            self._pages.clear()
            self._release()
        return read.head > self.head

    def _release(self) -> None:
        """Wake every parked request: they answer from ``head`` as it is when their turn comes."""
        waiting, self._waiting = self._waiting, {}
        if not waiting:
            return
        self.releases += 1
        task = asyncio.get_running_loop().create_task(self._resolve(list(waiting)))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _resolve(self, waiting: list[asyncio.Future[None]]) -> None:
        held_until = asyncio.get_running_loop().time() + self.hold
        for start in range(0, len(waiting), self.release_batch):
            if start:
                await asyncio.sleep(0)  # the batch just released answers before the next one goes
            if self.foreground is not None and self.foreground.count > 0:
                await self.foreground.quiet(held_until - asyncio.get_running_loop().time())
            for waiter in waiting[start : start + self.release_batch]:
                if not waiter.done():
                    waiter.set_result(None)

    async def _park(self, deadline: float) -> None:
        """Wait until the next release or ``deadline`` (loop time), whichever comes first."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiting[waiter] = None
        timer = loop.call_at(deadline, _time_up, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiting.pop(waiter, None)

    # -- requests ----------------------------------------------------------------------------------

    async def current_head(self) -> int:
        """The head as the hub knows it (reading it once if the hub has not yet)."""
        self._ensure_started()
        while self.head < 0:
            await self._park(asyncio.get_running_loop().time() + 3600)
        return self.head

    def ready(self, *, after: int, limit: int) -> bytes | None:
        """The page after ``after`` when it is already in memory (``after`` is behind the head and
        its records are recent), else None: how a released request is answered without waiting."""
        if self._task is None or self._task.done() or self.head <= after or after < 0:
            return None
        end = min(self.head, after + limit)
        key = (after, end, self.head)
        cached = self._pages.get(key)
        if cached is None and after + 1 in self._recent and end in self._recent:
            cached = page_bytes(
                [self._recent[seq] for seq in range(after + 1, end + 1)], last=end, head=self.head
            )
            self._remember(key, cached)
        return cached

    def _remember(self, key: tuple[int, int, int], body: bytes) -> None:
        if len(self._pages) > 256:
            self._pages.clear()
        self._pages[key] = body

    async def page(self, *, after: int, limit: int, wait: float) -> bytes:
        """The encoded page after ``after``, waiting up to ``wait`` seconds when nothing is new."""
        self._ensure_started()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        head = await self.current_head()
        if wait <= 0 or after > head:
            # Not waiting, or ahead of what this process knows: the database has the last word.
            fresh = await asyncio.to_thread(self._db_head)
            if after > fresh:
                raise FeedAhead(after, fresh)
            if fresh > self.head:
                self.wake()
                return await self._serve(after, limit, fresh)
        while self.head <= after:
            if deadline - loop.time() <= 0:
                return page_bytes([], last=after, head=max(self.head, after))
            await self._park(deadline)
        return await self._serve(after, limit, self.head)

    async def records(self, *, after: int, limit: int, wait: float) -> list[tuple[int, bytes]]:
        """The encoded records after ``after`` (up to ``limit``), waiting up to ``wait`` seconds for
        one: how the relay follows the log."""
        self._ensure_started()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        head = await self.current_head()
        if after > head:
            fresh = await asyncio.to_thread(self._db_head)
            if after > fresh:
                raise FeedAhead(after, fresh)
        while self.head <= after:
            if deadline - loop.time() <= 0:
                return []
            await self._park(deadline)
        end = min(self.head, after + limit)
        if after + 1 in self._recent and end in self._recent:
            return [(seq, self._recent[seq]) for seq in range(after + 1, end + 1)]
        bodies = await asyncio.to_thread(self._read_encoded, after, end - after)
        return [(after + 1 + n, body) for n, body in enumerate(bodies)]

    async def _serve(self, after: int, limit: int, head: int) -> bytes:
        end = min(head, after + limit)
        key = (after, end, head)
        cached = self._pages.get(key)
        if cached is not None:
            return cached
        if end <= after:
            return page_bytes([], last=after, head=head)
        if after + 1 in self._recent and end in self._recent:
            records = [self._recent[seq] for seq in range(after + 1, end + 1)]
        else:
            records = await asyncio.to_thread(self._read_encoded, after, end - after)
            end = after + len(records)
        body = page_bytes(records, last=end if records else after, head=head)
        self._remember(key, body)
        return body

    def _db_head(self) -> int:
        with self.database.reader() as session:
            return read_head(session)

    def _read_encoded(self, after: int, limit: int) -> list[bytes]:
        with self.database.reader() as session:
            return [encode(render(row)) for row in read_rows(session, after=after, limit=limit)]

    async def close(self) -> None:
        for task in list(self._releasing):
            task.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
