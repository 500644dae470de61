"""The hash bank on the control plane: what enters it, how it reaches the edges, and the matches
they report back.

Entries come from two places: a rightsholder's reference images of a registered work (scope
``network``) and the content of actioned notice items, read from the zone's own origin — never from
a URL taken from a notice — by a durable capture job the worker runs outside any transaction. Each
entry travels to the edges as a ``hash_add`` feed record and leaves as ``hash_remove``. Edges report
the copies they find (``POST /v1/edge/matches``); a copy within the automatic-block distance is
blocked for every edge by a ``block`` record in the same transaction that records the match.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.config import Settings
from staydown.db import claims
from staydown.db.base import bulk_insert
from staydown.db.engine import Database
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel
from staydown.feedrecords import FeedKind
from staydown.fingerprints import flood, flows, letters, threatexchange
from staydown.fingerprints.features import bank_fingerprint, conclusive
from staydown.fingerprints.flows import MatchEvent, StrikeRule
from staydown.fingerprints.hashing import (
    Fingerprint,
    ImageLimits,
    ImageRejected,
    is_image_type,
    sniff,
)
from staydown.fingerprints.index import FaissHashIndex, Thresholds, classify
from staydown.fingerprints.models import (
    BankEntry,
    BankScope,
    BankSource,
    BankStatus,
    CaptureStatus,
    ContentCapture,
    MatchOutcome,
    MatchStatus,
    StaydownMatch,
)
from staydown.fingerprints.schemas import MatchRead, MatchReport
from staydown.netguard import OriginAccess, OriginGuard, OriginRefused
from staydown.policy import service as policy
from staydown.wording import recipient_locale

log = logging.getLogger(__name__)

CAPTURE_LEASE = timedelta(minutes=5)
CAPTURE_RETRY = timedelta(seconds=30)
CAPTURE_BATCH = 20


class StaydownError(Exception):
    def __init__(self, code: str, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(
        auto_block=settings.staydown_auto_block_distance, review=settings.staydown_review_distance
    )


def entry_thresholds(settings: Settings, entry: BankEntry) -> Thresholds:
    """The distances for copies of ``entry``: its work's own automatic-block distance, if set."""
    if entry.auto_block_distance is None:
        return thresholds(settings)
    auto = entry.auto_block_distance
    return Thresholds(auto_block=auto, review=max(auto, settings.staydown_review_distance))


def image_limits(settings: Settings) -> ImageLimits:
    return ImageLimits(
        max_bytes=settings.staydown_max_image_bytes, max_pixels=settings.staydown_max_image_pixels
    )


# --- the bank ----------------------------------------------------------------------------------


def fingerprint_reference(data: bytes, *, limits: ImageLimits) -> Fingerprint:
    """Fingerprint a reference image for the bank: PDQ hashes and the second stage's features."""
    return bank_fingerprint(data, limits=limits)


def entry_payload(entry: BankEntry) -> dict[str, Any]:
    """What a ``hash_add`` record carries: everything an edge needs to match and to scope."""
    return {
        "entry_id": entry.id,
        "scope": entry.scope.value,
        "scope_zone_id": entry.zone_id,
        "scope_customer_id": entry.customer_id,
        "source": entry.source.value,
        "notice_id": entry.notice_id,
        "work_id": entry.work_id,
        "sha256": entry.sha256,
        "pdq": list(entry.pdq),
        **(
            {"auto_block_distance": entry.auto_block_distance}
            if entry.auto_block_distance is not None
            else {}
        ),
    }


def add_entry(
    session: Session,
    fp: Fingerprint,
    *,
    scope: BankScope,
    source: BankSource,
    now: datetime,
    actor: str,
    zone_id: int | None = None,
    customer_id: int | None = None,
    notice_id: int | None = None,
    item_id: int | None = None,
    work_id: int | None = None,
    note: str | None = None,
    auto_block_distance: int | None = None,
) -> BankEntry:
    """Put one fingerprint in the bank and send it to every edge."""
    if scope is BankScope.zone and zone_id is None:
        raise ValueError("a zone-scoped entry needs its zone")
    if scope is BankScope.customer and customer_id is None:
        raise ValueError("a customer-scoped entry needs its customer")
    entry = BankEntry(
        scope=scope,
        zone_id=zone_id,
        customer_id=customer_id,
        source=source,
        notice_id=notice_id,
        item_id=item_id,
        work_id=work_id,
        sha256=fp.sha256.hex(),
        pdq=[h.hex() for h in fp.pdq],
        quality=fp.quality,
        width=fp.width,
        height=fp.height,
        status=BankStatus.active,
        created_at=now,
        note=note,
        auto_block_distance=auto_block_distance,
    )
    session.add(entry)
    session.flush()
    payload = entry_payload(entry)
    if fp.features and not fp.weak:
        # The second stage's features travel in the feed record only (the record is kept): the
        # bank's table keeps what the control plane itself matches on.
        payload["features"] = base64.b64encode(fp.features).decode("ascii")
    enforcement.append(session, FeedKind.hash_add, at=now, payload=payload, notice_id=notice_id)
    audit.record(
        session,
        at=now,
        actor=actor,
        action="bank.entry_added",
        entity=("bank_entry", entry.id),
        data={
            "scope": scope.value,
            "source": source.value,
            "notice_id": notice_id,
            "item_id": item_id,
            "work_id": work_id,
            "sha256": entry.sha256,
            "hashes": len(entry.pdq),
            "features": len(fp.features),
            "quality": fp.quality,
        },
    )
    return entry


def remove_entry(session: Session, entry: BankEntry, *, now: datetime, actor: str, reason: str) -> bool:
    """Take an entry out of the bank on every edge; False if it was already out."""
    if entry.status is BankStatus.removed:
        return False
    entry.status = BankStatus.removed
    entry.removed_at = now
    entry.removed_reason = reason
    enforcement.append(
        session,
        FeedKind.hash_remove,
        at=now,
        payload={"entry_id": entry.id, "reason": reason},
        notice_id=entry.notice_id,
    )
    audit.record(
        session,
        at=now,
        actor=actor,
        action="bank.entry_removed",
        entity=("bank_entry", entry.id),
        data={"reason": reason},
    )
    return True


def parse_hash_list(text: str) -> threatexchange.HashList:
    """Read a ThreatExchange PDQ hash list (``pdq <hash>`` lines)."""
    return threatexchange.parse(text)


def imported_fingerprint(code: bytes) -> Fingerprint:
    """The bank fingerprint of one shared PDQ hash."""
    return threatexchange.imported(code)


def export_hashes(session: Session, *, source: BankSource | None = None, work_id: int | None = None) -> str:
    """The active bank's PDQ hashes as a ThreatExchange hash list (allowlisted ones only if asked)."""
    conditions = [BankEntry.status == BankStatus.active]
    if source is None:
        conditions.append(BankEntry.source != BankSource.allowlist)
    else:
        conditions.append(BankEntry.source == source)
    if work_id is not None:
        conditions.append(BankEntry.work_id == work_id)
    rows = session.execute(
        select(BankEntry.pdq).where(*conditions).order_by(BankEntry.id).execution_options(yield_per=2000)
    )
    return threatexchange.render(bytes.fromhex(code) for (codes,) in rows for code in codes)


@dataclass(frozen=True, slots=True)
class ReferencePrint:
    entry_id: int
    work_id: int
    sha256: str
    pdq: bytes | None  # the image's own hash (the first: unturned, untrimmed), None when weak


def reference_prints(session: Session) -> list[ReferencePrint]:
    """Every reference image still in the bank (active or quarantined), for finding duplicates."""
    rows = session.execute(
        select(BankEntry.id, BankEntry.work_id, BankEntry.sha256, BankEntry.pdq)
        .where(
            BankEntry.source == BankSource.reference,
            BankEntry.status != BankStatus.removed,
            BankEntry.work_id.is_not(None),
        )
        .order_by(BankEntry.id)
    )
    return [
        ReferencePrint(entry_id, int(work_id or 0), sha, bytes.fromhex(pdq[0]) if pdq else None)
        for entry_id, work_id, sha, pdq in rows
    ]


def near_pairs(prints: Sequence[ReferencePrint], *, radius: int) -> list[tuple[int, int, int]]:
    """Pairs of reference prints (by position) of the same file, or within ``radius`` bits."""
    pairs: dict[tuple[int, int], int] = {}
    by_sha: dict[str, list[int]] = {}
    for position, found in enumerate(prints):
        if found.sha256:
            by_sha.setdefault(found.sha256, []).append(position)
    for positions in by_sha.values():
        for a in positions:
            for b in positions:
                if a < b:
                    pairs[a, b] = 0
    index = FaissHashIndex()
    hashed = [(p, found.pdq) for p, found in enumerate(prints) if found.pdq is not None]
    index.add([p + 1 for p, _ in hashed], [code for _, code in hashed])  # ids from 1
    for position, code in hashed:
        for match in index.search([code], radius=radius):
            other = match.id - 1
            if other > position:
                key = (position, other)
                pairs[key] = min(pairs.get(key, match.distance), match.distance)
    return sorted((a, b, distance) for (a, b), distance in pairs.items())


def get_entry(session: Session, entry_id: int) -> BankEntry | None:
    return session.get(BankEntry, entry_id)


def entries_of_work(session: Session, work_id: int) -> Sequence[BankEntry]:
    return session.scalars(select(BankEntry).where(BankEntry.work_id == work_id).order_by(BankEntry.id)).all()


def entries_of_notice(session: Session, notice_id: int) -> Sequence[BankEntry]:
    return session.scalars(
        select(BankEntry).where(BankEntry.notice_id == notice_id).order_by(BankEntry.id)
    ).all()


def bank_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(BankEntry.status, func.count()).group_by(BankEntry.status)).all()
    return {status.value: int(count) for status, count in rows}


# --- capturing noticed content -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaptureSpec:
    """An actioned item whose content should be read from its zone's origin into the bank."""

    item_id: int
    notice_id: int
    zone_id: int
    url: str
    target: str


_CAPTURE_COLUMNS = (
    "item_id",
    "notice_id",
    "zone_id",
    "url",
    "target",
    "status",
    "attempts",
    "created_at",
    "next_attempt_at",
)


def capture_later(session: Session, specs: Sequence[CaptureSpec], *, now: datetime) -> None:
    """Queue content captures in the current unit of work (one row each, written in bulk)."""
    if not specs:
        return
    item_ids = [s.item_id for s in specs]
    queued: set[int] = set()
    for chunk in range(0, len(item_ids), 5000):
        queued.update(
            session.scalars(
                select(ContentCapture.item_id).where(
                    ContentCapture.item_id.in_(item_ids[chunk : chunk + 5000]),
                    ContentCapture.status.in_((CaptureStatus.pending, CaptureStatus.banked)),
                )
            )
        )
    rows = [
        (s.item_id, s.notice_id, s.zone_id, s.url, s.target, CaptureStatus.pending, 0, now, now)
        for s in specs
        if s.item_id not in queued
    ]
    if rows:
        bulk_insert(session, ContentCapture, _CAPTURE_COLUMNS, rows)


def release_items(
    session: Session, item_ids: Sequence[int], *, now: datetime, actor: str, reason: str
) -> int:
    """Items were restored: cancel their pending captures and take their content out of the bank."""
    if not item_ids:
        return 0
    session.execute(
        update(ContentCapture)
        .where(ContentCapture.item_id.in_(item_ids), ContentCapture.status == CaptureStatus.pending)
        .values(status=CaptureStatus.cancelled, done_at=now, detail=reason)
    )
    removed = 0
    for entry in session.scalars(
        select(BankEntry).where(BankEntry.item_id.in_(item_ids), BankEntry.status == BankStatus.active)
    ):
        removed += remove_entry(session, entry, now=now, actor=actor, reason=reason)
    return removed


@dataclass(frozen=True, slots=True)
class OriginContent:
    status: int
    content_type: str
    body: bytes


class OriginUnreadable(Exception):
    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


def read_origin(
    origin: str, *, hostname: str, target: str, timeout: float, max_bytes: int, guard: OriginGuard
) -> OriginContent:
    """GET ``target`` from the zone's registered origin as ``hostname``; no redirects, bounded size.
    The connection is made through ``guard``: ``OriginRefused`` if the policy refuses the origin."""
    headers = {"host": hostname, "user-agent": "staydown-capture/1", "accept": "image/*,*/*;q=0.1"}
    try:
        with (
            guard.client(timeout=timeout) as client,
            client.stream("GET", origin.rstrip("/") + target, headers=headers) as response,
        ):
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise OriginUnreadable(
                    f"the origin's response is {declared} bytes, over {max_bytes}", retry=False
                )
            body = bytearray()
            if response.status_code == 200:
                for piece in response.iter_bytes():
                    body += piece
                    if len(body) > max_bytes:
                        raise OriginUnreadable(
                            f"the origin's response exceeds {max_bytes} bytes", retry=False
                        )
            return OriginContent(response.status_code, response.headers.get("content-type", ""), bytes(body))
    except httpx.HTTPError as exc:
        raise OriginUnreadable(f"the origin could not be read: {exc}", retry=True) from exc


@dataclass(frozen=True, slots=True)
class _Job:
    id: int
    item_id: int
    notice_id: int
    zone_id: int
    url: str
    target: str
    attempts: int
    claimant: str


def _claim(database: Database, *, now: datetime, limit: int, claimant: str) -> list[_Job]:
    rows = claims.claim(
        database,
        ContentCapture,
        due=(ContentCapture.status == CaptureStatus.pending) & (ContentCapture.next_attempt_at <= now),
        order_by=[ContentCapture.next_attempt_at, ContentCapture.id],
        now=now,
        claimant=claimant,
        lease=CAPTURE_LEASE,
        limit=limit,
    )
    return [
        _Job(r.id, r.item_id, r.notice_id, r.zone_id, r.url, r.target, r.attempts, claimant) for r in rows
    ]


def run_captures(
    database: Database,
    *,
    now: datetime,
    settings: Settings,
    guard: OriginGuard | None = None,
    limit: int = CAPTURE_BATCH,
    claimant: str | None = None,
) -> int:
    """Claim due captures, read them from their zones' origins (through ``guard``, by default one of
    the settings' policy) and bank what they hold; return how many ran. A worker that dies holding
    some leaves them to the others once their lease passes."""
    jobs = _claim(database, now=now, limit=limit, claimant=claimant or claims.claimant_name())
    if jobs and guard is None:
        guard = OriginGuard(OriginAccess.from_settings(settings))
    for job in jobs:
        with database.reader() as session:
            zone = accounts.get_zone(session, job.zone_id)
            origin = zone.origin if zone is not None else None
            customer_id = zone.customer_id if zone is not None else None
        outcome: tuple[CaptureStatus, int | None, str, str | None, Fingerprint | None]
        hostname = urlsplit(job.url).hostname or ""
        if origin is None:
            outcome = (CaptureStatus.failed, None, "", "the zone no longer exists", None)
        else:
            assert guard is not None
            outcome = _capture(origin, hostname, job.target, settings, guard)
        _settle(database, job, outcome, customer_id=customer_id, now=now, settings=settings)
    return len(jobs)


def _capture(
    origin: str, hostname: str, target: str, settings: Settings, guard: OriginGuard
) -> tuple[CaptureStatus, int | None, str, str | None, Fingerprint | None]:
    try:
        content = read_origin(
            origin,
            guard=guard,
            hostname=hostname,
            target=target,
            timeout=settings.staydown_fetch_timeout_seconds,
            max_bytes=settings.staydown_max_image_bytes,
        )
    except OriginUnreadable as exc:
        return (CaptureStatus.pending if exc.retry else CaptureStatus.rejected), None, "", str(exc), None
    except OriginRefused as exc:
        return CaptureStatus.failed, None, "", f"not read: {exc.reason}", None
    if content.status != 200:
        retry = content.status >= 500 or content.status == 429
        detail = f"the origin answered {content.status}"
        return (
            (CaptureStatus.pending if retry else CaptureStatus.failed),
            content.status,
            content.content_type,
            detail,
            None,
        )
    if not is_image_type(content.content_type) and sniff(content.body) is None:
        return CaptureStatus.not_image, 200, content.content_type, "not an image the bank covers", None
    try:
        fp = bank_fingerprint(content.body, limits=image_limits(settings))
    except ImageRejected as exc:
        return CaptureStatus.rejected, 200, content.content_type, f"{exc.code}: {exc.message}", None
    return CaptureStatus.banked, 200, content.content_type, None, fp


def _settle(
    database: Database,
    job: _Job,
    outcome: tuple[CaptureStatus, int | None, str, str | None, Fingerprint | None],
    *,
    customer_id: int | None,
    now: datetime,
    settings: Settings,
) -> None:
    status, http_status, content_type, detail, fp = outcome
    with database.writer() as session:
        row = session.get(ContentCapture, job.id, with_for_update=True, populate_existing=True)
        if row is None or row.status is not CaptureStatus.pending:
            return  # cancelled while it was being read (the item was restored)
        if row.claimed_by != job.claimant:
            return  # this worker's lease ran out and another worker took the capture over
        row.attempts = job.attempts + 1
        row.lease_until = None
        row.http_status, row.content_type, row.detail = http_status, content_type[:200] or None, detail
        if status is CaptureStatus.pending:
            if row.attempts >= settings.staydown_capture_attempts:
                row.status, row.done_at, row.next_attempt_at = CaptureStatus.failed, now, None
            else:
                row.next_attempt_at = now + CAPTURE_RETRY * 2 ** (row.attempts - 1)
            session.commit()
            return
        row.status, row.done_at, row.next_attempt_at = status, now, None
        if fp is not None:
            scope = BankScope(settings.staydown_notice_scope)
            entry = add_entry(
                session,
                fp,
                scope=scope,
                source=BankSource.notice,
                now=now,
                actor="worker",
                zone_id=job.zone_id,
                customer_id=customer_id,
                notice_id=job.notice_id,
                item_id=job.item_id,
            )
            row.entry_id = entry.id
        session.commit()


RETRYABLE_CAPTURES = (CaptureStatus.failed, CaptureStatus.rejected)


def retry_capture(
    session: Session, capture_id: int, *, notice_id: int, now: datetime, actor: str
) -> ContentCapture:
    """Read a failed or refused capture's content again (the origin may be back, or fixed)."""
    capture = session.get(ContentCapture, capture_id, with_for_update=True)
    if capture is None or capture.notice_id != notice_id:
        raise StaydownError("not_found", f"capture {capture_id} does not exist", status=404)
    if capture.status not in RETRYABLE_CAPTURES:
        raise StaydownError(
            "not_retryable", f"capture {capture_id} is {capture.status.value}; only failed ones are retried"
        )
    previous = capture.detail
    capture.status, capture.attempts, capture.next_attempt_at = CaptureStatus.pending, 0, now
    capture.done_at, capture.claimed_by, capture.lease_until = None, None, None
    audit.record(
        session,
        at=now,
        actor=actor,
        action="staydown.capture_retried",
        entity=("content_capture", capture.id),
        data={"notice_id": notice_id, "url": capture.url, "previous": previous},
    )
    return capture


def captures_of_notice(session: Session, notice_id: int) -> Sequence[ContentCapture]:
    return session.scalars(
        select(ContentCapture).where(ContentCapture.notice_id == notice_id).order_by(ContentCapture.id)
    ).all()


# --- matches -----------------------------------------------------------------------------------


def _in_scope(entry: BankEntry, *, zone_id: int, customer_id: int | None) -> bool:
    if entry.scope is BankScope.network:
        return True
    if entry.scope is BankScope.customer:
        return customer_id is not None and entry.customer_id == customer_id
    return entry.zone_id == zone_id


def _allowlisted(session: Session, report: MatchReport, *, zone_id: int, customer_id: int | None) -> bool:
    """Is the copy an allowlisted image (its SHA-256), or near one (as the edge found)?"""
    same = BankEntry.sha256 == report.copy_sha256
    if report.allowlisted is not None:
        same = or_(same, BankEntry.id == report.allowlisted)
    for entry in session.scalars(
        select(BankEntry).where(
            same, BankEntry.source == BankSource.allowlist, BankEntry.status == BankStatus.active
        )
    ):
        if _in_scope(entry, zone_id=zone_id, customer_id=customer_id):
            return True
    return False


def report_match(
    session: Session, report: MatchReport, *, now: datetime, actor: str, settings: Settings
) -> tuple[StaydownMatch | None, bool]:
    """Record a copy an edge found; return (match, created). None: the copy is the noticed item itself."""
    # Locked: the flood count below must see every match of this entry other processes record.
    entry = session.get(BankEntry, report.entry_id, with_for_update=True)
    if entry is None:
        raise StaydownError("not_found", f"bank entry {report.entry_id} does not exist", status=404)
    if entry.status is BankStatus.removed or entry.source is BankSource.allowlist:
        raise StaydownError("entry_removed", f"bank entry {entry.id} is not in the bank")
    zone = accounts.get_zone(session, report.zone_id)
    if zone is None:
        raise StaydownError("not_found", f"zone {report.zone_id} does not exist", status=404)
    if not _in_scope(entry, zone_id=zone.id, customer_id=zone.customer_id):
        raise StaydownError(
            "out_of_scope",
            f"bank entry {entry.id} ({entry.scope.value}) does not cover zone {zone.id}",
            status=422,
        )
    distance = 0 if report.exact else report.distance
    if report.exact and report.copy_sha256 != entry.sha256:
        raise StaydownError("not_a_match", "an exact match must have the entry's SHA-256", status=422)
    verdict = classify(distance, entry_thresholds(settings, entry))
    tightened = (
        entry.auto_block_distance is not None
        and entry.auto_block_distance < settings.staydown_auto_block_distance
    )
    if report.evidence is not None and not report.exact and verdict != "block" and not tightened:
        # The second stage blocks on its own evidence, judged here by the same rule as on the edge.
        evidence = report.evidence
        strong = conclusive(
            inliers=evidence.inliers, correlation=evidence.correlation, precision=evidence.precision
        )
        verdict = "block" if strong else verdict
    if verdict == "block" and _allowlisted(session, report, zone_id=zone.id, customer_id=zone.customer_id):
        verdict = "review"  # an allowlisted image is never blocked automatically, whatever reports it
    if verdict == "none":
        raise StaydownError(
            "not_a_match",
            f"distance {distance} is beyond the review distance {settings.staydown_review_distance}",
            status=422,
        )
    if entry.item_id is not None:
        noticed = session.scalar(
            select(ContentCapture.id).where(
                ContentCapture.entry_id == entry.id,
                ContentCapture.zone_id == zone.id,
                ContentCapture.target == report.target,
            )
        )
        if noticed is not None:
            return None, False
    existing = session.scalars(
        select(StaydownMatch)
        .where(
            StaydownMatch.entry_id == entry.id,
            StaydownMatch.zone_id == zone.id,
            StaydownMatch.target == report.target,
        )
        .order_by(StaydownMatch.id.desc())
    ).first()
    if existing is not None and (
        existing.status is not MatchStatus.dismissed or existing.copy_sha256 == report.copy_sha256
    ):
        return existing, False  # edges report again after restarts; a dismissal covers that copy
    flood.count_new_copy(session, entry, now=now, settings=settings)
    if entry.status is BankStatus.quarantined:
        verdict = "review"  # a paused entry blocks nothing more; an agent sees every copy it found
    outcome = MatchOutcome.block if verdict == "block" else MatchOutcome.review
    status, commands = flows.match_found(
        outcome, strikes=StrikeRule(settings.staydown_match_strikes), customer_known=True
    )
    match = StaydownMatch(
        entry_id=entry.id,
        notice_id=entry.notice_id,
        work_id=entry.work_id,
        zone_id=zone.id,
        customer_id=zone.customer_id,
        url=report.url,
        target=report.target,
        distance=distance,
        exact=report.exact,
        copy_sha256=report.copy_sha256,
        outcome=outcome,
        status=status,
        reported_by=actor,
        found_at=now,
    )
    session.add(match)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="staydown.match_found",
        entity=("staydown_match", match.id),
        data={
            "entry_id": entry.id,
            "notice_id": entry.notice_id,
            "work_id": entry.work_id,
            "zone_id": zone.id,
            "url": report.url,
            "distance": distance,
            "outcome": outcome.value,
            **({"evidence": report.evidence.model_dump()} if report.evidence is not None else {}),
            **({"part": report.part} if report.part != "whole" else {}),
        },
    )
    _run(
        session, match, commands, now=now, actor=actor, settings=settings, reason="automatic stay-down match"
    )
    return match, True


def decide_match(
    session: Session,
    match_id: int,
    *,
    decision: str,
    reason: str,
    now: datetime,
    actor: str,
    settings: Settings,
) -> StaydownMatch:
    """An agent confirms or dismisses a match, through the same workflow as everything else."""
    match = session.get(StaydownMatch, match_id)
    if match is None:
        raise StaydownError("not_found", f"match {match_id} does not exist", status=404)
    try:
        status, commands = flows.match_decided(
            match.status,
            MatchEvent(decision),
            strikes=StrikeRule(settings.staydown_match_strikes),
            customer_known=match.customer_id is not None,
        )
    except flows.IllegalTransition as exc:
        raise StaydownError("illegal_transition", str(exc)) from exc
    match.status = status
    match.decided_at, match.decided_by, match.decision_reason = now, actor, reason
    audit.record(
        session,
        at=now,
        actor=actor,
        action=f"staydown.match_{status.value}",
        entity=("staydown_match", match.id),
        data={"reason": reason, "notice_id": match.notice_id, "zone_id": match.zone_id},
    )
    _run(session, match, commands, now=now, actor=actor, settings=settings, reason=reason)
    return match


HolderLookup = Callable[
    [Session, Sequence[tuple[int, str]]], Mapping[tuple[int, str], list[enforcement.Holder]]
]
_holder_lookups: list[HolderLookup] = []


def add_holder_lookup(lookup: HolderLookup) -> None:
    """Let a domain whose records also block resources (notice items) say which of them hold one.

    Notices depend on this domain, so they register here; a dismissed match then keeps its copy
    blocked while one of them holds it.
    """
    if lookup not in _holder_lookups:
        _holder_lookups.append(lookup)


def holding_matches(
    session: Session, keys: Sequence[tuple[int, str]], *, excluding: int | None = None
) -> dict[tuple[int, str], list[enforcement.Holder]]:
    """Map each (zone, target) to the blocked or confirmed matches on it, earliest first."""
    found: dict[tuple[int, str], list[enforcement.Holder]] = {}
    for zone_id, targets in enforcement.targets_by_zone(keys):
        stmt = (
            select(StaydownMatch.target, StaydownMatch.id, StaydownMatch.notice_id)
            .where(
                StaydownMatch.zone_id == zone_id,
                StaydownMatch.target.in_(targets),
                StaydownMatch.status.in_((MatchStatus.blocked, MatchStatus.confirmed)),
            )
            .order_by(StaydownMatch.id)
        )
        if excluding is not None:
            stmt = stmt.where(StaydownMatch.id != excluding)
        for target, match_id, notice_id in session.execute(stmt):
            holder = enforcement.Holder("match", match_id, notice_id)
            found.setdefault((zone_id, target), []).append(holder)
    return found


def _holders(session: Session, match: StaydownMatch) -> list[enforcement.Holder]:
    key = (match.zone_id, match.target)
    holders: list[enforcement.Holder] = []
    for lookup in _holder_lookups:
        holders += lookup(session, [key]).get(key, [])
    return holders + holding_matches(session, [key], excluding=match.id).get(key, [])


def _run(
    session: Session,
    match: StaydownMatch,
    commands: Sequence[flows.Command],
    *,
    now: datetime,
    actor: str,
    settings: Settings,
    reason: str,
) -> None:
    if any(isinstance(command, flows.Unblock) for command in commands):
        commands = flows.hold_if_held(list(commands), _holders(session, match))
    enforcement.run_commands(session, commands, enforcement.Step(match, now, actor, settings, reason))


def command_handlers() -> list[tuple[type, enforcement.CommandHandler]]:
    """How the stay-down workflow's commands are carried out, in the order their kinds run."""
    return [
        (flows.KeepBlocked, _keep_blocked),
        (flows.Block, _block),
        (flows.Unblock, _unblock),
        (flows.RecordStrike, _record_strike),
        (flows.VoidStrike, _void_strike),
        (flows.TellCustomer, _tell),
    ]


def _keep_blocked(session: Session, step: enforcement.Step, commands: Sequence[flows.KeepBlocked]) -> None:
    match: StaydownMatch = step.subject
    for command in commands:
        enforcement.withhold_unblock(
            session,
            [enforcement.BlockSpec(match.zone_id, match.target, match.url, match.notice_id, None)],
            at=step.now,
            reason=f"stay-down match {match.id} dismissed: {step.reason}",
        )
        audit.record(
            session,
            at=step.now,
            actor=step.actor,
            action="staydown.unblock_withheld",
            entity=("staydown_match", match.id),
            data={
                "zone_id": match.zone_id,
                "target": match.target,
                "holder": command.holder.describe(),
                "reason": step.reason,
            },
        )


def _block(session: Session, step: enforcement.Step, commands: Sequence[flows.Block]) -> None:
    match: StaydownMatch = step.subject
    for command in commands:
        enforcement.append(
            session,
            FeedKind.block,
            at=step.now,
            payload={
                "url": match.url,
                "reason": f"stay-down match {match.id}"
                + ("" if command.automated else f", confirmed by an agent: {step.reason}"),
                "match_id": match.id,
                "automated": command.automated,
            },
            zone_id=match.zone_id,
            target=match.target,
            notice_id=match.notice_id,
        )


def _unblock(session: Session, step: enforcement.Step, commands: Sequence[flows.Unblock]) -> None:
    match: StaydownMatch = step.subject
    for command in commands:
        enforcement.append(
            session,
            FeedKind.unblock,
            at=step.now,
            payload={
                "url": match.url,
                "reason": f"stay-down match {match.id} dismissed: {step.reason}",
                "match_id": match.id,
                "staydown_exempt": command.exempt,
            },
            zone_id=match.zone_id,
            target=match.target,
            notice_id=match.notice_id,
        )


def _record_strike(session: Session, step: enforcement.Step, commands: Sequence[flows.RecordStrike]) -> None:
    match: StaydownMatch = step.subject
    settings = step.settings
    assert settings is not None
    if match.customer_id is None:
        return
    for _command in commands:
        policy.record_match_strike(
            session,
            customer_id=match.customer_id,
            match_id=match.id,
            notice_id=match.notice_id,
            zone_id=match.zone_id,
            now=step.now,
            actor=step.actor,
            policy=settings.policy,
            provider=settings.provider_name,
        )


def _void_strike(session: Session, step: enforcement.Step, commands: Sequence[flows.VoidStrike]) -> None:
    match: StaydownMatch = step.subject
    for _command in commands:
        policy.void_match_strike(
            session, match_id=match.id, now=step.now, actor=step.actor, reason=step.reason
        )


def _tell(session: Session, step: enforcement.Step, commands: Sequence[flows.TellCustomer]) -> None:
    assert step.settings is not None
    for command in commands:
        _tell_customer(
            session, step.subject, command.what, now=step.now, settings=step.settings, reason=step.reason
        )


def _tell_customer(
    session: Session, match: StaydownMatch, what: str, *, now: datetime, settings: Settings, reason: str
) -> None:
    if match.customer_id is None or what not in ("blocked", "restored"):
        return
    customer = accounts.get_customer(session, match.customer_id)
    if customer is None:
        return
    locale = recipient_locale(customer.locale, settings.default_locale)
    if what == "blocked":
        subject, body = letters.blocked(
            url=match.url,
            notice_id=match.notice_id,
            distance=match.distance,
            provider=settings.provider_name,
            locale=locale,
        )
    else:
        subject, body = letters.restored(url=match.url, reason=reason, locale=locale)
    enforcement.enqueue_message(
        session,
        at=now,
        kind=f"staydown_{what}",
        channel=Channel.email,
        recipient=customer.email,
        subject=subject,
        body=body,
        payload={"match_id": match.id},
        notice_id=match.notice_id,
        customer_id=customer.id,
    )


def get_match(session: Session, match_id: int) -> StaydownMatch | None:
    return session.get(StaydownMatch, match_id)


def match_in_force(session: Session, *, zone_id: int | None, url: str | None) -> StaydownMatch | None:
    """The latest match whose block is in force for ``url`` on ``zone_id``, if any."""
    if zone_id is None or url is None:
        return None
    return session.scalar(
        select(StaydownMatch)
        .where(
            StaydownMatch.zone_id == zone_id,
            StaydownMatch.url == url,
            StaydownMatch.status.in_((MatchStatus.blocked, MatchStatus.confirmed)),
        )
        .order_by(StaydownMatch.id.desc())
        .limit(1)
    )


def list_matches(
    session: Session,
    *,
    status: MatchStatus | None = None,
    notice_id: int | None = None,
    work_id: int | None = None,
    customer_id: int | None = None,
    entry_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[Sequence[StaydownMatch], int]:
    conditions = []
    if entry_id is not None:
        conditions.append(StaydownMatch.entry_id == entry_id)
    if status is not None:
        conditions.append(StaydownMatch.status == status)
    if notice_id is not None:
        conditions.append(StaydownMatch.notice_id == notice_id)
    if work_id is not None:
        conditions.append(StaydownMatch.work_id == work_id)
    if customer_id is not None:
        conditions.append(StaydownMatch.customer_id == customer_id)
    total = session.scalar(select(func.count()).select_from(StaydownMatch).where(*conditions)) or 0
    rows = session.scalars(
        select(StaydownMatch).where(*conditions).order_by(StaydownMatch.id.desc()).limit(limit).offset(offset)
    ).all()
    return rows, int(total)


def notice_staydown(session: Session, notice_id: int, *, customer_id: int | None = None) -> dict[str, Any]:
    """What stay-down holds for a notice: its banked content, capture progress and the copies found."""
    captures: dict[str, int] = {}
    for status, count in session.execute(
        select(ContentCapture.status, func.count())
        .where(ContentCapture.notice_id == notice_id)
        .group_by(ContentCapture.status)
    ):
        captures[status.value] = int(count)
    matches, _ = list_matches(session, notice_id=notice_id, customer_id=customer_id, limit=500)
    return {
        "entries": [
            {
                "id": e.id,
                "item_id": e.item_id,
                "sha256": e.sha256,
                "hashes": len(e.pdq),
                "quality": e.quality,
                "scope": e.scope.value,
                "status": e.status.value,
            }
            for e in entries_of_notice(session, notice_id)
            if customer_id is None
        ],
        "captures": captures if customer_id is None else {},
        "matches": [MatchRead.model_validate(m).model_dump(mode="json") for m in matches],
    }
