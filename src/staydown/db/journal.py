"""Gap-free, commit-ordered sequences for the append-only logs (enforcement feed, audit chain).

Entries are staged on the session while a unit of work runs and numbered in ``before_commit``:
each log's head row is locked (``SELECT … FOR UPDATE``; SQLite holds its write lock already), so
sequence numbers are assigned in commit order, a rolled-back transaction consumes none, and a
reader that saw sequence ``n`` committed has also seen every sequence below it. Logs are always
locked in the same order, so two writers can never deadlock on them.

Nothing here happens on import: the assembly (``staydown.assembly.install``) registers each log
and hook and then calls :func:`install`, which attaches the three session listeners this needs.
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
_before_numbering: list[Callable[[Session], None]] = []
_rollback_listeners: list[Callable[[Session], None]] = []


def register(name: str, *, order: int, flush: Flusher) -> None:
    """Declare a log: ``flush`` numbers and writes its staged entries under the locked head."""
    _journals[name] = _Journal(name, order, flush)


def on_commit(listener: Callable[[frozenset[str]], None]) -> None:
    """Call ``listener`` with the names of the logs a transaction appended to, after it commits."""
    if listener not in _commit_listeners:
        _commit_listeners.append(listener)


def before_numbering(hook: Callable[[Session], None]) -> None:
    """Call ``hook`` as a unit of work commits, before its staged entries are numbered: what it
    stages or records (statements of reasons, their audit entries) is numbered with the rest."""
    if hook not in _before_numbering:
        _before_numbering.append(hook)


def on_rollback(listener: Callable[[Session], None]) -> None:
    """Call ``listener`` when a unit of work rolls back, to drop what it kept on the session."""
    if listener not in _rollback_listeners:
        _rollback_listeners.append(listener)


def staged(session: Session, name: str) -> list[Any]:
    """The entries staged for log ``name`` in this unit of work and not yet numbered."""
    pending: dict[str, list[Any]] = session.info.get(_PENDING, {})
    return list(pending.get(name, ()))


def install() -> None:
    """Attach the session listeners that number staged entries at commit; calling it again is harmless."""
    for name, listener in (
        ("before_commit", _number_staged_entries),
        ("after_commit", _announce_commit),
        ("after_soft_rollback", _drop_staged),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


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


def _number_staged_entries(session: Session) -> None:
    for hook in _before_numbering:
        hook(session)
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


def _announce_commit(session: Session) -> None:
    names: frozenset[str] | None = session.info.pop(_COMMITTED, None)
    if names:
        for listener in _commit_listeners:
            listener(names)


def _drop_staged(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_COMMITTED, None)
    for listener in _rollback_listeners:
        listener(session)
