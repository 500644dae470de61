"""The edge registry: which edges exist, how far each has applied the feed, and which are in trouble.

An edge tells the control plane who it is on every feed poll (``Staydown-Edge`` and
``Staydown-Edge-Version`` headers; ``after`` is what it has applied) or, over NATS, on the heartbeat
subject the relay listens to. An edge whose key is refused keeps polling with 401 or 403: that is
recorded too, so a revoked key is seen on the desk instead of silently stopping enforcement.

Contacts are buffered in memory and written in one statement every second or so: a thousand
polling edges cost one small write a second, not a thousand. Refusals are written at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from staydown.db.base import table_of
from staydown.db.engine import Database
from staydown.enforcement.feed import read_head
from staydown.enforcement.models import EdgeContact, EnforcementRecord
from staydown.types import Clock

log = logging.getLogger("staydown.enforcement.registry")


class EdgeState(enum.StrEnum):
    ok = "ok"
    behind = "behind"  # applied, but later than the alert allows
    silent = "silent"  # not heard from within the alert time
    refused = "refused"  # its key was refused (401/403) since it was last accepted


@dataclass(frozen=True, slots=True)
class Contact:
    """One report from an edge (a poll or a heartbeat) or one refusal."""

    edge_id: str
    at: datetime
    version: str = ""
    transport: str = "http"
    seq: int | None = None
    key_id: int | None = None
    refused_status: int | None = None


@dataclass(frozen=True, slots=True)
class EdgeHealth:
    edge_id: str
    version: str
    transport: str
    seq: int
    head: int
    lag_records: int
    lag_seconds: float
    last_contact: datetime | None
    refused_status: int | None
    refused_at: datetime | None
    state: EdgeState

    @property
    def alerting(self) -> bool:
        return self.state is not EdgeState.ok


def judge(
    *,
    last_contact: datetime | None,
    refused_at: datetime | None,
    lag_seconds: float,
    now: datetime,
    alert_seconds: float,
) -> EdgeState:
    """An edge's state from what was last heard of it."""
    if refused_at is not None and (last_contact is None or refused_at >= last_contact):
        return EdgeState.refused
    if last_contact is None or (now - last_contact).total_seconds() > alert_seconds:
        return EdgeState.silent
    if lag_seconds > alert_seconds:
        return EdgeState.behind
    return EdgeState.ok


def lag_seconds(*, seq: int, head: int, oldest_unapplied: datetime | None, now: datetime) -> float:
    """How long the oldest record the edge has not applied has been waiting (0 when caught up)."""
    if seq >= head or oldest_unapplied is None:
        return 0.0
    return max(0.0, (now - oldest_unapplied).total_seconds())


def edge_id_of(header: str | None, *, key_id: int | None) -> str:
    """The edge's own name, cut to what the registry keeps; its key's when it sends none."""
    name = (header or "").strip()[:128]
    if name and name.isprintable():
        return name
    return f"key-{key_id}" if key_id is not None else "unnamed"


def _upsert(session: Session, contacts: Sequence[Contact]) -> None:
    """Write contacts in at most two statements (accepted ones, refusals), whatever their number:
    each statement is the same every time (compiled once, cached), run over the rows at once, on the
    Core table (the ORM's bulk path costs several times as much per row: a thousand edges' polls
    after each notice are a thousand rows)."""
    table = table_of(EdgeContact)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    accepted: dict[str, Contact] = {}
    refused: dict[str, Contact] = {}
    for contact in contacts:  # in arrival order: the last one of each edge wins
        (refused if contact.refused_status is not None else accepted)[contact.edge_id] = contact
    if accepted:
        statement = insert(table)
        new = statement.excluded
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.edge_id],
                set_={
                    "version": new.version,
                    "transport": new.transport,
                    "seq": new.seq,
                    "key_id": func.coalesce(new.key_id, table.c.key_id),
                    "last_contact": new.last_contact,
                    "refused_status": None,
                    "refused_at": None,
                },
            ),
            [
                {
                    "edge_id": c.edge_id,
                    "first_seen": c.at,
                    "version": c.version,
                    "transport": c.transport,
                    "seq": c.seq or 0,
                    "key_id": c.key_id,
                    "last_contact": c.at,
                    "refused_status": None,
                    "refused_at": None,
                }
                for c in accepted.values()
            ],
        )
    if refused:
        statement = insert(table)
        new = statement.excluded
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.edge_id],
                set_={"refused_status": new.refused_status, "refused_at": new.refused_at},
            ),
            [
                {
                    "edge_id": c.edge_id,
                    "first_seen": c.at,
                    "version": c.version,
                    "transport": c.transport,
                    "seq": 0,
                    "key_id": None,
                    "last_contact": None,
                    "refused_status": c.refused_status,
                    "refused_at": c.at,
                }
                for c in refused.values()
            ],
        )


class EdgeRegistry:
    """Buffers contacts from this process and writes them together."""

    def __init__(self, database: Database, *, flush_every: float = 1.0) -> None:
        self.database, self.flush_every = database, flush_every
        self._pending: list[Contact] = []
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def note(self, contact: Contact) -> None:
        """Remember a contact; it is written within ``flush_every`` seconds."""
        with self._lock:
            self._pending.append(contact)
        self._ensure_flushing()

    async def refused(self, contact: Contact) -> None:
        """Record a refusal now: it is what the desk must see."""
        with self._lock:
            self._pending.append(contact)
        await asyncio.to_thread(self.flush)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            with self.database.transaction() as session:
                _upsert(session, pending)
        except Exception:
            log.exception("could not record %d edge contact(s)", len(pending))

    def _ensure_flushing(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._task is None or self._loop is not loop or self._task.done():
            self._loop = loop
            self._task = loop.create_task(self._flush_forever(), name="staydown-edge-registry")

    async def _flush_forever(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.flush_every)
                await asyncio.to_thread(self.flush)
        finally:
            with contextlib.suppress(Exception):
                self.flush()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.to_thread(self.flush)


def list_health(session: Session, *, now: datetime, alert_seconds: float) -> list[EdgeHealth]:
    """Every edge the control plane has heard of, with its state, most troubled first."""
    head = read_head(session)
    rows = session.scalars(select(EdgeContact).order_by(EdgeContact.edge_id)).all()
    behind = sorted({row.seq + 1 for row in rows if row.seq < head})
    waiting_since: dict[int, datetime] = {}
    for start in range(0, len(behind), 500):
        chunk = behind[start : start + 500]
        for seq, at in session.execute(
            select(EnforcementRecord.seq, EnforcementRecord.at).where(EnforcementRecord.seq.in_(chunk))
        ):
            waiting_since[seq] = at
    edges = []
    for row in rows:
        lag = lag_seconds(seq=row.seq, head=head, oldest_unapplied=waiting_since.get(row.seq + 1), now=now)
        state = judge(
            last_contact=row.last_contact,
            refused_at=row.refused_at,
            lag_seconds=lag,
            now=now,
            alert_seconds=alert_seconds,
        )
        edges.append(
            EdgeHealth(
                edge_id=row.edge_id,
                version=row.version,
                transport=row.transport,
                seq=row.seq,
                head=head,
                lag_records=max(0, head - row.seq),
                lag_seconds=round(lag, 3),
                last_contact=row.last_contact,
                refused_status=row.refused_status,
                refused_at=row.refused_at,
                state=state,
            )
        )
    order = {EdgeState.refused: 0, EdgeState.silent: 1, EdgeState.behind: 2, EdgeState.ok: 3}
    return sorted(edges, key=lambda e: (order[e.state], e.edge_id))


def applied_by(session: Session, *, notice_id: int) -> tuple[int | None, list[str], list[str]]:
    """Which edges have applied a notice's blocks: (the seq they must reach, edges that have, edges
    that have not yet). The seq is None when the notice put nothing on the feed."""
    needed = session.scalar(
        select(func.max(EnforcementRecord.seq)).where(
            EnforcementRecord.notice_id == notice_id, EnforcementRecord.kind == "block"
        )
    )
    if needed is None:
        return None, [], []
    rows = session.execute(select(EdgeContact.edge_id, EdgeContact.seq).order_by(EdgeContact.edge_id)).all()
    return (
        int(needed),
        [edge for edge, seq in rows if seq >= needed],
        [edge for edge, seq in rows if seq < needed],
    )


class EdgesCollector(Collector):
    """Prometheus gauges of the registry, read at scrape time."""

    def __init__(self, database: Database, clock: Clock, *, alert_seconds: float) -> None:
        self.database, self.clock, self.alert_seconds = database, clock, alert_seconds

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.database.reader() as session:
            edges = list_health(session, now=self.clock(), alert_seconds=self.alert_seconds)
        by_state = GaugeMetricFamily("staydown_edges", "Edges by state", labels=["state"])
        for state in EdgeState:
            by_state.add_metric([state.value], sum(1 for e in edges if e.state is state))
        yield by_state
        alerting = GaugeMetricFamily(
            "staydown_edges_alerting", "Edges behind, silent or refused past the alert time"
        )
        alerting.add_metric([], sum(1 for e in edges if e.alerting))
        yield alerting
        seq = GaugeMetricFamily(
            "staydown_edge_applied_seq", "Last feed sequence an edge applied", labels=["edge"]
        )
        lag = GaugeMetricFamily(
            "staydown_edge_lag_seconds", "Age of the oldest record an edge has not applied", labels=["edge"]
        )
        alert = GaugeMetricFamily(
            "staydown_edge_alert", "1 while an edge is behind, silent or refused", labels=["edge", "state"]
        )
        for edge in edges:
            seq.add_metric([edge.edge_id], edge.seq)
            lag.add_metric([edge.edge_id], edge.lag_seconds)
            alert.add_metric([edge.edge_id, edge.state.value], 1 if edge.alerting else 0)
        yield seq
        yield lag
        yield alert
