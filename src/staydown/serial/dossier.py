"""The dossier: what the provider knows of a customer and each of its sites, and since when.

Read from the records the other domains keep (notices and their items, stay-down matches,
disclosure orders, policy steps, forwards to hosts); nothing here is stored twice. The figures
are computed "as of" an instant, so a review's evidence is the dossier as it stood when it opened.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from staydown.accounts.models import Customer
from staydown.disclosure.models import DisclosureOrder
from staydown.fingerprints.models import MatchStatus, StaydownMatch
from staydown.hosts import service as hosts
from staydown.hosts.models import ForwardStatus, HostForward
from staydown.notices.flows import ItemStatus
from staydown.notices.models import Notice, NoticeItem
from staydown.policy import service as policy
from staydown.serial.flows import Noticed, rightsholder_key, work_key
from staydown.serial.models import ServedDay, ServedResource
from staydown.serial.schemas import Figures, HostRecord, TimelineDay, TimelineEvent
from staydown.types import as_utc
from staydown.urls import block_key, block_key_hash

UNRESOLVED = (ItemStatus.pending_review, ItemStatus.inquiry)
# Items and stay-down matches whose resource was blocked at some time (blocked now, or restored).
WAS_BLOCKED = (ItemStatus.actioned, ItemStatus.counter_noticed, ItemStatus.restored)
MATCH_BLOCKED = (MatchStatus.blocked, MatchStatus.confirmed)
SERVED_SHARE_NOTE = (
    "Served requests are counted by the edges per zone and per resource and reported as they go; "
    "the share is the requests for resources blocked at any time up to now (by a notice or "
    "stay-down) over all requests served for the zone(s), over the days from served_since to "
    "served_until. Resource counts may be low by at most served_count_error each (bounded "
    "counting, docs/serial.md), so the share is a lower bound; null when no edge has reported."
)


@dataclass(frozen=True, slots=True)
class Served:
    """Requests served for a zone (or a customer's zones) over the days counted, and of them those
    for resources that were blocked."""

    requests: int
    blocked: int
    error: int
    since: date | None
    until: date | None

    @property
    def share(self) -> float | None:
        return round(self.blocked / self.requests, 6) if self.requests else None


def combine(parts: Iterable[Served]) -> Served:
    """A customer's figure from its zones' (a resource's count belongs to one zone: the error
    bound is the largest of theirs)."""
    parts = list(parts)
    return Served(
        requests=sum(p.requests for p in parts),
        blocked=sum(p.blocked for p in parts),
        error=max((p.error for p in parts), default=0),
        since=min((p.since for p in parts if p.since is not None), default=None),
        until=max((p.until for p in parts if p.until is not None), default=None),
    )


def blocked_hashes(targets: Iterable[str]) -> tuple[set[str], set[str]]:
    """The block-key hashes of ``targets`` (canonical), and those of the ones without a query,
    which as a block cover every query of their path."""
    keys = {block_key(t) for t in targets}
    return {block_key_hash(k) for k in keys}, {block_key_hash(k) for k in keys if "?" not in k}


def load_served(session: Session, zone_id: int, *, as_of: datetime) -> Served:
    """What the edges reported served for ``zone_id`` up to ``as_of``'s day."""
    until = as_of.date()
    days = session.execute(
        select(ServedDay.day, ServedDay.requests, ServedDay.error).where(
            ServedDay.zone_id == zone_id, ServedDay.day <= until
        )
    ).all()
    targets = set(
        session.scalars(
            select(NoticeItem.target).where(
                NoticeItem.zone_id == zone_id,
                NoticeItem.status.in_(WAS_BLOCKED),
                NoticeItem.decided_at <= as_of,
            )
        )
    )
    targets.update(
        session.scalars(
            select(StaydownMatch.target).where(
                StaydownMatch.zone_id == zone_id,
                StaydownMatch.status.in_(MATCH_BLOCKED),
                StaydownMatch.found_at <= as_of,
            )
        )
    )
    keys, paths = blocked_hashes(targets)
    counted: dict[tuple[date, str], int] = {}
    wanted, wanted_paths = sorted(keys), sorted(paths)
    for start in range(0, max(len(wanted), len(wanted_paths)), 500):
        condition = or_(
            ServedResource.key_hash.in_(wanted[start : start + 500]),
            ServedResource.path_hash.in_(wanted_paths[start : start + 500]),
        )
        for day, key_hash, requests in session.execute(
            select(ServedResource.day, ServedResource.key_hash, ServedResource.requests).where(
                ServedResource.zone_id == zone_id, ServedResource.day <= until, condition
            )
        ):
            counted[(day, key_hash)] = int(requests)  # a row found through its key and its path once
    return Served(
        requests=sum(int(n) for _, n, _ in days),
        blocked=sum(counted.values()),
        error=sum(int(e) for _, _, e in days),
        since=min((d for d, _, _ in days), default=None),
        until=max((d for d, _, _ in days), default=None),
    )


@dataclass(frozen=True, slots=True)
class ItemRow:
    notice_id: int
    zone_id: int | None
    status: ItemStatus
    canonical_url: str
    work_index: int | None


@dataclass(frozen=True, slots=True)
class NoticeRow:
    id: int
    received_at: datetime
    works: list[object]
    rightsholder: str


@dataclass(frozen=True, slots=True)
class Record:
    """Everything the dossier is computed from, for one customer."""

    items: list[ItemRow]
    notices: dict[int, NoticeRow]
    matches: list[tuple[int, datetime]]  # zone id, found at
    orders: int
    forwards: Sequence[HostForward]


def load(session: Session, customer_id: int, *, as_of: datetime, since: datetime | None = None) -> Record:
    """Read a customer's record as of ``as_of`` (later notices and matches are left out); only
    what came after ``since``, if given (a review's window: a notice's intake reads no more)."""
    stmt = select(
        NoticeItem.notice_id,
        NoticeItem.zone_id,
        NoticeItem.status,
        NoticeItem.canonical_url,
        NoticeItem.work_index,
    ).where(NoticeItem.customer_id == customer_id)
    if since is not None:
        stmt = stmt.join(Notice, Notice.id == NoticeItem.notice_id).where(Notice.received_at > since)
    items = [ItemRow(*row) for row in session.execute(stmt)]
    ids = sorted({item.notice_id for item in items})
    notices: dict[int, NoticeRow] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(
                Notice.id,
                Notice.received_at,
                Notice.works,
                Notice.on_behalf_of,
                Notice.submitter_organization,
                Notice.submitter_name,
            ).where(Notice.id.in_(ids[start : start + 500]), Notice.received_at <= as_of)
        )
        for notice_id, received_at, works, behalf, organisation, name in rows:
            notices[notice_id] = NoticeRow(
                notice_id,
                as_utc(received_at),
                list(works or []),
                rightsholder_key(behalf, organisation, name),
            )
    items = [item for item in items if item.notice_id in notices]
    found = select(StaydownMatch.zone_id, StaydownMatch.found_at).where(
        StaydownMatch.customer_id == customer_id,
        StaydownMatch.status != MatchStatus.dismissed,
        StaydownMatch.found_at <= as_of,
    )
    if since is not None:
        found = found.where(StaydownMatch.found_at > since)
    matches = [(zone_id, as_utc(found_at)) for zone_id, found_at in session.execute(found)]
    orders = session.scalar(
        select(func.count()).where(
            DisclosureOrder.customer_id == customer_id, DisclosureOrder.received_at <= as_of
        )
    )
    forwards = [f for f in hosts.forwards(session, customer_id=customer_id) if as_utc(f.created_at) <= as_of]
    return Record(items, notices, matches, int(orders or 0), forwards)


def noticed(record: Record, zone_id: int | None = None) -> list[Noticed]:
    """Each actioned item as the review counts it (optionally of one zone)."""
    found = []
    for item in record.items:
        if item.status is not ItemStatus.actioned or (zone_id is not None and item.zone_id != zone_id):
            continue
        notice = record.notices[item.notice_id]
        found.append(
            Noticed(
                notice.received_at, work_key(notice.works, item.work_index, notice.id), notice.rightsholder
            )
        )
    return found


def figures(
    record: Record, *, as_of: datetime, zone_id: int | None = None, served: Served | None = None
) -> Figures:
    """The dossier's figures for the customer, or for one of its zones (with what the edges
    reported served for it, if given)."""
    counted = served is not None and served.requests > 0
    items = [i for i in record.items if zone_id is None or i.zone_id == zone_id]
    notice_ids = {i.notice_id for i in items}
    actioned = noticed(record, zone_id)
    unresolved = sorted(
        {i.notice_id for i in items if i.status in UNRESOLVED},
        key=lambda n: (record.notices[n].received_at, n),
    )
    oldest = record.notices[unresolved[0]] if unresolved else None
    first = min((record.notices[n].received_at for n in notice_ids), default=None)
    return Figures(
        first_notice_at=first,
        notices=len(notice_ids),
        works=len({n.work for n in actioned}),
        rightsholders=len({n.rightsholder for n in actioned}),
        urls_actioned=len({i.canonical_url for i in items if i.status is ItemStatus.actioned}),
        staydown_matches=sum(1 for z, _ in record.matches if zone_id is None or z == zone_id),
        disclosure_orders=record.orders if zone_id is None else None,
        served_requests=served.requests if served is not None and counted else None,
        served_requests_later_blocked=served.blocked if served is not None and counted else None,
        served_share_later_blocked=served.share if served is not None else None,
        served_since=served.since if served is not None else None,
        served_until=served.until if served is not None else None,
        served_count_error=served.error if served is not None and counted else None,
        oldest_unresolved_notice_id=oldest.id if oldest else None,
        oldest_unresolved_notice_age_hours=(
            round((as_of - oldest.received_at).total_seconds() / 3600, 2) if oldest else None
        ),
    )


def host_record(forwards: Iterable[HostForward], *, zone_id: int | None = None) -> HostRecord:
    """Whether the host(s) were told and answered; silence is dated from the oldest unanswered
    forward."""
    chosen = [f for f in forwards if zone_id is None or f.zone_id == zone_id]
    unanswered = [f for f in chosen if f.status is ForwardStatus.sent]
    silent = min((as_utc(f.sent_at) for f in unanswered if f.sent_at is not None), default=None)
    reasons: list[str] = []
    for forward in chosen:
        for reason in forward.reasons or []:
            if reason not in reasons:
                reasons.append(reason)
    return HostRecord(
        forwards=len(chosen),
        sent=sum(1 for f in chosen if f.status in (ForwardStatus.sent, ForwardStatus.answered)),
        answered=sum(1 for f in chosen if f.status is ForwardStatus.answered),
        unreachable=sum(1 for f in chosen if f.status is ForwardStatus.unreachable),
        unanswered=len(unanswered),
        reminders=sum(f.reminders for f in chosen),
        silent_since=silent,
        contacts=sorted({f.host_contact for f in chosen if f.host_contact}),
        reasons=reasons[:20],
    )


def timeline(record: Record) -> list[TimelineDay]:
    """Per day: notices received, URLs actioned (by their notice's day), stay-down matches."""
    notices: Counter[str] = Counter(n.received_at.date().isoformat() for n in record.notices.values())
    actioned: dict[str, set[str]] = defaultdict(set)
    for item in record.items:
        if item.status is ItemStatus.actioned:
            actioned[record.notices[item.notice_id].received_at.date().isoformat()].add(item.canonical_url)
    matches: Counter[str] = Counter(at.date().isoformat() for _, at in record.matches)
    days = sorted(set(notices) | set(actioned) | set(matches))
    return [
        TimelineDay(date=d, notices=notices[d], urls_actioned=len(actioned[d]), matches=matches[d])
        for d in days
    ]


def _excerpt(text: str | None, limit: int = 300) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def events(session: Session, customer: Customer, record: Record, *, as_of: datetime) -> list[TimelineEvent]:
    """What the provider did and when: policy steps, forwards to the host and their answers."""
    found = [
        TimelineEvent(at=as_utc(s.at), kind=f"policy.{s.kind.value}", detail=s.reason)
        for s in policy.list_steps(session, customer.id)
    ]
    for forward in record.forwards:
        if forward.sent_at is not None:
            found.append(
                TimelineEvent(
                    at=as_utc(forward.sent_at),
                    kind="host.forwarded",
                    detail=f"notice {forward.notice_id} to {forward.host_contact}",
                )
            )
        if forward.last_reminded_at is not None:
            found.append(
                TimelineEvent(
                    at=as_utc(forward.last_reminded_at),
                    kind="host.reminded",
                    detail=f"notice {forward.notice_id}: reminder {forward.reminders}, no answer",
                )
            )
        if forward.answered_at is not None:
            found.append(
                TimelineEvent(
                    at=as_utc(forward.answered_at),
                    kind="host.answered",
                    detail=f"notice {forward.notice_id}: {_excerpt(forward.answer)}",
                )
            )
    return sorted((e for e in found if e.at <= as_of), key=lambda e: e.at)
