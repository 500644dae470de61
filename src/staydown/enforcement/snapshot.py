"""Snapshots of what the edges enforce, so a new, reset or far-behind edge need not replay history.

The snapshot is the log folded by the edge's own bookkeeping (``edge.state.EnforcementState``), so
it is by construction what an edge would hold after applying every record up to its ``seq``. Each
API process keeps its fold and advances it by the records committed since, under a lock; the
encoded, gzip-compressed snapshot of a given ``seq`` is built once and served to every edge asking.
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass

from sqlalchemy import select

from staydown.db.engine import Database
from staydown.edge.state import EnforcementState, snapshot_lines
from staydown.enforcement.feed import document_of, read_head
from staydown.enforcement.models import EnforcementRecord

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
    """The fold of the log in this process and the last snapshot encoded from it."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.state = EnforcementState()
        self.latest: Snapshot | None = None
        self._lock = threading.Lock()

    def current(self) -> Snapshot:
        """A snapshot as of the log's head now (blocking: call from a worker thread)."""
        with self._lock:
            self._advance()
            if self.latest is None or self.latest.seq != self.state.seq:
                compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip framing, fastest level
                parts = [compressor.compress(line) for line in snapshot_lines(self.state)]
                parts.append(compressor.flush())
                self.latest = Snapshot(self.state.seq, b"".join(parts))
            return self.latest

    def _advance(self) -> None:
        with self.database.reader() as session:
            head = read_head(session)
            if head < self.state.seq:  # the log was replaced: fold it again from the start
                self.state = EnforcementState()
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
