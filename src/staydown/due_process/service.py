"""Due process: counter-notices and timed restoration, court actions; and, from their own modules,
internal complaints (``complaints``), notifier misuse (``misuse``) and statements of reasons
(``reasons``), so that other domains find every public function here.

Each step runs in the caller's unit of work together with the item transitions it causes (through
``notices.service``), the enforcement records, the audit entries and the letters to every party.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.config import Settings
from staydown.db import journal
from staydown.due_process import flaggers, messages, misuse, reasons
from staydown.due_process.calendar import BusinessCalendar, restoration_instant
from staydown.due_process.complaints import (
    complaint_read,
    decide_complaint,
    file_complaint,
    get_complaint,
    list_complaints,
)
from staydown.due_process.flaggers import change_award, current_award, list_awards, record_award
from staydown.due_process.flaggers import read as read_award
from staydown.due_process.flows import (
    CounterNoticeEvent,
    CounterNoticeFacts,
    CounterNoticeStatus,
    DueProcessError,
    counter_notice_missing,
    counter_notice_transition,
    element_explanations,
)
from staydown.due_process.items import get_notice, named_items, send_letter, void_strike_if_clear
from staydown.due_process.misuse import (
    change_trust,
    list_measures,
    mark_unfounded,
    standing,
    unfounded_count,
)
from staydown.due_process.models import (
    CounterNotice,
    CounterNoticeItem,
)
from staydown.due_process.reasons import (
    find_statements,
    get_statement,
    list_statements,
    read,
    reverse_statements,
)
from staydown.due_process.restrictions import in_force as restrictions_in_force
from staydown.due_process.restrictions import restriction_read
from staydown.due_process.retention import erase_counter_notice_contacts, erase_customer
from staydown.due_process.schemas import (
    CounterNoticeCreate,
    CounterNoticeRead,
    CourtActionCreate,
)
from staydown.enforcement import service as enforcement
from staydown.notices import service as notices
from staydown.notices.flows import ItemEvent, ItemStatus
from staydown.wording import recipient_locale

if TYPE_CHECKING:
    pass

__all__ = [
    "DueProcessError",
    "change_award",
    "change_trust",
    "complaint_read",
    "current_award",
    "decide_complaint",
    "erase_counter_notice_contacts",
    "erase_customer",
    "file_complaint",
    "find_statements",
    "get_complaint",
    "get_statement",
    "list_awards",
    "list_complaints",
    "list_measures",
    "list_statements",
    "mark_unfounded",
    "read",
    "read_award",
    "record_award",
    "restriction_read",
    "restrictions_in_force",
    "reverse_statements",
    "standing",
    "unfounded_count",
]

RESTORE_TIMER = "counter_notice_restore"


def install() -> None:
    """Issue statements of reasons for what each unit of work blocks, lifts or suspends, as it
    commits, and let notifier-misuse measures gate intake (called by the assembly)."""
    journal.before_numbering(reasons.record_statements)
    misuse.install()
    flaggers.install()  # after misuse: for DSA notices the Art. 22 status decides trust


JURISDICTION = "US"  # 17 U.S.C. 512(g) is the only rule here that counts business days


def business_calendar(settings: Settings) -> BusinessCalendar:
    """The calendar restoration counts on, as configured (see ``due_process.calendar``)."""
    return BusinessCalendar(
        JURISDICTION,
        timezone=settings.business_timezone_us,
        holidays=frozenset(settings.holidays_us),
        federal_holidays=settings.federal_holidays,
    )


# --- counter-notices --------------------------------------------------------------------------


def file_counter_notice(
    session: Session,
    data: CounterNoticeCreate,
    *,
    customer_id: int | None,
    key_id: int | None,
    actor: str,
    now: datetime,
    settings: Settings,
    channel: str = "api",
) -> CounterNotice:
    """Take a counter-notice: check §512(g)(3), forward it to the complainant and set the restoration timer.

    ``customer_id`` is the filing customer (``None`` when an agent files for one): only items on
    its zones can be named, and anything else is "not found" so ids do not leak.
    """
    notice = get_notice(session, data.notice_id)
    if customer_id is not None and not notices.visible_to_customer(session, notice.id, customer_id):
        raise DueProcessError("not_found", f"notice {notice.id} does not exist", status=404)
    rows = named_items(session, notice, data.items, customer_id)
    owners = {row.customer_id for row in rows}
    if customer_id is None:
        if len(owners) != 1 or None in owners:
            raise DueProcessError(
                "customer_ambiguous",
                "a counter-notice speaks for one customer: name items of one customer's zones",
                status=422,
            )
        customer_id = next(iter(owners))
    assert customer_id is not None
    if not notices.regime_rules(notice.regime).counter_notice:
        raise DueProcessError(
            "not_a_dmca_notice",
            f"counter-notices answer DMCA notices (17 U.S.C. 512(g)); notice {notice.id} is a "
            f"{notices.regime_rules(notice.regime).label} notice: contest it with an internal complaint "
            "(POST /v1/complaints)",
            status=422,
        )
    not_blocked = {row.id: row.status.value for row in rows if row.status is not ItemStatus.actioned}
    if not_blocked:
        raise DueProcessError(
            "items_not_blocked",
            "a counter-notice contests items that are blocked and not already counter-noticed; "
            f"item(s) {sorted(not_blocked)[:20]} are not",
            status=409,
            details=not_blocked,
        )
    missing = counter_notice_missing(
        CounterNoticeFacts(
            signature=bool(data.signature),
            items=bool(rows),
            good_faith_mistake=data.statements.good_faith_mistake,
            name=bool(data.name),
            address=bool(data.address),
            phone=bool(data.phone),
            consent_to_jurisdiction=data.statements.consent_to_jurisdiction,
            accept_service=data.statements.accept_service,
        )
    )
    counter = CounterNotice(
        notice_id=notice.id,
        customer_id=customer_id,
        filed_by_key_id=key_id,
        channel=channel,
        status=CounterNoticeStatus.received,
        name=data.name,
        address=data.address,
        phone=data.phone,
        email=data.email,
        explanation=data.explanation,
        statement_good_faith_mistake=data.statements.good_faith_mistake,
        statement_consent_to_jurisdiction=data.statements.consent_to_jurisdiction,
        statement_accept_service=data.statements.accept_service,
        signature=data.signature,
        missing_elements=missing,
        received_at=now,
    )
    session.add(counter)
    session.flush()
    session.add_all(CounterNoticeItem(counter_notice_id=counter.id, item_id=row.id) for row in rows)
    item_ids = [row.id for row in rows]
    customer = accounts.get_customer(session, customer_id)
    to_customer = data.email or (customer.email if customer else None)
    if missing:
        counter.status = counter_notice_transition(counter.status, CounterNoticeEvent.assessed_incomplete)
        audit.record(
            session,
            at=now,
            actor=actor,
            action="counter_notice.incomplete",
            entity=("counter_notice", counter.id),
            data={"notice_id": notice.id, "item_ids": item_ids[:1000], "missing_elements": missing},
        )
        letter = messages.counter_notice_incomplete(
            counter,
            provider=settings.provider_name,
            locale=recipient_locale(customer.locale if customer else None, settings.default_locale),
        )
        send_letter(session, letter, to=to_customer, notice_id=notice.id, customer_id=customer_id, at=now)
        return counter
    counter.status = counter_notice_transition(counter.status, CounterNoticeEvent.assessed_complete)
    counter.restore_business_days = settings.restore_business_days
    counter.restore_at = restoration_instant(now, settings.restore_business_days, business_calendar(settings))
    notices.apply_item_event(
        session,
        notice,
        item_ids,
        ItemEvent.counter_notice,
        reason=f"counter-notice {counter.id}",
        actor=actor,
        now=now,
        settings=settings,
    )
    enforcement.schedule_timer(
        session,
        kind=RESTORE_TIMER,
        due_at=counter.restore_at,
        subject=("counter_notice", counter.id),
        now=now,
        payload={"notice_id": notice.id, "item_ids": item_ids[:1000]},
    )
    audit.record(
        session,
        at=now,
        actor=actor,
        action="counter_notice.received",
        entity=("counter_notice", counter.id),
        data={
            "notice_id": notice.id,
            "item_ids": item_ids[:1000],
            "restore_at": counter.restore_at.isoformat(),
            "business_days": counter.restore_business_days,
        },
    )
    urls = [row.canonical_url for row in rows[:1000]]
    forward = messages.counter_notice_forward(
        counter,
        notice,
        urls,
        provider=settings.provider_name,
        locale=recipient_locale(notice.language, settings.default_locale),
    )
    send_letter(session, forward, to=notice.submitter_email, notice_id=notice.id, customer_id=None, at=now)
    receipt = messages.counter_notice_receipt(
        counter,
        provider=settings.provider_name,
        locale=recipient_locale(customer.locale if customer else None, settings.default_locale),
    )
    send_letter(session, receipt, to=to_customer, notice_id=notice.id, customer_id=customer_id, at=now)
    return counter


def counter_notice_items(session: Session, counter_notice_id: int) -> list[int]:
    return list(
        session.scalars(
            select(CounterNoticeItem.item_id)
            .where(CounterNoticeItem.counter_notice_id == counter_notice_id)
            .order_by(CounterNoticeItem.item_id)
        )
    )


def get_counter_notice(session: Session, counter_notice_id: int) -> CounterNotice | None:
    return session.get(CounterNotice, counter_notice_id)


def list_counter_notices(
    session: Session,
    *,
    status: CounterNoticeStatus | None = None,
    notice_id: int | None = None,
    customer_id: int | None = None,
    limit: int = 100,
) -> Sequence[CounterNotice]:
    """Counter-notices, the next restoration first (those without one after, newest first)."""
    stmt = select(CounterNotice).order_by(
        CounterNotice.restore_at.is_(None), CounterNotice.restore_at, CounterNotice.id.desc()
    )
    if status is not None:
        stmt = stmt.where(CounterNotice.status == status)
    if notice_id is not None:
        stmt = stmt.where(CounterNotice.notice_id == notice_id)
    if customer_id is not None:
        stmt = stmt.where(CounterNotice.customer_id == customer_id)
    return session.scalars(stmt.limit(limit)).all()


def counter_notice_read(session: Session, counter: CounterNotice) -> CounterNoticeRead:
    return CounterNoticeRead(
        id=counter.id,
        status=counter.status,
        notice_id=counter.notice_id,
        items=counter_notice_items(session, counter.id),
        missing_elements=counter.missing_elements,
        missing_element_explanations=element_explanations(counter.missing_elements),
        received_at=counter.received_at,
        restore_business_days=counter.restore_business_days,
        restore_at=counter.restore_at,
        resolved_at=counter.resolved_at,
        court_case=counter.court_case,
    )


def run_restoration(session: Session, counter_notice_id: int, *, now: datetime, settings: Settings) -> None:
    """Fire a counter-notice's timer: restore its items unless a court action was reported."""
    # Locked: a court action reported at the same moment either wins entirely or finds it restored.
    counter = session.get(CounterNotice, counter_notice_id, with_for_update=True)
    if counter is None or counter.status is not CounterNoticeStatus.pending:
        return
    if counter.restore_at is None or now < counter.restore_at:
        # The timer is due at restore_at; firing earlier would be a bug. Fail so the timer retries.
        raise RuntimeError(
            f"counter-notice {counter.id} is not due for restoration before {counter.restore_at}"
        )
    notice = get_notice(session, counter.notice_id)
    counter.status = counter_notice_transition(counter.status, CounterNoticeEvent.timer_fired)
    counter.resolved_at = now
    rows = notices.item_decisions(session, counter_notice_items(session, counter.id))
    waiting = [row.id for row in rows if row.status is ItemStatus.counter_noticed]
    reason = (
        f"restored after counter-notice {counter.id}: no court action reported by "
        f"{counter.restore_at.isoformat()} (17 U.S.C. 512(g)(2)(C))"
    )
    if waiting:
        notices.apply_item_event(
            session,
            notice,
            waiting,
            ItemEvent.restore,
            reason=reason,
            actor="timer",
            now=now,
            settings=settings,
            automated=True,
        )
    voided = void_strike_if_clear(
        session,
        notice.id,
        counter.customer_id,
        now=now,
        actor="timer",
        reason=reason,
        policy_rule=settings.policy,
    )
    audit.record(
        session,
        at=now,
        actor="timer",
        action="counter_notice.restored",
        entity=("counter_notice", counter.id),
        data={"notice_id": notice.id, "item_ids": waiting[:1000], "strike_voided": voided},
    )
    if not waiting:
        return  # a complaint restored them already, and said so
    urls = [row.canonical_url for row in rows if row.id in set(waiting)][:1000]
    customer = accounts.get_customer(session, counter.customer_id)
    letter = messages.restored(
        counter,
        urls,
        provider=settings.provider_name,
        strike_voided=voided,
        locale=recipient_locale(customer.locale if customer else None, settings.default_locale),
    )
    send_letter(
        session,
        letter,
        to=counter.email or (customer.email if customer else None),
        notice_id=notice.id,
        customer_id=counter.customer_id,
        at=now,
    )
    send_letter(
        session,
        messages.restored(
            counter,
            urls,
            provider=settings.provider_name,
            strike_voided=voided,
            locale=recipient_locale(notice.language, settings.default_locale),
        ).to_complainant(),
        to=notice.submitter_email,
        notice_id=notice.id,
        customer_id=None,
        at=now,
    )


def report_court_action(
    session: Session,
    notice_id: int,
    data: CourtActionCreate,
    *,
    submitter_key_id: int | None,
    actor: str,
    now: datetime,
    settings: Settings,
) -> tuple[list[CounterNotice], list[int]]:
    """The complainant has filed a court action: stop restoration and keep the items blocked."""
    notice = get_notice(session, notice_id)
    if submitter_key_id is not None and notice.submitter_key_id != submitter_key_id:
        raise DueProcessError("not_found", f"notice {notice_id} does not exist", status=404)
    stmt = select(CounterNotice).where(
        CounterNotice.notice_id == notice.id, CounterNotice.status == CounterNoticeStatus.pending
    )
    if data.counter_notice_id is not None:
        stmt = stmt.where(CounterNotice.id == data.counter_notice_id)
    pending = list(session.scalars(stmt.order_by(CounterNotice.id).with_for_update()))
    if not pending:
        raise DueProcessError(
            "no_pending_counter_notice",
            f"notice {notice.id} has no counter-notice waiting for restoration; a court action only stops "
            "a restoration that has not happened yet",
            status=409,
        )
    case = (
        "; ".join(
            part
            for part in (
                data.court,
                f"case {data.case_number}" if data.case_number else None,
                f"filed {data.filed_on.isoformat()}" if data.filed_on else None,
                data.description,
            )
            if part
        )
        or "court action reported without details"
    )
    kept: list[int] = []
    for counter in pending:
        counter.status = counter_notice_transition(counter.status, CounterNoticeEvent.court_action_reported)
        counter.resolved_at = now
        counter.court_case = case
        enforcement.cancel_timers(
            session, kind=RESTORE_TIMER, subject=("counter_notice", counter.id), now=now
        )
        rows = notices.item_decisions(session, counter_notice_items(session, counter.id))
        waiting = [row.id for row in rows if row.status is ItemStatus.counter_noticed]
        if waiting:
            notices.apply_item_event(
                session,
                notice,
                waiting,
                ItemEvent.uphold,
                reason=f"court action reported against counter-notice {counter.id}: {case}",
                actor=actor,
                now=now,
                settings=settings,
            )
        kept += waiting
        audit.record(
            session,
            at=now,
            actor=actor,
            action="counter_notice.court_action",
            entity=("counter_notice", counter.id),
            data={"notice_id": notice.id, "item_ids": waiting[:1000], "court_case": case},
        )
        customer = accounts.get_customer(session, counter.customer_id)
        letter = messages.court_action(
            counter,
            case,
            provider=settings.provider_name,
            locale=recipient_locale(customer.locale if customer else None, settings.default_locale),
        )
        send_letter(
            session,
            letter,
            to=counter.email or (customer.email if customer else None),
            notice_id=notice.id,
            customer_id=counter.customer_id,
            at=now,
        )
    return pending, kept
