"""Snapshots of what the edges enforce, so a new, reset or far-behind edge need not replay history.

The snapshot is the log folded by the edge's own bookkeeping (``edge.state.EnforcementState``), so
it is by construction what an edge would hold after applying every record up to its ``seq``. Each
API process keeps its fold and advances it by the records committed since, under a lock; the
encoded, gzip-compressed snapshot of a given ``seq`` is built once and served to every edge asking.

Folding a log of millions of records takes minutes, so the fold is kept in the database too: a
checkpoint (table ``feed_checkpoints``) holds the last snapshot written, and a process that has no
fold yet starts from it and folds only the records after it. A snapshot that has moved
``checkpoint_every`` records past the checkpoint replaces it. On PostgreSQL, folding and writing
the checkpoint happen under an advisory lock: several API processes asked for a snapshot at once
fold the log once, and the others start from the checkpoint the first one wrote.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite

from staydown.db.engine import Database
from staydown.edge.state import EnforcementState, paused_gc, read_snapshot, snapshot_gzip
from staydown.enforcement.feed import document_of, read_head
from staydown.enforcement.models import EnforcementRecord, FeedCheckpoint

CHECKPOINT = "snapshot"
# pg_advisory_lock's key for "a snapshot is being folded": it reads "sd-fold" in ASCII.
FOLD_LOCK_KEY = 0x73642D666F6C64
_FOLD_BATCH = 50_000
_COLUMNS = (
    EnforcementRecord.seq,
    EnforcementRecord.kind,
    EnforcementRecord.zone_id,
    EnforcementRecord.target,
    EnforcementRecord.notice_id,
    EnforcementRecord.item_id,
    EnforcementRecord.payload,
)


@dataclass(frozen=True)
class Snapshot:
    seq: int
    gzipped: bytes


class Snapshots:
    """The fold of the log in this process, the last snapshot encoded from it, and the checkpoint."""

    def __init__(self, database: Database, *, checkpoint_every: int = 10_000) -> None:
        self.database = database
        self.checkpoint_every = checkpoint_every
        self.state = EnforcementState()
        self.latest: Snapshot | None = None
        self.checkpoint_seq = 0  # the stored checkpoint's seq, as this process last saw it
        self.folded = 0  # records this process has folded itself
        self.checkpoint_loads = 0
        self.checkpoint_writes = 0
        self._lock = threading.Lock()

    def current(self) -> Snapshot:
        """A snapshot as of the log's head now (blocking: call from a worker thread)."""
        with self._lock, self._folding():
            with paused_gc():  # the fold builds millions of long-lived objects (see paused_gc)
                self._advance()
            if self.latest is None or self.latest.seq != self.state.seq:
                self.latest = Snapshot(self.state.seq, snapshot_gzip(self.state))
            if self.latest.seq >= self.checkpoint_seq + self.checkpoint_every:
                self._write_checkpoint(self.latest)
            return self.latest

    @contextmanager
    def _folding(self) -> Iterator[None]:
        """Hold the fold lock across processes (PostgreSQL; SQLite has one writer anyway)."""
        if self.database.is_sqlite:
            yield
            return
        with self.database.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": FOLD_LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": FOLD_LOCK_KEY})
                connection.commit()

    def _advance(self) -> None:
        with self.database.reader() as session:
            head = read_head(session)
            if head < self.state.seq:  # the log was replaced: fold it again from the start
                self.state, self.latest = EnforcementState(), None
            stored = session.scalar(select(FeedCheckpoint.seq).where(FeedCheckpoint.name == CHECKPOINT))
            # A checkpoint beyond the head belongs to a log that was replaced: it is overwritten.
            self.checkpoint_seq = stored if stored is not None and stored <= head else 0
            if self.checkpoint_seq > self.state.seq:
                gzipped = session.scalar(
                    select(FeedCheckpoint.state).where(FeedCheckpoint.name == CHECKPOINT)
                )
                if gzipped is not None:
                    self.state = read_snapshot([gzipped])
                    self.latest = Snapshot(self.state.seq, gzipped)
                    self.checkpoint_loads += 1
            while self.state.seq < head:
                # Columns, not ORM objects: the fold of a long log is bound by reading it.
                rows = session.execute(
                    select(*_COLUMNS)
                    .where(EnforcementRecord.seq > self.state.seq, EnforcementRecord.seq <= head)
                    .order_by(EnforcementRecord.seq)
                    .limit(_FOLD_BATCH)
                ).all()
                if not rows:
                    break
                for seq, kind, zone_id, target, notice_id, item_id, payload in rows:
                    self.state.apply(
                        document_of(
                            seq,
                            kind,
                            payload,
                            zone_id=zone_id,
                            target=target,
                            notice_id=notice_id,
                            item_id=item_id,
                        )
                    )
                self.folded += len(rows)

    def _write_checkpoint(self, snapshot: Snapshot) -> None:
        with self.database.transaction() as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = insert(FeedCheckpoint).values(
                name=CHECKPOINT, seq=snapshot.seq, state=snapshot.gzipped, written_at=datetime.now(UTC)
            )
            new = statement.excluded
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[FeedCheckpoint.name],
                    set_={"seq": new.seq, "state": new.state, "written_at": new.written_at},
                )
            )
        self.checkpoint_seq = snapshot.seq
        self.checkpoint_writes += 1


class SnapshotsCollector(Collector):
    """How this process's snapshots were made: records folded, checkpoints read and written."""

    def __init__(self, snapshots: Snapshots) -> None:
        self.snapshots = snapshots

    def collect(self) -> Iterator[Metric]:
        s = self.snapshots
        folded = CounterMetricFamily(
            "staydown_snapshot_folded_records", "Log records this process folded into snapshots itself"
        )
        folded.add_metric([], s.folded)
        yield folded
        loads = CounterMetricFamily(
            "staydown_snapshot_checkpoint_loads", "Folds started from the stored checkpoint"
        )
        loads.add_metric([], s.checkpoint_loads)
        yield loads
        writes = CounterMetricFamily("staydown_snapshot_checkpoint_writes", "Checkpoints written")
        writes.add_metric([], s.checkpoint_writes)
        yield writes
        seq = GaugeMetricFamily("staydown_snapshot_checkpoint_seq", "Sequence of the stored checkpoint")
        seq.add_metric([], s.checkpoint_seq)
        yield seq
