"""Notice intake and decisions: validate, canonicalise, resolve, persist, act, notify.

A whole notice is one unit of work: its items, the block records of whatever it actions, their
audit entries, the strikes and the notifications are written together or not at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Result, Row
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.audit.service import canonical_json
from staydown.config import Settings
from staydown.db.base import bulk_insert, table_of
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel
from staydown.fingerprints import service as fingerprints
from staydown.notices import inquiry, messages
from staydown.notices.elements import ELEMENTS, Assessment, NoticeFacts, Outcome, assess
from staydown.notices.flows import (
    BLOCKING,
    ITEM_TRANSITIONS,
    OUTCOME_EVENTS,
    WAITING,
    Command,
    ConflictingDecisions,
    ItemEvent,
    ItemRef,
    ItemStatus,
    NoticeEvent,
    NoticeStatus,
    TellSubmitter,
    acceptance_event,
    decide_together,
    decision_commands,
    item_transition,
    link_copies,
    notice_transition,
    settle_notice,
)
from staydown.notices.models import Notice, NoticeItem

# A notifier's own erasure (GDPR Art. 17, in ``disclosure``) reads and erases its notices through these.
from staydown.notices.personal import erase_notifier_fields as erase_notifier_fields  # noqa: PLC0414
from staydown.notices.personal import notifier_notices as notifier_notices  # noqa: PLC0414
from staydown.notices.regimes import rules_of
from staydown.notices.regimes.base import RegimeRules
from staydown.notices.regimes.services import Duties, duties, widest
from staydown.notices.schemas import NoticeCreate, NoticeSupplement
from staydown.types import Recipient, Regime, ServiceType
from staydown.urls import CanonicalURL, URLError, canonicalize_url

DEADLINE_TIMER = "notice_deadline"
OVERDUE_LETTER = "notice_overdue"
INCOMPLETE_TIMER = "notice_incomplete_expiry"
INQUIRY_TIMER = inquiry.INQUIRY_TIMER
AUDIT_BATCH = 1000  # items named per audit entry of one decision
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
)


class NoticeError(Exception):
    """A notice request that cannot be carried out; nothing of it was written."""

    def __init__(self, code: str, message: str, *, status: int = 422, details: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.details = code, message, status, details


@dataclass(frozen=True, slots=True)
class Suspension:
    """A measure suspending the processing of a notifier's notices (DSA Art. 23(2))."""

    until: datetime
    reason: str
    measure_id: int


@dataclass(frozen=True, slots=True)
class Submitter:
    """Who submitted a notice, as the API key says, and any measure against it now."""

    key_id: int | None
    trusted: bool
    actor: str
    source_ip: str | None = None
    suspension: Suspension | None = None


# The columns that hold a notice's legal elements (a supplement may replace them).
_ELEMENT_COLUMNS = (
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


def _stored_facts(elements: dict[str, Any], *, item_count: int) -> NoticeFacts:
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


def _facts(data: NoticeCreate) -> NoticeFacts:
    s = data.submitter
    return NoticeFacts(
        signature=bool(data.signature),
        works_identified=any(w.description for w in data.works),
        urls=bool(data.items),
        name=bool(s.name),
        email=bool(s.email),
        address=bool(s.address),
        phone=bool(s.phone),
        explanation=bool(data.explanation),
        good_faith=data.statements.good_faith,
        accurate=data.statements.accurate,
        authorized=data.statements.authorized,
    )


def _canonicalise(data: NoticeCreate, settings: Settings) -> list[CanonicalURL]:
    if len(data.items) > settings.max_notice_items:
        raise NoticeError(
            "too_many_items",
            f"a notice may name at most {settings.max_notice_items} URLs; this one names {len(data.items)}",
            status=413,
        )
    canonical, errors = [], []
    for index, item in enumerate(data.items):
        try:
            canonical.append(canonicalize_url(item.url, max_length=settings.max_url_length))
        except URLError as exc:
            errors.append({"index": index, "url": item.url[:300], "code": exc.code, "message": exc.message})
            continue
        if item.work is not None and item.work >= len(data.works):
            errors.append(_unknown_work(index, item.url, item.work, works=len(data.works)))
    if errors:
        raise NoticeError(
            "invalid_items",
            f"{len(errors)} of {len(data.items)} item(s) are not valid; the notice was not accepted",
            details=errors[:100],
        )
    return canonical


def _unknown_work(index: int, url: str, work: int | None, *, works: int) -> dict[str, Any]:
    return {
        "index": index,
        "url": url[:300],
        "code": "unknown_work",
        "message": f"work {work} does not exist; the notice lists {works} work(s)",
    }


IntakeGate = Callable[[Session, Submitter, datetime, Regime], Submitter]
_intake_gates: list[IntakeGate] = []


def add_intake_gate(gate: IntakeGate) -> None:
    """Let a measure against a notifier reach intake: a gate returns the submitter as intake should
    treat it (with its suspension, without trust). Intake decides what a suspension means under the
    notice's regime. Domains that decide such measures (notifier misuse) depend on this one, so they
    register here.
    """
    if gate not in _intake_gates:
        _intake_gates.append(gate)


def submit(
    session: Session, data: NoticeCreate, *, by: Submitter, now: datetime, settings: Settings
) -> Notice:
    """Accept a notice: store its elements, resolve its URLs and, for a trusted flagger, act on it."""
    for gate in _intake_gates:
        by = gate(session, by, now, data.regime)
    canonical = _canonicalise(data, settings)
    assessment = assess(data.regime, _facts(data))
    zones = accounts.zones_by_hostname(session, {c.host for c in canonical})
    sanction, refused = _sanction(data.regime, by, [c.host for c in canonical], zones)
    if by.suspension is not None:
        by = dataclasses.replace(by, trusted=False)
    rules = rules_of(data.regime)
    deadline = settings.action_deadline
    if by.trusted and not rules.trusted_direct_action():
        deadline = min(deadline, timedelta(hours=settings.trusted_flagger_deadline_hours))
    s = data.submitter
    works = [w.model_dump() for w in data.works]
    notice = Notice(
        regime=data.regime,
        status=NoticeStatus.received,
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
        content_sha256=hashlib.sha256(canonical_json(data.model_dump(mode="json")).encode()).hexdigest(),
        received_at=now,
        deadline_at=now + deadline,
        item_count=len(data.items),
        sanction=sanction,
    )
    session.add(notice)
    session.flush()
    notice.status = notice_transition(NoticeStatus.received, OUTCOME_EVENTS[assessment.outcome])
    refs = _insert_items(session, notice, data, canonical, assessment, zones, refused, sanction, now=now)
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
            "trusted": by.trusted,
            "missing_elements": assessment.missing_names,
            "advisory_elements": assessment.advisory_names,
            "content_sha256": notice.content_sha256,
            "sanction": sanction,
        },
    )
    tell(
        session,
        notice,
        messages.receipt(notice, provider=settings.provider_name),
        kind="notice_receipt",
        at=now,
    )
    if assessment.outcome is not Outcome.complete:
        letter = messages.incomplete(
            notice,
            assessment.missing,
            provider=settings.provider_name,
            rejected=assessment.outcome is Outcome.insufficient,
        )
        tell(session, notice, letter, kind=f"notice_{letter.payload['event'].split('.')[1]}", at=now)
    if assessment.outcome is Outcome.complete:
        _accept(session, notice, refs, by=by, now=now, settings=settings)
    else:
        _settle(session, notice, now=now)
    if notice.status is NoticeStatus.incomplete:
        enforcement.schedule_timer(
            session,
            kind=INCOMPLETE_TIMER,
            due_at=now + timedelta(days=settings.incomplete_notice_days),
            subject=("notice", notice.id),
            now=now,
        )
    return notice


def _sanction(
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
    session: Session,
    notice: Notice,
    data: NoticeCreate,
    canonical: list[CanonicalURL],
    assessment: Assessment,
    zones: dict[str, Any],
    refused: frozenset[int],
    sanction: str | None,
    *,
    now: datetime,
) -> list[tuple[ItemRef, ItemStatus]]:
    rows: list[tuple[Any, ...]] = []
    for position, (item, url) in enumerate(zip(data.items, canonical, strict=True)):
        zone = zones.get(url.host)
        if zone is None:
            status = ItemStatus.not_on_network
        elif assessment.outcome is Outcome.insufficient or zone.id in refused:
            status = ItemStatus.rejected
        else:
            status = ItemStatus.pending_review
        rows.append(
            (
                notice.id,
                position,
                item.url,
                url.url,
                url.target,
                url.host,
                zone.id if zone else None,
                zone.customer_id if zone else None,
                item.work,
                status,
                False,
            )
        )
    bulk_insert(session, NoticeItem, _ITEM_COLUMNS, rows)
    # One executemany, then the ids in position order (RETURNING would cost a round trip per row on SQLite).
    ids = list(
        session.scalars(
            select(NoticeItem.id).where(NoticeItem.notice_id == notice.id).order_by(NoticeItem.position)
        )
    )
    if refused:
        session.execute(
            update(NoticeItem)
            .where(NoticeItem.notice_id == notice.id, NoticeItem.zone_id.in_(sorted(refused)))
            .values(decided_at=now, decided_by="intake", decision_reason=sanction)
        )
    return [
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
        for row, item_id in zip(rows, ids, strict=True)
    ]


def blocking_items(
    session: Session, keys: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], tuple[int, ItemStatus]]:
    """Map each (zone, target) that an item blocks now to that item's id and state (the earliest)."""
    found: dict[tuple[int, str], tuple[int, ItemStatus]] = {}
    for zone_id, targets in enforcement.targets_by_zone(keys):
        rows = session.execute(
            select(NoticeItem.target, NoticeItem.id, NoticeItem.status)
            .where(
                NoticeItem.zone_id == zone_id,
                NoticeItem.target.in_(targets),
                NoticeItem.status.in_(sorted(BLOCKING)),
                NoticeItem.duplicate_of_id.is_(None),
            )
            .order_by(NoticeItem.id)
        )
        for target, item_id, status in rows:
            found.setdefault((zone_id, target), (item_id, status))
    return found


def _accept(
    session: Session,
    notice: Notice,
    refs: list[tuple[ItemRef, ItemStatus]],
    *,
    by: Submitter,
    now: datetime,
    settings: Settings,
) -> None:
    """A complete notice: link copies of one resource; act at once for a trusted flagger (where the
    regime lets trust act without review), and on copies of what is blocked now; leave the rest to review."""
    if by.trusted and not rules_of(notice.regime).trusted_direct_action():
        by = dataclasses.replace(by, trusted=False)
    refs, states = _link_copies(session, refs)
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
        _apply(
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
        _settle(session, notice, now=now)
    if notice.status is NoticeStatus.accepted and notice.decided_at is None:
        enforcement.schedule_timer(
            session, kind=DEADLINE_TIMER, due_at=notice.deadline_at, subject=("notice", notice.id), now=now
        )


def _link_copies(
    session: Session, refs: list[tuple[ItemRef, ItemStatus]]
) -> tuple[list[tuple[ItemRef, ItemStatus]], dict[int, ItemStatus]]:
    """Link each item waiting for review to the item that carries its resource's block (as it is
    now); return the items and the state of every item they may be linked to."""
    keys = [
        (ref.zone_id, ref.target)
        for ref, status in refs
        if status is ItemStatus.pending_review and ref.zone_id is not None
    ]
    blockers = blocking_items(session, keys)
    links = link_copies(refs, {key: item_id for key, (item_id, _state) in blockers.items()})
    states = dict(blockers.values())
    states.update((ref.item_id, status) for ref, status in refs)
    linked: list[tuple[ItemRef, ItemStatus]] = []
    changed: list[dict[str, int | None]] = []
    for (ref, status), original in zip(refs, links, strict=True):
        if original == ref.duplicate_of:
            linked.append((ref, status))
            continue
        linked.append((dataclasses.replace(ref, duplicate_of=original), status))
        changed.append({"item_id": ref.item_id, "original": original})
    if changed:
        table = table_of(NoticeItem)
        session.execute(
            table.update()
            .where(table.c.id == bindparam("item_id"))
            .values(duplicate_of_id=bindparam("original")),
            changed,
        )
    return linked, states


def _apply(
    session: Session,
    notice: Notice,
    items: Sequence[tuple[ItemRef, ItemStatus]],
    event: ItemEvent,
    *,
    now: datetime,
    actor: str,
    reason: str,
    automated: bool,
    settings: Settings,
) -> None:
    """Move ``items`` through ``event``, run the commands it implies, and settle the notice."""
    commands: list[Command] = []
    moved: dict[ItemStatus, list[int]] = {}
    newly_actioned: list[ItemRef] = []
    for ref, state in items:
        new, item_commands = item_transition(state, event, ref, reason=reason)
        commands += item_commands
        moved.setdefault(new, []).append(ref.item_id)
        if new is ItemStatus.actioned and state is not ItemStatus.counter_noticed:
            newly_actioned.append(ref)
    for new, item_ids in moved.items():
        for start in range(0, len(item_ids), AUDIT_BATCH):
            batch = item_ids[start : start + AUDIT_BATCH]
            audit.record(
                session,
                at=now,
                actor=actor,
                action=f"items.{new.value}",
                entity=("notice", notice.id),
                data={"event": event.value, "item_ids": batch, "reason": reason, "automated": automated},
            )
        for start in range(0, len(item_ids), 500):
            session.execute(
                update(NoticeItem)
                .where(NoticeItem.id.in_(item_ids[start : start + 500]))
                .values(
                    status=new, decided_at=now, decided_by=actor, decision_reason=reason, automated=automated
                )
            )
    if newly_actioned and notice.first_actioned_at is None:
        notice.first_actioned_at = now
        notice.time_to_action_seconds = (now - notice.received_at).total_seconds()
    _settle(session, notice, now=now)
    if newly_actioned:
        commands += decision_commands(notice.id, newly_actioned)
    elif event is ItemEvent.reject and notice.decided_at == now:
        commands.append(TellSubmitter(notice.id))
    _run(session, notice, commands, now=now, actor=actor, settings=settings)


def _settle(session: Session, notice: Notice, *, now: datetime) -> None:
    statuses = session.scalars(
        select(NoticeItem.status).where(NoticeItem.notice_id == notice.id).group_by(NoticeItem.status)
    ).all()
    if notice.status in (NoticeStatus.incomplete, NoticeStatus.rejected) and not statuses:
        return
    if notice.status is NoticeStatus.incomplete:
        if statuses and all(s is ItemStatus.not_on_network for s in statuses):
            notice.status = notice_transition(notice.status, NoticeEvent.nothing_on_network)
            notice.decided_at = now
        elif statuses and not any(s in WAITING or s is ItemStatus.not_on_network for s in statuses):
            # An agent decided every item on what the notice shows: it is settled as any other.
            notice.status = settle_notice(notice.status, statuses)
            notice.decided_at = now
            enforcement.cancel_timers(session, kind=INCOMPLETE_TIMER, subject=("notice", notice.id), now=now)
        return
    if notice.status is NoticeStatus.received:
        return
    settled = settle_notice(notice.status, statuses)
    if settled is not notice.status or (settled is not NoticeStatus.accepted and notice.decided_at is None):
        notice.status = settled
        if notice.decided_at is None and settled is not NoticeStatus.accepted:
            notice.decided_at = now
            enforcement.cancel_timers(session, kind=DEADLINE_TIMER, subject=("notice", notice.id), now=now)


def _run(
    session: Session,
    notice: Notice,
    commands: Sequence[Command],
    *,
    now: datetime,
    actor: str,
    settings: Settings,
) -> None:
    """Execute workflow commands inside the current unit of work."""
    enforcement.run_commands(session, commands, enforcement.Step(notice, now, actor, settings))


def notice_service_type(session: Session, notice_id: int) -> ServiceType:
    """The service type with the most duties among the zones the notice's items are on."""
    zone_ids = session.scalars(
        select(NoticeItem.zone_id)
        .where(NoticeItem.notice_id == notice_id, NoticeItem.zone_id.is_not(None))
        .distinct()
    ).all()
    return widest(accounts.service_types(session, [z for z in zone_ids if z is not None]).values())


def complainant_for(notice: Notice, recipient: Recipient) -> dict[str, str]:
    """What of the notice's complainant ``recipient`` may be given under the notice's regime."""
    fields = rules_of(notice.regime).shared(
        recipient, party="complainant", organisation=bool(notice.submitter_organization)
    )
    return messages.complainant(notice, fields)


def service_duties(service_type: ServiceType) -> Duties:
    """What a zone of ``service_type`` owes (see ``notices.regimes.services``)."""
    return duties(service_type)


def widest_service(types: Iterable[ServiceType]) -> ServiceType:
    """The service type with the most duties among ``types``."""
    return widest(types)


def regime_rules(regime: Regime | str) -> RegimeRules:
    """Everything ``regime`` decides (see ``notices.regimes``)."""
    return rules_of(regime)


def shared_fields(regime: Regime, recipient: Recipient, *, party: str, organisation: bool) -> frozenset[str]:
    """Which fields of ``party`` (complainant or customer) ``recipient`` may be given under ``regime``."""
    return rules_of(regime).shared(recipient, party=party, organisation=organisation)


def holding_items(
    session: Session, keys: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], list[enforcement.Holder]]:
    """Map each (zone, target) to the items (of any notice) that block it now, earliest first."""
    found: dict[tuple[int, str], list[enforcement.Holder]] = {}
    for zone_id, targets in enforcement.targets_by_zone(keys):
        rows = session.execute(
            select(NoticeItem.target, NoticeItem.id, NoticeItem.notice_id, NoticeItem.duplicate_of_id)
            .where(
                NoticeItem.zone_id == zone_id,
                NoticeItem.target.in_(targets),
                NoticeItem.status.in_(sorted(BLOCKING)),
            )
            .order_by(NoticeItem.id)
        )
        for target, item_id, notice_id, copy_of in rows:
            holder = enforcement.Holder("item", item_id, notice_id, copy_of)
            found.setdefault((zone_id, target), []).append(holder)
    return found


def install() -> None:
    """Let a dismissed stay-down match keep a copy blocked while a notice item holds it (called by
    the assembly)."""
    fingerprints.add_holder_lookup(holding_items)


def tell(session: Session, notice: Notice, letter: messages.Letter, *, kind: str, at: datetime) -> None:
    """Write a message to the notifier (kept in the outbox even when they gave no e-mail)."""
    enforcement.enqueue_message(
        session,
        at=at,
        kind=kind,
        channel=Channel.email,
        recipient=notice.submitter_email or "(no e-mail given)",
        subject=letter.subject,
        body=letter.body,
        payload=letter.payload,
        notice_id=notice.id,
        deliverable=bool(notice.submitter_email),
    )


# --- reading ----------------------------------------------------------------------------------


def get(session: Session, notice_id: int) -> Notice | None:
    return session.get(Notice, notice_id)


def items_of(session: Session, notice_id: int, *, customer_id: int | None = None) -> Sequence[NoticeItem]:
    stmt = select(NoticeItem).where(NoticeItem.notice_id == notice_id).order_by(NoticeItem.position)
    if customer_id is not None:
        stmt = stmt.where(NoticeItem.customer_id == customer_id)
    return session.scalars(stmt).all()


ITEM_VIEW = (
    NoticeItem.id,
    NoticeItem.url,
    NoticeItem.canonical_url,
    NoticeItem.zone_id,
    NoticeItem.status,
    NoticeItem.work_index,
    NoticeItem.duplicate_of_id,
    NoticeItem.decided_at,
    NoticeItem.decision_reason,
    NoticeItem.inquiry_due_at,
    NoticeItem.caching_trigger,
)


def item_views(session: Session, notice_id: int, *, customer_id: int | None = None) -> Sequence[Row[Any]]:
    """The columns a reader sees of each item, as plain rows (cheap for 100,000 items)."""
    stmt = select(*ITEM_VIEW).where(NoticeItem.notice_id == notice_id).order_by(NoticeItem.position)
    if customer_id is not None:
        stmt = stmt.where(NoticeItem.customer_id == customer_id)
    return list(session.execute(stmt))


def visible_to_customer(session: Session, notice_id: int, customer_id: int) -> bool:
    """A customer sees a notice only when it names content on one of its zones."""
    found = session.scalar(
        select(NoticeItem.id)
        .where(NoticeItem.notice_id == notice_id, NoticeItem.customer_id == customer_id)
        .limit(1)
    )
    return found is not None


def list_page(
    session: Session,
    *,
    status: NoticeStatus | None = None,
    zone_id: int | None = None,
    customer_id: int | None = None,
    submitter_key_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[Sequence[Notice], int]:
    """Return one page of notices (review queue order: notices of a sanctioned notifier after the
    others, then earliest deadline first) and the total."""
    stmt = select(Notice)
    if status is not None:
        stmt = stmt.where(Notice.status == status)
    if submitter_key_id is not None:
        stmt = stmt.where(Notice.submitter_key_id == submitter_key_id)
    if zone_id is not None or customer_id is not None:
        sub = select(NoticeItem.notice_id)
        if zone_id is not None:
            sub = sub.where(NoticeItem.zone_id == zone_id)
        if customer_id is not None:
            sub = sub.where(NoticeItem.customer_id == customer_id)
        stmt = stmt.where(Notice.id.in_(sub))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Notice.sanction.is_not(None), Notice.deadline_at, Notice.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return rows, total


# --- decisions --------------------------------------------------------------------------------


def decide(
    session: Session,
    notice: Notice,
    decisions: dict[int, str],
    *,
    reason: str,
    actor: str,
    now: datetime,
    settings: Settings,
    election: bool = False,
    caching_trigger: str | None = None,
) -> None:
    """Apply an agent's decision on some or all of a notice's items.

    An incomplete notice may be decided too: what it shows can give the provider actual knowledge,
    so the agent acts on that (the reason says so) rather than waiting for the missing elements.
    """
    if notice.status is NoticeStatus.incomplete:
        reason = (
            "acted on actual knowledge although the notice lacks "
            + "; ".join(notice.missing_elements)
            + f": {reason}"
        )
    if notice.status in (NoticeStatus.closed, NoticeStatus.received):
        raise NoticeError("notice_closed", f"notice {notice.id} is {notice.status.value}", status=409)
    items = {
        item.id: item
        for item in session.scalars(
            select(NoticeItem).where(NoticeItem.notice_id == notice.id, NoticeItem.id.in_(list(decisions)))
        )
    }
    unknown = sorted(set(decisions) - set(items))
    if unknown:
        raise NoticeError(
            "unknown_items", f"item(s) {unknown[:20]} are not part of notice {notice.id}", status=422
        )
    chosen = {item_id: ItemEvent(verdict) for item_id, verdict in decisions.items()}
    rules = rules_of(notice.regime)
    if ItemEvent.inquire in chosen.values() and rules.inquiry is None:
        raise NoticeError(
            "inquiry_not_available",
            f"an inquiry to the sender is part of Japanese removal requests; notice {notice.id} is a "
            f"{rules.label} notice",
            status=422,
        )
    groups: dict[ItemEvent, list[tuple[ItemRef, ItemStatus]]] = {
        ItemEvent.action: [],
        ItemEvent.reject: [],
        ItemEvent.inquire: [],
    }
    for item, event in _together(session, notice, items, chosen):
        if (item.status, event) not in ITEM_TRANSITIONS:
            raise NoticeError(
                "illegal_transition",
                f"item {item.id} is {item.status.value} and cannot be given {event.value!r}",
                status=409,
            )
        groups[event].append((_ref(item), item.status))
    if groups[ItemEvent.action]:
        _record_caching_trigger(session, groups[ItemEvent.action], caching_trigger)
    if groups[ItemEvent.inquire]:
        inquiry.open_inquiry(
            session,
            notice,
            groups.pop(ItemEvent.inquire),
            reason=reason,
            actor=actor,
            now=now,
            settings=settings,
            election=election,
        )
    for event, group in groups.items():
        if group:
            _apply(
                session,
                notice,
                group,
                event,
                now=now,
                actor=actor,
                reason=reason,
                automated=False,
                settings=settings,
            )


CACHING_TRIGGERS = ("origin_removed", "court_ordered")


def _record_caching_trigger(
    session: Session, items: Sequence[tuple[ItemRef, ItemStatus]], trigger: str | None
) -> None:
    """Record on items of caching zones what 17 U.S.C. 512(b)(2)(E) made them removable by: the
    material was removed at the origin, or a court ordered it (``not_stated`` when the agent named
    neither, so the record shows the removal rests on another ground)."""
    zone_ids = {ref.zone_id for ref, _state in items if ref.zone_id is not None}
    caching = accounts.zone_ids_of_type(session, zone_ids, ServiceType.caching)
    ids = [ref.item_id for ref, _state in items if ref.zone_id in caching]
    for start in range(0, len(ids), 500):
        session.execute(
            update(NoticeItem)
            .where(NoticeItem.id.in_(ids[start : start + 500]))
            .values(caching_trigger=trigger or "not_stated")
        )


def _together(
    session: Session, notice: Notice, items: dict[int, NoticeItem], chosen: dict[int, ItemEvent]
) -> list[tuple[NoticeItem, ItemEvent]]:
    """The chosen items and the copies in the notice decided with them, each with its event."""
    copies: dict[int, int] = {
        item_id: original
        for item_id, original in session.execute(
            select(NoticeItem.id, NoticeItem.duplicate_of_id).where(
                NoticeItem.notice_id == notice.id, NoticeItem.duplicate_of_id.is_not(None)
            )
        )
        if original is not None
    }
    related = dict(items)
    if copies:
        heads = {copies.get(item_id, item_id) for item_id in items}
        wanted = sorted(
            ({item_id for item_id, original in copies.items() if original in heads} | heads) - set(items)
        )
        for start in range(0, len(wanted), 500):
            related.update(
                (item.id, item)
                for item in session.scalars(
                    select(NoticeItem).where(
                        NoticeItem.notice_id == notice.id, NoticeItem.id.in_(wanted[start : start + 500])
                    )
                )
            )
    try:
        events = decide_together(
            chosen, {item_id: (_ref(item), item.status) for item_id, item in related.items()}
        )
    except ConflictingDecisions as exc:
        raise NoticeError(
            "conflicting_decisions",
            f"items {exc.item_ids[:20]} name one resource and take one decision, not different ones",
            status=422,
            details={"item_ids": exc.item_ids[:100]},
        ) from None
    return [(related[item_id], event) for item_id, event in sorted(events.items())]


def _ref(item: NoticeItem) -> ItemRef:
    return ItemRef(
        item_id=item.id,
        notice_id=item.notice_id,
        zone_id=item.zone_id,
        customer_id=item.customer_id,
        target=item.target,
        url=item.canonical_url,
        duplicate_of=item.duplicate_of_id,
    )


def supplement(
    session: Session,
    notice: Notice,
    data: NoticeSupplement,
    *,
    by: Submitter,
    now: datetime,
    settings: Settings,
) -> Notice:
    """Complete an incomplete notice with the elements it lacked."""
    if notice.status is not NoticeStatus.incomplete:
        raise NoticeError("not_incomplete", f"notice {notice.id} is {notice.status.value}", status=409)
    for gate in _intake_gates:  # a notifier suspended or untrusted since it filed is treated so now
        by = gate(session, by, now, notice.regime)
    if by.suspension is not None:
        hosts = list(
            session.scalars(
                select(NoticeItem.hostname)
                .where(NoticeItem.notice_id == notice.id, NoticeItem.zone_id.is_not(None))
                .distinct()
            )
        )
        notice.sanction, _refused = _sanction(
            notice.regime, by, hosts, accounts.zones_by_hostname(session, hosts)
        )
        by = dataclasses.replace(by, trusted=False)
    # The notice as supplemented must pass what intake asks of a notice, or nothing of it changes.
    elements = {column: getattr(notice, column) for column in _ELEMENT_COLUMNS}
    if data.submitter is not None:
        s = data.submitter
        for column, value in (
            ("submitter_name", s.name),
            ("submitter_email", s.email),
            ("submitter_address", s.address),
            ("submitter_phone", s.phone),
            ("submitter_organization", s.organization),
            ("on_behalf_of", s.on_behalf_of),
        ):
            elements[column] = value or elements[column]
    if data.works is not None:
        elements["works"] = [w.model_dump() for w in data.works]
        _check_work_indexes(session, notice, works=len(data.works))
    if data.explanation is not None:
        elements["explanation"] = data.explanation
    if data.statements is not None:
        elements["statement_good_faith"] = data.statements.good_faith
        elements["statement_accurate"] = data.statements.accurate
        elements["statement_authorized"] = data.statements.authorized
    if data.signature is not None:
        elements["signature"] = data.signature
    assessment = assess(notice.regime, _stored_facts(elements, item_count=notice.item_count))
    if assessment.outcome is Outcome.insufficient:
        raise NoticeError(
            "notice_insufficient",
            "with this supplement the notice could not be acted on; it lacks: "
            + "; ".join(assessment.missing_names)
            + ". The supplement was not accepted",
            details={"missing_elements": assessment.missing_names},
        )
    for column, value in elements.items():
        setattr(notice, column, value)
    notice.missing_elements = assessment.missing_names
    audit.record(
        session,
        at=now,
        actor=by.actor,
        action="notice.supplemented",
        entity=("notice", notice.id),
        data={"missing_elements": assessment.missing_names},
    )
    if assessment.outcome is not Outcome.complete:
        return notice
    notice.status = notice_transition(notice.status, NoticeEvent.completed)
    enforcement.cancel_timers(session, kind=INCOMPLETE_TIMER, subject=("notice", notice.id), now=now)
    items = items_of(session, notice.id)
    refs = [(_ref(item), item.status) for item in items]
    _accept(session, notice, refs, by=by, now=now, settings=settings)
    _settle(session, notice, now=now)
    return notice


def _check_work_indexes(session: Session, notice: Notice, *, works: int) -> None:
    """Refuse works that leave an item naming a work the notice no longer lists (as intake does)."""
    beyond = NoticeItem.work_index >= works
    where = (NoticeItem.notice_id == notice.id, beyond)
    count = session.scalar(select(func.count()).select_from(NoticeItem).where(*where)) or 0
    if not count:
        return
    rows = session.execute(
        select(NoticeItem.position, NoticeItem.url, NoticeItem.work_index)
        .where(*where)
        .order_by(NoticeItem.position)
        .limit(100)
    )
    raise NoticeError(
        "invalid_items",
        f"{count} of {notice.item_count} item(s) would name a work the notice no longer lists; "
        "the supplement was not accepted",
        details=[_unknown_work(position, url, work, works=works) for position, url, work in rows],
    )


def advisory_elements(notice: Notice) -> list[str]:
    """Elements only the industry's forms ask for that the notice lacks (they never block it)."""
    elements = {column: getattr(notice, column) for column in _ELEMENT_COLUMNS}
    return assess(notice.regime, _stored_facts(elements, item_count=notice.item_count)).advisory_names


def explanations(notice: Notice) -> dict[str, str]:
    """Map each missing element's name to what the submitter should supply."""
    by_name = {element.name: element.explanation for element in ELEMENTS[notice.regime].values()}
    return {name: by_name.get(name, "") for name in notice.missing_elements}


def run_deadline(session: Session, notice_id: int, *, now: datetime, settings: Settings) -> None:
    """Fire a notice's action deadline: record it as overdue if items still wait for review.

    Idempotent: the notice is locked and an overdue already recorded for it is not recorded again,
    so a deadline whose timer runs twice (a worker's lease ran out mid-run) writes one letter.
    """
    notice = session.get(Notice, notice_id, with_for_update=True, populate_existing=True)
    if notice is None or notice.status is not NoticeStatus.accepted:
        return
    if enforcement.has_message(session, kind=OVERDUE_LETTER, notice_id=notice_id):
        return
    pending = session.scalar(
        select(func.count())
        .select_from(NoticeItem)
        .where(NoticeItem.notice_id == notice_id, NoticeItem.status == ItemStatus.pending_review)
    )
    if not pending:
        return
    audit.record(
        session,
        at=now,
        actor="timer",
        action="notice.overdue",
        entity=("notice", notice.id),
        data={"pending_items": pending, "deadline_at": notice.deadline_at.isoformat()},
    )
    letter = messages.overdue(notice, int(pending), provider=settings.provider_name)
    enforcement.enqueue_message(
        session,
        at=now,
        kind=OVERDUE_LETTER,
        channel=Channel.email,
        recipient=settings.abuse_desk_email,
        subject=letter.subject,
        body=letter.body,
        payload=letter.payload,
        notice_id=notice.id,
    )


def run_inquiry(session: Session, notice_id: int, *, now: datetime, settings: Settings) -> int:
    """Fire an inquiry's timer: action the items whose sender did not object in time; return how many."""
    notice = session.get(Notice, notice_id)
    if notice is None:
        return 0
    items = inquiry.due_items(session, notice_id, now=now)
    if not items:
        return 0
    rules = rules_of(notice.regime)
    basis = rules.inquiry.legal_basis if rules.inquiry else "sender inquiry"
    days = {inquiry.inquiry_days(settings, election=bool(item.election)) for item in items}
    reason = (
        f"the sender was asked and did not object within {'/'.join(str(d) for d in sorted(days))} days "
        f"({basis})"
    )
    _apply(
        session,
        notice,
        [(_ref(item), item.status) for item in items],
        ItemEvent.action,
        now=now,
        actor="timer",
        reason=reason,
        automated=True,
        settings=settings,
    )
    return len(items)


def object_to_inquiry(
    session: Session,
    notice: Notice,
    item_ids: Sequence[int],
    *,
    reasons: str,
    customer_id: int | None,
    actor: str,
    now: datetime,
    settings: Settings,
) -> list[int]:
    """The sender objects to removal with its reasons: the items go back to the agent for review."""
    items = inquiry.in_inquiry(session, notice.id, item_ids, customer_id)
    found = {item.id for item in items}
    unknown = sorted(set(item_ids) - found)
    if unknown:
        raise NoticeError(
            "unknown_items", f"item(s) {unknown[:20]} are not part of notice {notice.id}", status=422
        )
    waiting = [item for item in items if item.status is ItemStatus.inquiry]
    if len(waiting) != len(items):
        raise NoticeError(
            "not_in_inquiry",
            "an objection answers an inquiry; item(s) "
            f"{sorted(i.id for i in items if i.status is not ItemStatus.inquiry)[:20]} are not in one",
            status=409,
        )
    late = [item.id for item in waiting if item.inquiry_due_at is not None and item.inquiry_due_at <= now]
    if late:
        raise NoticeError(
            "inquiry_closed", f"the time to object for item(s) {late[:20]} has ended", status=409
        )
    ids = [item.id for item in waiting]
    for item in waiting:
        new, _commands = item_transition(item.status, ItemEvent.objected, _ref(item), reason=reasons)
        item.status, item.inquiry_due_at = new, None
        item.decision_reason = f"the sender objected: {reasons}"
    audit.record(
        session,
        at=now,
        actor=actor,
        action="items.inquiry_objected",
        entity=("notice", notice.id),
        data={"item_ids": ids[:1000], "reasons": reasons},
    )
    letter = messages.objection(notice, ids, reasons, provider=settings.provider_name)
    enforcement.enqueue_message(
        session,
        at=now,
        kind="notice_inquiry_objection",
        channel=Channel.email,
        recipient=settings.abuse_desk_email,
        subject=letter.subject,
        body=letter.body,
        payload=letter.payload,
        notice_id=notice.id,
        customer_id=customer_id,
    )
    return ids


def expire_incomplete(session: Session, notice_id: int, *, now: datetime, settings: Settings) -> None:
    """Close a notice still incomplete when its time to be completed ends, and tell its notifier."""
    notice = session.get(Notice, notice_id)
    if notice is None or notice.status is not NoticeStatus.incomplete:
        return
    due = notice.received_at + timedelta(days=settings.incomplete_notice_days)
    if now < due:  # the period was lengthened since the notice came in: wait for the new end
        enforcement.schedule_timer(
            session, kind=INCOMPLETE_TIMER, due_at=due, subject=("notice", notice.id), now=now
        )
        return
    waiting = list(
        session.scalars(
            select(NoticeItem.id).where(
                NoticeItem.notice_id == notice_id, NoticeItem.status.in_(sorted(WAITING))
            )
        )
    )
    reason = f"the notice was not completed within {settings.incomplete_notice_days:g} days"
    for start in range(0, len(waiting), 500):
        session.execute(
            update(NoticeItem)
            .where(NoticeItem.id.in_(waiting[start : start + 500]))
            .values(status=ItemStatus.rejected, decided_at=now, decided_by="timer", decision_reason=reason)
        )
    notice.status = notice_transition(notice.status, NoticeEvent.expired)
    notice.decided_at = now
    audit.record(
        session,
        at=now,
        actor="timer",
        action="notice.expired",
        entity=("notice", notice.id),
        data={"items": len(waiting), "missing_elements": notice.missing_elements, "reason": reason},
    )
    letter = messages.expired(notice, settings.incomplete_notice_days, provider=settings.provider_name)
    tell(session, notice, letter, kind="notice_expired", at=now)


# --- steps other domains take on items (due process) ----------------------------------------------


def apply_item_event(
    session: Session,
    notice: Notice,
    item_ids: Sequence[int],
    event: ItemEvent,
    *,
    reason: str,
    actor: str,
    now: datetime,
    settings: Settings,
    automated: bool = False,
) -> list[int]:
    """Move items of ``notice`` through ``event`` (counter-notice, restore, uphold, action) with its commands.

    Every item must belong to the notice and allow the event, or nothing happens. Copies of the same
    resource in the notice move with them. Return the ids moved.
    """
    wanted = sorted(set(item_ids))
    items = {
        item.id: item
        for item in session.scalars(
            select(NoticeItem).where(NoticeItem.notice_id == notice.id, NoticeItem.id.in_(wanted))
        )
    }
    unknown = [item_id for item_id in wanted if item_id not in items]
    if unknown:
        raise NoticeError(
            "unknown_items", f"item(s) {unknown[:20]} are not part of notice {notice.id}", status=422
        )
    refused = [item_id for item_id in wanted if (items[item_id].status, event) not in ITEM_TRANSITIONS]
    if refused:
        states = {item_id: items[item_id].status.value for item_id in refused[:20]}
        raise NoticeError(
            "illegal_transition",
            f"item(s) {refused[:20]} do not allow {event.value!r} in their present state",
            status=409,
            details=states,
        )
    # Copies of one resource in the notice share every step: none may claim a block the other lifted.
    moving = _together(session, notice, items, dict.fromkeys(wanted, event))
    refs = [(_ref(item), item.status) for item, _event in moving]
    wanted = [item.id for item, _event in moving]
    if event in (ItemEvent.counter_notice, ItemEvent.uphold):
        # Steps of the parties, not decisions of the provider: the item keeps who decided it, when and
        # why (a complaint is measured from that decision and may not be decided by the same agent).
        moved: dict[ItemStatus, list[int]] = {}
        for ref, state in refs:
            new, _commands = item_transition(state, event, ref, reason=reason)
            moved.setdefault(new, []).append(ref.item_id)
        for new, ids in moved.items():
            for start in range(0, len(ids), 500):
                session.execute(
                    update(NoticeItem).where(NoticeItem.id.in_(ids[start : start + 500])).values(status=new)
                )
            audit.record(
                session,
                at=now,
                actor=actor,
                action=f"items.{new.value}",
                entity=("notice", notice.id),
                data={"event": event.value, "item_ids": ids[:AUDIT_BATCH], "reason": reason},
            )
        _settle(session, notice, now=now)
    elif refs:
        _apply(
            session,
            notice,
            refs,
            event,
            now=now,
            actor=actor,
            reason=reason,
            automated=automated,
            settings=settings,
        )
    return wanted


def item_decisions(session: Session, item_ids: Sequence[int]) -> list[Row[Any]]:
    """Who decided each item, when, how and why (for statements of reasons and complaints)."""
    columns = select(
        NoticeItem.id,
        NoticeItem.notice_id,
        NoticeItem.canonical_url,
        NoticeItem.zone_id,
        NoticeItem.customer_id,
        NoticeItem.status,
        NoticeItem.work_index,
        NoticeItem.decided_at,
        NoticeItem.decided_by,
        NoticeItem.decision_reason,
        NoticeItem.automated,
    )
    rows: list[Row[Any]] = []
    scattered: list[int] = []
    for first, last in id_runs(item_ids):
        if last - first < 50:
            scattered.extend(range(first, last + 1))
            continue
        # The items of a notice are written together, so their ids mostly come in long runs.
        result: Result[Any] = session.execute(columns.where(NoticeItem.id.between(first, last)))
        rows.extend(result)
    for start in range(0, len(scattered), 500):
        rows.extend(session.execute(columns.where(NoticeItem.id.in_(scattered[start : start + 500]))))
    return rows


def id_runs(ids: Sequence[int]) -> list[tuple[int, int]]:
    """The distinct ``ids`` as ascending runs of consecutive numbers, each ``(first, last)``."""
    runs: list[tuple[int, int]] = []
    for id_ in sorted(set(ids)):
        if runs and runs[-1][1] == id_ - 1:
            runs[-1] = (runs[-1][0], id_)
        else:
            runs.append((id_, id_))
    return runs


def erase_complainant_contacts(session: Session, *, before: datetime, keep_customers: Sequence[int]) -> int:
    """Erase the complainant's e-mail, telephone and address of notices decided before ``before``,
    except notices about customers under legal hold; return how many notices."""
    stmt = (
        update(Notice)
        .where(
            Notice.decided_at.is_not(None),
            Notice.decided_at < before,
            (Notice.submitter_email.is_not(None))
            | (Notice.submitter_phone.is_not(None))
            | (Notice.submitter_address.is_not(None)),
        )
        .values(submitter_email=None, submitter_phone=None, submitter_address=None)
        .execution_options(synchronize_session=False)
    )
    if keep_customers:
        held = select(NoticeItem.notice_id).where(NoticeItem.customer_id.in_(list(keep_customers)))
        stmt = stmt.where(Notice.id.not_in(held))
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def count_by_submitter(session: Session, submitter_key_id: int, *, since: datetime) -> int:
    """How many notices a submitter's key sent since ``since`` (to weigh misuse in proportion)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notice)
            .where(Notice.submitter_key_id == submitter_key_id, Notice.received_at > since)
        )
        or 0
    )
