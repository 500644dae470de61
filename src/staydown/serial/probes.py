"""Compare a new zone's content with what terminated customers were noticed for.

A returning operator often brings the same site back on a new account: the same images at the
same paths. For each pending zone, the worker fetches (through the origin guard, bounded like a
stay-down capture) the paths at which terminated customers' noticed images were banked, and
compares what it gets with those bank entries (same SHA-256, or PDQ within the automatic-block
distance). A match links the customer to the terminated one with the evidence; until its probe has
run, a zone does not go live while there is anything to compare it with.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.accounts.models import Customer, Standing, Zone, ZoneStatus
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.fingerprints import service as fingerprints
from staydown.fingerprints.hashing import Fingerprint, ImageRejected, fingerprint, hamming
from staydown.fingerprints.models import BankEntry, BankStatus
from staydown.netguard import OriginGuard, OriginRefused
from staydown.notices.models import NoticeItem
from staydown.serial.models import ContentProbe

REFERENCES = 50  # bank entries compared, the most recent first
PATHS = 20  # paths fetched from one new zone
BATCH = 5


class LinkFn(Protocol):
    """How a match becomes a link (``service._link``)."""

    def __call__(
        self,
        session: Session,
        customer: Customer,
        other: int,
        marks: list[tuple[str, str]],
        *,
        zone: Zone | None,
        stage: str,
        now: datetime,
        actor: str,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Reference:
    entry_id: int
    customer_id: int
    notice_id: int | None
    target: str
    sha256: str
    pdq: tuple[str, ...]


def references(session: Session) -> list[Reference]:
    """Bank entries made from terminated customers' noticed items, with the path each was at."""
    rows = session.execute(
        select(
            BankEntry.id,
            NoticeItem.customer_id,
            BankEntry.notice_id,
            NoticeItem.target,
            BankEntry.sha256,
            BankEntry.pdq,
        )
        .join(NoticeItem, NoticeItem.id == BankEntry.item_id)
        .join(Customer, Customer.id == NoticeItem.customer_id)
        .where(Customer.standing == Standing.terminated, BankEntry.status == BankStatus.active)
        .order_by(BankEntry.id.desc())
        .limit(REFERENCES)
    )
    return [Reference(e, c, n, t, s, tuple(p or ())) for e, c, n, t, s, p in rows if c is not None]


def same_content(found: Fingerprint, reference: Reference, *, distance: int) -> bool:
    """Whether ``found`` is the referenced image: the same bytes, or PDQ within ``distance``."""
    if found.sha256.hex() == reference.sha256:
        return True
    hashes = [bytes.fromhex(h) for h in reference.pdq]
    return any(len(q) == len(r) and hamming(q, r) <= distance for q in found.pdq for r in hashes)


# The blocker a pending zone carries until its content probe is done (desk/labels.py reads it).
PROBE_PENDING = "the zone's content is being compared with what terminated customers were noticed for"


def blockers(session: Session, zone: Zone) -> list[str]:
    """A pending zone waits for its content probe while there is anything to compare it with."""
    if zone.status is not ZoneStatus.pending:
        return []
    probe = session.get(ContentProbe, zone.id)
    if probe is not None and probe.status == "done":
        return []
    anything = session.scalar(
        select(BankEntry.id)
        .join(NoticeItem, NoticeItem.id == BankEntry.item_id)
        .join(Customer, Customer.id == NoticeItem.customer_id)
        .where(Customer.standing == Standing.terminated, BankEntry.status == BankStatus.active)
        .limit(1)
    )
    if anything is None:
        return []
    return [PROBE_PENDING]


def run_content_probes(
    database: Database,
    *,
    now: datetime,
    settings: Settings,
    guard: OriginGuard,
    link: LinkFn,
    limit: int = BATCH,
) -> int:
    """Probe pending zones not probed yet; return how many were probed."""
    with database.reader() as session:
        refs = references(session)
        if not refs:
            return 0
        probed = select(ContentProbe.zone_id)
        zones = [
            (z.id, z.customer_id, z.origin, z.hostname)
            for z in session.scalars(
                select(Zone)
                .where(Zone.status == ZoneStatus.pending, Zone.id.not_in(probed))
                .order_by(Zone.id)
                .limit(limit)
            )
        ]
    by_target: dict[str, list[Reference]] = defaultdict(list)
    for ref in refs:
        by_target[ref.target].append(ref)
    done = 0
    for zone_id, customer_id, origin, hostname in zones:
        with database.writer() as session:
            session.add(ContentProbe(zone_id=zone_id, status="running", probed_at=now, matched=0))
            try:
                session.commit()
            except IntegrityError:  # another worker has it
                continue
        found, notes = _probe(origin, hostname, by_target, settings=settings, guard=guard)
        with database.writer() as session:
            probe = session.get(ContentProbe, zone_id)
            assert probe is not None
            probe.status, probe.matched, probe.detail = "done", len(found), "; ".join(notes)[:2000] or None
            customer = accounts.get_customer(session, customer_id)
            zone = accounts.get_zone(session, zone_id)
            assert customer is not None and zone is not None
            shared: dict[int, list[tuple[str, str]]] = defaultdict(list)
            for ref in found:
                if ref.customer_id != customer_id:
                    value = f"{ref.target} is bank entry {ref.entry_id}" + (
                        f" of notice {ref.notice_id}" if ref.notice_id else ""
                    )
                    shared[ref.customer_id].append(("content", value))
            for other, marks in sorted(shared.items()):
                link(session, customer, other, marks, zone=zone, stage="content", now=now, actor="worker")
            if zone.status is ZoneStatus.pending:
                accounts.try_activate(
                    session, zone, now=now, actor="worker", min_level=settings.min_verification_level
                )
            session.commit()
        done += 1
    return done


def _probe(
    origin: str,
    hostname: str,
    by_target: dict[str, list[Reference]],
    *,
    settings: Settings,
    guard: OriginGuard,
) -> tuple[list[Reference], list[str]]:
    found: list[Reference] = []
    notes: list[str] = []
    for target, refs in list(by_target.items())[:PATHS]:
        try:
            content = fingerprints.read_origin(
                origin,
                hostname=hostname,
                target=target,
                timeout=settings.staydown_fetch_timeout_seconds,
                max_bytes=settings.staydown_max_image_bytes,
                guard=guard,
            )
        except OriginRefused as exc:
            return found, [f"not read: {exc.reason}"]
        except fingerprints.OriginUnreadable as exc:
            notes.append(f"{target}: {exc}")
            continue
        if content.status != 200:
            continue
        try:
            image = fingerprint(content.body, limits=fingerprints.image_limits(settings))
        except ImageRejected:
            continue
        found += [r for r in refs if same_content(image, r, distance=settings.staydown_auto_block_distance)]
    return found, notes
