"""Decisions on a notice after intake: an agent's decision (with the caching trigger), a supplement
completing an incomplete notice, the timers (action deadline, sender inquiry, incomplete expiry)
and the sender's objection to an inquiry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.config import Settings
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel
from staydown.notices import inquiry, messages, webhooks
from staydown.notices.elements import ELEMENTS, Outcome, assess
from staydown.notices.flows import (
    ITEM_TRANSITIONS,
    WAITING,
    ItemEvent,
    ItemRef,
    ItemStatus,
    NoticeEvent,
    NoticeStatus,
    item_transition,
    notice_transition,
)
from staydown.notices.intake import (
    ELEMENT_COLUMNS,
    accept,
    apply_gates,
    sanction_of,
    stored_facts,
    unknown_work,
)
from staydown.notices.models import Notice, NoticeItem
from staydown.notices.records import NoticeError, Submitter
from staydown.notices.regimes import rules_of
from staydown.notices.schemas import NoticeSupplement
from staydown.notices.steps import INCOMPLETE_TIMER, apply_event, items_of, ref_of, settle, tell, together
from staydown.types import ServiceType
from staydown.wording import Words, recipient_locale

OVERDUE_LETTER = "notice_overdue"
INQUIRY_TIMER = inquiry.INQUIRY_TIMER


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
    for item, event in together(session, notice, items, chosen):
        if (item.status, event) not in ITEM_TRANSITIONS:
            raise NoticeError(
                "illegal_transition",
                f"item {item.id} is {item.status.value} and cannot be given {event.value!r}",
                status=409,
            )
        groups[event].append((ref_of(item), item.status))
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
            apply_event(
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
    # A notifier suspended or untrusted since it filed is treated so now.
    by = apply_gates(session, by, now, notice.regime)
    if by.suspension is not None:
        hosts = list(
            session.scalars(
                select(NoticeItem.hostname)
                .where(NoticeItem.notice_id == notice.id, NoticeItem.zone_id.is_not(None))
                .distinct()
            )
        )
        notice.sanction, _refused = sanction_of(
            notice.regime, by, hosts, accounts.zones_by_hostname(session, hosts)
        )
        by = dataclasses.replace(by, trusted=False)
    # The notice as supplemented must pass what intake asks of a notice, or nothing of it changes.
    elements = {column: getattr(notice, column) for column in ELEMENT_COLUMNS}
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
    assessment = assess(notice.regime, stored_facts(elements, item_count=notice.item_count))
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
    refs = [(ref_of(item), item.status) for item in items]
    accept(session, notice, refs, by=by, now=now, settings=settings)
    settle(session, notice, now=now)
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
        details=[unknown_work(position, url, work, works=works) for position, url, work in rows],
    )


def advisory_elements(notice: Notice) -> list[str]:
    """Elements only the industry's forms ask for that the notice lacks (they never block it)."""
    elements = {column: getattr(notice, column) for column in ELEMENT_COLUMNS}
    return assess(notice.regime, stored_facts(elements, item_count=notice.item_count)).advisory_names


def explanations(notice: Notice, locale: str = "en") -> dict[str, str]:
    """Map each missing element's name to what the submitter should supply (in ``locale``)."""
    _ = Words(locale)
    by_name = {element.name: element.explanation for element in ELEMENTS[notice.regime].values()}
    return {name: _(by_name[name]) if name in by_name else "" for name in notice.missing_elements}


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
    letter = messages.overdue(
        notice, int(pending), provider=settings.provider_name, locale=settings.default_locale
    )
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
    apply_event(
        session,
        notice,
        [(ref_of(item), item.status) for item in items],
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
        new, _commands = item_transition(item.status, ItemEvent.objected, ref_of(item), reason=reasons)
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
    letter = messages.objection(
        notice, ids, reasons, provider=settings.provider_name, locale=settings.default_locale
    )
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
    webhooks.announce(session, notice, "notice.decided", waiting, at=now)
    letter = messages.expired(
        notice,
        settings.incomplete_notice_days,
        provider=settings.provider_name,
        locale=recipient_locale(notice.language, settings.default_locale),
    )
    tell(session, notice, letter, kind="notice_expired", at=now)
