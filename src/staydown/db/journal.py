"""Gap-free, commit-ordered sequences for the append-only logs (enforcement feed, audit chain).

Entries are staged on the session while a unit of work runs and numbered in ``before_commit``:
each log's head row is locked (``SELECT … FOR UPDATE``; SQLite holds its write lock already), so
sequence numbers are assigned in commit order, a rolled-back transaction consumes none, and a
reader that saw sequence ``n`` committed has also seen every sequence below it. Logs are always
locked in the same order, so two writers can never deadlock on them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, String, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from staydown.db.base import Base

_PENDING = "staydown.journal.pending"
_COMMITTED = "staydown.journal.committed"


class ChainHead(Base):
    """The last sequence number (and, for hash chains, digest) of one append-only log."""

    __tablename__ = "chain_heads"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    digest: Mapped[str] = mapped_column(String(64), default="")


Flusher = Callable[[Session, list[Any], ChainHead], None]


@dataclass(frozen=True)
class _Journal:
    name: str
    order: int
    flush: Flusher


_journals: dict[str, _Journal] = {}
_commit_listeners: list[Callable[[frozenset[str]], None]] = []


def register(name: str, *, order: int, flush: Flusher) -> None:
    """Declare a log: ``flush`` numbers and writes its staged entries under the locked head."""
    _journals[name] = _Journal(name, order, flush)


def on_commit(listener: Callable[[frozenset[str]], None]) -> None:
    """Call ``listener`` with the names of the logs a transaction appended to, after it commits."""
    _commit_listeners.append(listener)


def stage(session: Session, name: str, entry: Any) -> None:
    """Queue ``entry`` for log ``name``; it is numbered and written when the session commits."""
    if name not in _journals:
        raise KeyError(f"no journal named {name!r}")
    session.info.setdefault(_PENDING, {}).setdefault(name, []).append(entry)


def stage_many(session: Session, name: str, entries: list[Any]) -> None:
    """Queue several entries for log ``name`` at once."""
    if name not in _journals:
        raise KeyError(f"no journal named {name!r}")
    session.info.setdefault(_PENDING, {}).setdefault(name, []).extend(entries)


@event.listens_for(Session, "before_commit")
def _number_staged_entries(session: Session) -> None:
    pending: dict[str, list[Any]] = session.info.pop(_PENDING, {})
    if not pending:
        return
    session.flush()
    for journal in sorted(_journals.values(), key=lambda j: j.order):
        entries = pending.get(journal.name)
        if not entries:
            continue
        head = session.execute(
            select(ChainHead).where(ChainHead.name == journal.name).with_for_update()
        ).scalar_one()
        journal.flush(session, entries, head)
    session.flush()
    session.info[_COMMITTED] = frozenset(pending)


@event.listens_for(Session, "after_commit")
def _announce_commit(session: Session) -> None:
    names: frozenset[str] | None = session.info.pop(_COMMITTED, None)
    if names:
        for listener in _commit_listeners:
            listener(names)


@event.listens_for(Session, "after_soft_rollback")
def _drop_staged(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_COMMITTED, None)
