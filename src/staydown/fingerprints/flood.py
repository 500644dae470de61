"""Flood quarantine: a bank entry that matches copies at more distinct URLs in a window than any
real work's copies spread (a logo, a blank page or a site's frame registered by mistake) is taken
off every edge at once, before it takes the network down with it.

The count is made in the database, in the transaction that records the match, with the entry's row
locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time), so two API
processes receiving reports at once neither miss the threshold nor quarantine twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from staydown.audit import service as audit
from staydown.config import Settings
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import FeedKind
from staydown.fingerprints.models import (
    BankEntry,
    BankQuarantine,
    BankStatus,
    QuarantineStatus,
    StaydownMatch,
)


def flooded(urls: int, *, limit: int) -> bool:
    """Has an entry matched more distinct URLs in the window than the limit allows?"""
    return urls > limit


def window_start(session: Session, entry_id: int, *, now: datetime, settings: Settings) -> datetime:
    """Where the count starts: the window's start, or the entry's last release if later (the
    matches an agent already looked at when releasing it do not count again)."""
    since = now - timedelta(seconds=settings.staydown_flood_window_seconds)
    released = session.scalar(
        select(func.max(BankQuarantine.decided_at)).where(
            BankQuarantine.entry_id == entry_id, BankQuarantine.status == QuarantineStatus.released
        )
    )
    return max(since, released) if released is not None else since


def recent_urls(session: Session, entry_id: int, *, since: datetime) -> int:
    """Distinct (zone, target) copies of the entry recorded since ``since``."""
    copies = (
        select(StaydownMatch.zone_id, StaydownMatch.target)
        .where(StaydownMatch.entry_id == entry_id, StaydownMatch.found_at >= since)
        .distinct()
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(copies)) or 0)


def count_new_copy(session: Session, entry: BankEntry, *, now: datetime, settings: Settings) -> None:
    """A new copy of an active entry is being recorded: quarantine the entry if that floods it.
    The caller holds the entry's row lock."""
    if entry.status is not BankStatus.active:
        return
    since = window_start(session, entry.id, now=now, settings=settings)
    urls = recent_urls(session, entry.id, since=since) + 1  # this copy is a new one
    if flooded(urls, limit=settings.staydown_flood_urls):
        quarantine(session, entry, urls=urls, now=now, actor="system", settings=settings)


def quarantine(
    session: Session, entry: BankEntry, *, urls: int, now: datetime, actor: str, settings: Settings
) -> BankQuarantine:
    """Take the entry off every edge (``hash_remove``) and open a review item for an agent."""
    entry.status = BankStatus.quarantined
    window = settings.staydown_flood_window_seconds
    reason = f"quarantined: matched {urls} distinct URLs within {window} s"
    enforcement.append(
        session,
        FeedKind.hash_remove,
        at=now,
        payload={"entry_id": entry.id, "reason": reason},
        notice_id=entry.notice_id,
    )
    item = BankQuarantine(
        entry_id=entry.id, status=QuarantineStatus.open, urls=urls, window_seconds=window, started_at=now
    )
    session.add(item)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="bank.entry_quarantined",
        entity=("bank_entry", entry.id),
        data={
            "quarantine_id": item.id,
            "urls": urls,
            "window_seconds": window,
            "limit": settings.staydown_flood_urls,
        },
    )
    return item
