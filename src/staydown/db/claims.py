"""Claim rows of a work queue (outbox messages, timers, captures) so that many workers share it.

A claim is a short transaction of its own: the due rows are selected ``FOR UPDATE SKIP LOCKED``
(PostgreSQL; on SQLite the writer's ``BEGIN IMMEDIATE`` already makes it the only writer), stamped
with the claimant and a lease, and committed before the claimant does anything the world can see.
Two workers therefore never take the same row while its lease runs, and a worker that dies holding
one loses nothing: once the lease has passed, the row is due again and another worker claims it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute

from staydown.db.engine import Database


class Claimable(Protocol):
    """A queue row with a claimant and a lease."""

    id: Any
    claimed_by: Any
    lease_until: Any


Row = TypeVar("Row", bound=Claimable)


def claimant_name() -> str:
    """A name unique to this worker: host and pid (so an operator can find it) and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim(
    database: Database,
    model: type[Row],
    *,
    due: ColumnElement[bool],
    order_by: Sequence[InstrumentedAttribute[Any]],
    now: datetime,
    claimant: str,
    lease: timedelta,
    limit: int,
) -> list[Row]:
    """Claim up to ``limit`` due rows whose lease (if any) has passed, and commit the claim.

    The rows come back detached, with the values they had when claimed.
    """
    lease_until: InstrumentedAttribute[Any] = model.lease_until
    free = select(model.id).where(due, or_(lease_until.is_(None), lease_until <= now)).limit(1)
    with database.reader() as session:  # workers ask every second: take the write lock only for work
        if session.scalar(free) is None:
            return []
    with database.writer() as session:
        rows = list(
            session.scalars(
                select(model)
                .where(due, or_(lease_until.is_(None), lease_until <= now))
                .order_by(*order_by)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for row in rows:
            row.claimed_by = claimant
            row.lease_until = now + lease
        session.commit()
    return rows


def release(database: Database, model: type[Row], ids: Sequence[int], *, claimant: str) -> None:
    """Give back rows this claimant did not get to, so they are due again at once."""
    if ids:
        with database.writer() as session:
            session.execute(
                update(model).where(model.id.in_(ids), model.claimed_by == claimant).values(lease_until=None)
            )
            session.commit()
