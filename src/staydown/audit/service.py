"""Record events into the audit chain and verify it.

Entries are staged during a unit of work and chained when it commits (see ``db.journal``), so
the chain order is the commit order and a rolled-back step leaves no trace.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from staydown.audit.models import AuditEntry
from staydown.audit.schemas import AuditVerification
from staydown.db import journal
from staydown.db.base import table_of
from staydown.db.journal import ChainHead
from staydown.types import as_utc

JOURNAL = "audit"
GENESIS = "0" * 64


@dataclass
class _Staged:
    at: datetime
    actor: str
    action: str
    entity_type: str | None
    entity_id: str | None
    data: dict[str, Any]
    late_data: Callable[[], dict[str, Any]] | None = field(default=None)


def canonical_json(value: Any) -> str:
    """Serialise ``value`` the one way the chain hashes it."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_digest(
    prev_digest: str,
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    entity_type: str | None,
    entity_id: str | None,
    data: dict[str, Any],
) -> str:
    """Return the chained digest of one entry."""
    body = canonical_json(
        {
            "seq": seq,
            "at": at.isoformat(),
            "actor": actor,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "data": data,
        }
    )
    return hashlib.sha256((prev_digest + body).encode("utf-8")).hexdigest()


def record(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    entity: tuple[str, int | str] | None = None,
    data: dict[str, Any] | None = None,
    late_data: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """Stage an audit entry; ``late_data`` is merged in at commit (e.g. feed sequence numbers)."""
    entity_type, entity_id = (entity[0], str(entity[1])) if entity else (None, None)
    journal.stage(
        session,
        JOURNAL,
        _Staged(as_utc(at), actor, action, entity_type, entity_id, dict(data or {}), late_data),
    )


def _flush(session: Session, staged: list[_Staged], head: ChainHead) -> None:
    rows = []
    seq, digest = head.seq, head.digest or GENESIS
    for entry in staged:
        seq += 1
        data = entry.data | (entry.late_data() if entry.late_data else {})
        # Round-trip through JSON so what is hashed is exactly what the database gives back.
        data = json.loads(canonical_json(data))
        prev = digest
        digest = entry_digest(
            prev,
            seq=seq,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            entity_type=entry.entity_type,
            entity_id=entry.entity_id,
            data=data,
        )
        rows.append(
            {
                "seq": seq,
                "at": entry.at,
                "actor": entry.actor,
                "action": entry.action,
                "entity_type": entry.entity_type,
                "entity_id": entry.entity_id,
                "data": data,
                "prev_digest": prev,
                "digest": digest,
            }
        )
    session.execute(table_of(AuditEntry).insert(), rows)
    head.seq, head.digest = seq, digest


def install() -> None:
    """Declare the audit chain as a log numbered at commit (called by the assembly)."""
    journal.register(JOURNAL, order=20, flush=_flush)


def verify(session: Session, *, batch: int = 5000) -> AuditVerification:
    """Walk the chain from the start and name the first entry whose digest or link does not hold."""
    expected_prev, expected_seq, count = GENESIS, 1, 0
    stmt = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch)
    entries = session.scalars(stmt)
    try:
        for entry in entries:
            count += 1
            if entry.seq != expected_seq:
                return AuditVerification(
                    ok=False, entries=count, first_bad=expected_seq, reason=f"entry {expected_seq} is missing"
                )
            recomputed = entry_digest(
                expected_prev,
                seq=entry.seq,
                at=entry.at,
                actor=entry.actor,
                action=entry.action,
                entity_type=entry.entity_type,
                entity_id=entry.entity_id,
                data=entry.data,
            )
            if entry.prev_digest != expected_prev or entry.digest != recomputed:
                return AuditVerification(
                    ok=False, entries=count, first_bad=entry.seq, reason="content does not match its digest"
                )
            expected_prev, expected_seq = entry.digest, entry.seq + 1
    finally:
        entries.close()  # a server-side cursor left open on PostgreSQL would outlive the session
    head = session.get(ChainHead, JOURNAL)
    if head is not None and head.seq != expected_seq - 1:
        return AuditVerification(
            ok=False,
            entries=count,
            first_bad=expected_seq,
            reason=f"the chain head says {head.seq} entries but {expected_seq - 1} are present",
        )
    return AuditVerification(ok=True, entries=count, first_bad=None)


def list_for_entity(session: Session, entity_type: str, entity_id: int | str) -> Sequence[AuditEntry]:
    """Return the entries about one entity, oldest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.seq)
    )
    return session.scalars(stmt).all()
