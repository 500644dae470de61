"""Notice intake: validate, canonicalise and resolve a submission's URLs, store its elements and
items, apply any measure against its notifier, and accept a complete notice (acting at once for a
trusted flagger and on copies of what is blocked now).

A whole notice is one unit of work: its items, the block records of whatever it actions, their
audit entries, the strikes and the notifications are written together or not at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.audit.service import canonical_json
from staydown.config import Settings
from staydown.db.base import bulk_insert
from staydown.enforcement import service as enforcement
from staydown.notices import messages, webhooks
from staydown.notices.blocks import blocking_items, link_to_blockers
from staydown.notices.elements import Assessment, NoticeFacts, Outcome, assess
from staydown.notices.flows import (
    OUTCOME_EVENTS,
    ItemEvent,
    ItemRef,
    ItemStatus,
    NoticeStatus,
    acceptance_event,
    notice_transition,
)
from staydown.notices.models import Notice, NoticeItem
from staydown.notices.records import NoticeError, Submitter
from staydown.notices.regimes import rules_of
from staydown.notices.schemas import ItemIn, NoticeCreate
from staydown.notices.steps import DEADLINE_TIMER, INCOMPLETE_TIMER, apply_event, settle, tell
from staydown.types import Regime
from staydown.urls import CanonicalURL, URLError, canonicalize_url
from staydown.wording import recipient_locale

_ITEM_COLUMNS = (
    "notice_id",
    "position",
    "url",
    "canonical_url",
    "target",
    "hostname",
    "zone_id",
    "customer_id",
    "work_index",
    "status",
    "automated",
    "external_id",
)


# The columns that hold a notice's legal elements (a supplement may replace them).
ELEMENT_COLUMNS = (
    "submitter_name",
    "submitter_email",
    "submitter_address",
    "submitter_phone",
    "submitter_organization",
    "on_behalf_of",
    "works",
    "explanation",
    "statement_good_faith",
    "statement_accurate",
    "statement_authorized",
    "signature",
)


def stored_facts(elements: dict[str, Any], *, item_count: int) -> NoticeFacts:
    return NoticeFacts(
        signature=bool(elements["signature"]),
        works_identified=any((w.get("description") or "").strip() for w in elements["works"]),
        urls=item_count > 0,
        name=bool(elements["submitter_name"]),
        email=bool(elements["submitter_email"]),
        address=bool(elements["submitter_address"]),
        phone=bool(elements["submitter_phone"]),
        explanation=bool(elements["explanation"]),
        good_faith=elements["statement_good_faith"],
        accurate=elements["statement_accurate"],
        authorized=elements["statement_authorized"],
    )


def _facts(data: NoticeCreate, *, items: int) -> NoticeFacts:
    s = data.submitter
    return NoticeFacts(
        signature=bool(data.signature),
        works_identified=any(w.description for w in data.works),
        urls=items > 0,
        name=bool(s.name),
        email=bool(s.email),
        address=bool(s.address),
        phone=bool(s.phone),
        explanation=bool(data.explanation),
        good_faith=data.statements.good_faith,
        accurate=data.statements.accurate,
        authorized=data.statements.authorized,
    )


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a submission that becomes an item: its index there, what was sent, its URL."""

    index: int
    item: ItemIn
    url: CanonicalURL


def _canonicalise(data: NoticeCreate, settings: Settings) -> tuple[list[Entry], list[dict[str, Any]]]:
    """Split the submission's entries into those that become items and those rejected, each with
    its reason. A notice of which no entry could become an item is refused whole."""
    if len(data.items) > settings.max_notice_items:
        raise NoticeError(
            "too_many_items",
            f"a notice may name at most {settings.max_notice_items} URLs; this one names {len(data.items)}",
            status=413,
        )
    entries: list[Entry] = []
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(data.items):
        try:
            url = canonicalize_url(item.url, max_length=settings.max_url_length)
        except URLError as exc:
            rejected.append(
                {
                    "index": index,
                    "url": item.url[:300],
                    "external_id": item.external_id,
                    "code": exc.code,
                    "message": exc.message,
                }
            )
            continue
        if item.work is not None and item.work >= len(data.works):
            rejected.append(
                unknown_work(index, item.url, item.work, works=len(data.works))
                | {"external_id": item.external_id}
            )
            continue
        entries.append(Entry(index, item, url))
    if rejected and not entries:
        raise NoticeError(
            "invalid_items",
            f"none of the {len(data.items)} item(s) is valid; the notice was not accepted",
            details=[{k: v for k, v in r.items() if k != "external_id"} for r in rejected[:100]],
        )
    return entries, rejected


def unknown_work(index: int, url: str, work: int | None, *, works: int) -> dict[str, Any]:
    return {
        "index": index,
        "url": url[:300],
        "code": "unknown_work",
        "message": f"work {work} does not exist; the notice lists {works} work(s)",
    }


IntakeGate = Callable[[Session, Submitter, datetime, Regime], Submitter]


_gates: list[IntakeGate] = []


def add_intake_gate(gate: IntakeGate) -> None:
    """Let a measure against a notifier reach intake: a gate returns the submitter as intake should
    treat it (with its suspension, without trust). Intake decides what a suspension means under the
    notice's regime. Domains that decide such measures (notifier misuse) depend on this one, so they
    register here.
    """
    if gate not in _gates:
        _gates.append(gate)


def apply_gates(session: Session, by: Submitter, now: datetime, regime: Regime) -> Submitter:
    """The submitter as intake should treat a notice under ``regime`` from it now, after every
    measure against it."""
    for gate in _gates:
        by = gate(session, by, now, regime)
    return by


def submit(
    session: Session,
    data: NoticeCreate,
    *,
    by: Submitter,
    now: datetime,
    settings: Settings,
    received_at: datetime | None = None,
) -> Notice:
    """Accept a notice: store its elements, resolve its URLs and, for a trusted flagger, act on it.

    ``received_at``: when it reached the provider, if before ``now`` (a letter stored when it
    arrived and read later); its deadline runs from then."""
    taken = submit_many(session, [(data, by)], now=now, settings=settings, received_at=[received_at])[0]
    if isinstance(taken, NoticeError):
        raise taken
    return taken


@dataclass(slots=True)
class _Taking:
    """A submission on its way in: what was sent, the submitter as intake treats it, its entries
    and what they amount to, and the notice made of it."""

    data: NoticeCreate
    by: Submitter
    entries: list[Entry]
    rejected: list[dict[str, Any]]
    assessment: Assessment
    zones: dict[str, Any]
    sanction: str | None
    refused: frozenset[int]
    notice: Notice


def submit_many(
    session: Session,
    submissions: Sequence[tuple[NoticeCreate, Submitter]],
    *,
    now: datetime,
    settings: Settings,
    received_at: Sequence[datetime | None] | None = None,
) -> list[Notice | NoticeError]:
    """Accept several notices in this unit of work, each as :func:`submit` accepts one, in the order
    given; return each one's notice, or the :class:`NoticeError` it was refused with (nothing of it
    written), in its place. ``received_at`` gives, in the same order, when each reached the provider
    if before ``now`` (None: now).

    What does not depend on one notice is done once for all: one query for the zones of their
    hosts, one insert of the notices (ids returned), one of their items, one query for the items
    that block their resources now (asked again only after a notice acted on some)."""
    taken: list[Notice | NoticeError | None] = [None] * len(submissions)
    checked: list[tuple[int, NoticeCreate, Submitter, list[Entry], list[dict[str, Any]]]] = []
    for index, (data, by) in enumerate(submissions):
        try:
            gated = apply_gates(session, by, now, data.regime)
            entries, rejected = _canonicalise(data, settings)
        except NoticeError as exc:
            taken[index] = exc
            continue
        checked.append((index, data, gated, entries, rejected))
    zones = accounts.zones_by_hostname(session, {e.url.host for *_, entries, _ in checked for e in entries})
    takings: list[_Taking] = []
    for index, data, gated, entries, rejected in checked:
        hosts = [e.url.host for e in entries]
        own = {host: zones[host] for host in hosts if host in zones}
        try:
            sanction, refused = sanction_of(data.regime, gated, hosts, own)
        except NoticeError as exc:
            taken[index] = exc
            continue
        by = gated if gated.suspension is None else dataclasses.replace(gated, trusted=False)
        assessment = assess(data.regime, _facts(data, items=len(entries)))
        arrived = received_at[index] if received_at is not None else None
        notice = _notice_of(
            data,
            by,
            assessment,
            rejected,
            sanction,
            items=len(entries),
            received=min(arrived, now) if arrived is not None else now,
            settings=settings,
        )
        takings.append(_Taking(data, by, entries, rejected, assessment, own, sanction, refused, notice))
        taken[index] = notice
    if not takings:
        return [t for t in taken if t is not None]
    session.add_all([t.notice for t in takings])
    session.flush()
    refs_of = _insert_items(session, takings, now=now)
    keys = [
        (ref.zone_id, ref.target)
        for refs in refs_of
        for ref, status in refs
        if status is ItemStatus.pending_review and ref.zone_id is not None
    ]
    blockers: dict[tuple[int, str], tuple[int, ItemStatus]] | None = blocking_items(session, keys)
    for taking, refs in zip(takings, refs_of, strict=True):
        if _take_in(session, taking, refs, blockers, now=now, settings=settings):
            blockers = None  # what this notice blocked now may be the original of a later one's item
    return [t for t in taken if t is not None]


def _notice_of(
    data: NoticeCreate,
    by: Submitter,
    assessment: Assessment,
    rejected: list[dict[str, Any]],
    sanction: str | None,
    *,
    items: int,
    received: datetime,
    settings: Settings,
) -> Notice:
    rules = rules_of(data.regime)
    deadline = settings.action_deadline
    if by.trusted and not rules.trusted_direct_action():
        deadline = min(deadline, timedelta(hours=settings.trusted_flagger_deadline_hours))
    s = data.submitter
    works = [w.model_dump() for w in data.works]
    return Notice(
        regime=data.regime,
        status=notice_transition(NoticeStatus.received, OUTCOME_EVENTS[assessment.outcome]),
        submitter_key_id=by.key_id,
        trusted=by.trusted,
        source_ip=by.source_ip,
        submitter_name=s.name,
        submitter_email=s.email,
        submitter_address=s.address,
        submitter_phone=s.phone,
        submitter_organization=s.organization,
        on_behalf_of=s.on_behalf_of,
        works=works,
        explanation=data.explanation,
        statement_good_faith=data.statements.good_faith,
        statement_accurate=data.statements.accurate,
        statement_authorized=data.statements.authorized,
        signature=data.signature,
        missing_elements=assessment.missing_names,
        # The language of the letters is no element of the notice: it does not change what was noticed.
        content_sha256=hashlib.sha256(
            canonical_json(data.model_dump(mode="json", exclude={"language"})).encode()
        ).hexdigest(),
        received_at=received,
        deadline_at=received + deadline,
        item_count=items,
        sanction=sanction,
        external_id=data.external_id,
        rejected_items=rejected or None,
        language=data.language or settings.default_locale,
    )


def _take_in(
    session: Session,
    taking: _Taking,
    refs: list[tuple[ItemRef, ItemStatus]],
    blockers: dict[tuple[int, str], tuple[int, ItemStatus]] | None,
    *,
    now: datetime,
    settings: Settings,
) -> bool:
    """Audit, announce and acknowledge a notice whose items are written, and accept it if complete;
    return whether it acted on any item at once."""
    notice, data, by, assessment = taking.notice, taking.data, taking.by, taking.assessment
    audit.record(
        session,
        at=now,
        actor=by.actor,
        action="notice.received",
        entity=("notice", notice.id),
        data={
            "regime": data.regime.value,
            "status": notice.status.value,
            "items": len(refs),
            "rejected_items": len(taking.rejected),
            "trusted": by.trusted,
            "missing_elements": assessment.missing_names,
            "advisory_elements": assessment.advisory_names,
            "content_sha256": notice.content_sha256,
            "sanction": taking.sanction,
        },
    )
    webhooks.announce(
        session,
        notice,
        "notice.received",
        [ref.item_id for ref, _ in refs],
        at=now,
        rejected=len(taking.rejected),
    )
    locale = recipient_locale(notice.language, settings.default_locale)
    tell(
        session,
        notice,
        messages.receipt(notice, provider=settings.provider_name, locale=locale),
        kind="notice_receipt",
        at=now,
    )
    if assessment.outcome is not Outcome.complete:
        letter = messages.incomplete(
            notice,
            assessment.missing,
            provider=settings.provider_name,
            rejected=assessment.outcome is Outcome.insufficient,
            locale=locale,
        )
        tell(session, notice, letter, kind=f"notice_{letter.payload['event'].split('.')[1]}", at=now)
    acted = False
    if assessment.outcome is Outcome.complete:
        acted = accept(
            session, notice, refs, by=by, now=now, settings=settings, taking_in=True, blockers=blockers
        )
    else:
        settle(session, notice, now=now, taken_in=[status for _ref, status in refs])
    if notice.status is NoticeStatus.incomplete:
        enforcement.schedule_timer(
            session,
            kind=INCOMPLETE_TIMER,
            due_at=now + timedelta(days=settings.incomplete_notice_days),
            subject=("notice", notice.id),
            now=now,
        )
    return acted


def sanction_of(
    regime: Regime, by: Submitter, hosts: Sequence[str], zones: dict[str, Any]
) -> tuple[str | None, frozenset[int]]:
    """What a suspension of the notifier means for this notice: the sanction stated on it, and the
    zones whose items are not processed. Refuse the notice when no item could be processed.

    DSA Art. 23(2) lets online platforms suspend the processing of a notifier's notices; nothing in
    17 U.S.C. 512 or the Japanese Act does, so those notices are taken in and assessed all the same.
    """
    suspension = by.suspension
    if suspension is None:
        return None, frozenset()
    rules = rules_of(regime)
    refused = frozenset(
        zone.id for zone in zones.values() if rules.misuse_suspension_applies(zone.service_type)
    )
    resolved = [host for host in hosts if host in zones]
    until = suspension.until.isoformat()
    if refused and all(zones[host].id in refused for host in resolved):
        raise NoticeError(
            "notifier_suspended",
            f"notices from this notifier are not processed until {until} "
            f"(Regulation (EU) 2022/2065 Art. 23(2)): {suspension.reason}",
            status=403,
            details={"until": until, "reason": suspension.reason, "measure_id": suspension.measure_id},
        )
    text = (
        f"The notifier is suspended until {until} under Regulation (EU) 2022/2065 Art. 23(2) "
        f"({suspension.reason}); "
    )
    if refused:
        text += "items on online platforms are not processed, the others are assessed on their merits."
    else:
        text += (
            f"Art. 23 does not reach {rules.label} notices here, so this one is taken in and assessed on its "
            "merits, without trusted treatment."
        )
    return text, refused


def _insert_items(
    session: Session, takings: Sequence[_Taking], *, now: datetime
) -> list[list[tuple[ItemRef, ItemStatus]]]:
    """Write the items of every notice taken in (one executemany); return each notice's items."""
    rows: list[tuple[Any, ...]] = []
    for taking in takings:
        notice, zones, refused = taking.notice, taking.zones, taking.refused
        insufficient = taking.assessment.outcome is Outcome.insufficient
        for entry in taking.entries:
            url, item = entry.url, entry.item
            zone = zones.get(url.host)
            if zone is None:
                status = ItemStatus.not_on_network
            elif insufficient or zone.id in refused:
                status = ItemStatus.rejected
            else:
                status = ItemStatus.pending_review
            rows.append(
                (
                    notice.id,
                    entry.index,
                    item.url,
                    url.url,
                    url.target,
                    url.host,
                    zone.id if zone else None,
                    zone.customer_id if zone else None,
                    item.work,
                    status,
                    False,
                    item.external_id,
                )
            )
    bulk_insert(session, NoticeItem, _ITEM_COLUMNS, rows)
    # One executemany, then the ids in position order (RETURNING would cost a round trip per row on SQLite).
    notice_ids = [taking.notice.id for taking in takings]
    ids: dict[int, list[int]] = {notice_id: [] for notice_id in notice_ids}
    for start in range(0, len(notice_ids), 500):
        for notice_id, item_id in session.execute(
            select(NoticeItem.notice_id, NoticeItem.id)
            .where(NoticeItem.notice_id.in_(notice_ids[start : start + 500]))
            .order_by(NoticeItem.notice_id, NoticeItem.position)
        ):
            ids[notice_id].append(item_id)
    refs: list[list[tuple[ItemRef, ItemStatus]]] = []
    offset = 0
    for taking in takings:
        notice = taking.notice
        written, offset = rows[offset : offset + len(taking.entries)], offset + len(taking.entries)
        if taking.refused:
            session.execute(
                update(NoticeItem)
                .where(NoticeItem.notice_id == notice.id, NoticeItem.zone_id.in_(sorted(taking.refused)))
                .values(decided_at=now, decided_by="intake", decision_reason=taking.sanction)
            )
        refs.append(
            [
                (
                    ItemRef(
                        item_id=item_id,
                        notice_id=notice.id,
                        zone_id=row[6],
                        customer_id=row[7],
                        target=row[4],
                        url=row[3],
                    ),
                    row[9],
                )
                for item_id, row in zip(ids[notice.id], written, strict=True)
            ]
        )
    return refs


def accept(
    session: Session,
    notice: Notice,
    refs: list[tuple[ItemRef, ItemStatus]],
    *,
    by: Submitter,
    now: datetime,
    settings: Settings,
    taking_in: bool = False,
    blockers: dict[tuple[int, str], tuple[int, ItemStatus]] | None = None,
) -> bool:
    """A complete notice: link copies of one resource; act at once for a trusted flagger (where the
    regime lets trust act without review), and on copies of what is blocked now; leave the rest to
    review. Return whether it acted on any item.

    ``taking_in``: the notice is being taken in now, and ``refs`` hold its items' states as written.
    ``blockers``: the items blocking its resources now, when already looked up with others'."""
    if by.trusted and not rules_of(notice.regime).trusted_direct_action():
        by = dataclasses.replace(by, trusted=False)
    refs, states = link_to_blockers(session, refs, blockers)
    to_action = [
        (ref, status)
        for ref, status in refs
        if acceptance_event(
            status,
            trusted=by.trusted,
            original=states.get(ref.duplicate_of) if ref.duplicate_of is not None else None,
        )
        is ItemEvent.action
    ]
    if by.trusted:
        reason = "complete notice from a trusted flagger"
    else:
        reason = "already blocked under an earlier notice"
    if to_action:
        apply_event(
            session,
            notice,
            to_action,
            ItemEvent.action,
            now=now,
            actor=by.actor,
            reason=reason,
            automated=True,
            settings=settings,
        )
    else:
        settle(session, notice, now=now, taken_in=[status for _ref, status in refs] if taking_in else None)
    if notice.status is NoticeStatus.accepted and notice.decided_at is None:
        enforcement.schedule_timer(
            session, kind=DEADLINE_TIMER, due_at=notice.deadline_at, subject=("notice", notice.id), now=now
        )
    return bool(to_action)
