"""Internal complaints (DSA Art. 20) against any decision about a customer or a notifier.

A customer contests the block of its items or a repeat-infringer step against it; a notifier the
rejection of its notice's items or a misuse measure against it. Complaints are open for at least
six months after the decision, are decided by someone other than who took it, with reasons, and a
well-founded one is reversed through the workflow that took the decision: items are restored (or
actioned) by ``notices``, a suspension is lifted by ``policy``, a measure is reversed by ``misuse``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.accounts.models import Standing
from staydown.audit import service as audit
from staydown.config import Settings
from staydown.due_process import messages, misuse
from staydown.due_process.flows import (
    CONTESTABLE,
    CONTESTABLE_MEASURES,
    CONTESTABLE_STEPS,
    REVERSAL_EVENT,
    Complainant,
    ComplaintEvent,
    ComplaintStatus,
    ComplaintSubject,
    DueProcessError,
    complaint_open_until,
    complaint_transition,
    human_decider,
    independent_decider,
    informed_at,
)
from staydown.due_process.items import get_notice, named_items, send_letter, void_strike_if_clear
from staydown.due_process.messages import Reversal
from staydown.due_process.models import Complaint
from staydown.due_process.reasons import reverse_statements
from staydown.due_process.schemas import ComplaintCreate, ComplaintRead
from staydown.enforcement import service as enforcement
from staydown.fingerprints import service as fingerprints
from staydown.notices import service as notices
from staydown.notices.flows import ItemEvent
from staydown.policy import service as policy
from staydown.types import as_utc
from staydown.wording import recipient_locale

if TYPE_CHECKING:
    from staydown.notices.models import Notice


def _refuse(what: str, status: str, allowed: frozenset[str]) -> DueProcessError:
    return DueProcessError(
        "decision_not_contestable",
        f"{what} is a {status!r}; complaints here contest: {', '.join(sorted(allowed))}",
        status=409,
    )


def _contested_items(
    session: Session,
    data: ComplaintCreate,
    complainant: Complainant,
    customer_id: int | None,
    key_id: int | None,
) -> tuple[Notice, list[int], datetime, list[str]]:
    assert data.notice_id is not None
    notice = get_notice(session, data.notice_id)
    if complainant is Complainant.customer:
        if customer_id is None or not notices.visible_to_customer(session, notice.id, customer_id):
            raise DueProcessError("not_found", f"notice {notice.id} does not exist", status=404)
        rows = named_items(session, notice, data.items, customer_id)
    else:
        if key_id is None or notice.submitter_key_id != key_id:
            raise DueProcessError("not_found", f"notice {notice.id} does not exist", status=404)
        rows = named_items(session, notice, data.items, None)
    contestable = CONTESTABLE[complainant]
    refused = {row.id: row.status.value for row in rows if row.status.value not in contestable}
    if refused:
        what = "restricted" if complainant is Complainant.customer else "rejected"
        raise DueProcessError(
            "decision_not_contestable",
            f"a {complainant.value} complains about items that were {what}; item(s) "
            f"{sorted(refused)[:20]} are not",
            status=409,
            details=refused,
        )
    undecided = [row.id for row in rows if row.decided_at is None]
    if undecided:
        raise DueProcessError(
            "no_decision", f"item(s) {undecided[:20]} have no decision to complain about", status=409
        )
    taken_at = min(row.decided_at for row in rows)
    return (
        notice,
        [row.id for row in rows],
        taken_at,
        sorted({row.decided_by for row in rows if row.decided_by}),
    )


# A match's block is in force while it is ``blocked`` (automatic) or ``confirmed`` (by an agent).
CONTESTABLE_MATCHES = frozenset({"blocked", "confirmed"})


def _contested_match(
    session: Session, match_id: int, complainant: Complainant, customer_id: int | None
) -> tuple[datetime, list[str]]:
    """When the block of a stay-down match on the customer's zone was decided, and by whom."""
    match = fingerprints.get_match(session, match_id)
    if complainant is not Complainant.customer or match is None or match.customer_id != customer_id:
        raise DueProcessError("not_found", f"match {match_id} does not exist", status=404)
    if match.status.value not in CONTESTABLE_MATCHES:
        raise _refuse(f"match {match.id}", match.status.value, CONTESTABLE_MATCHES)
    if match.decided_at is not None and match.decided_by:
        return as_utc(match.decided_at), [match.decided_by]
    return as_utc(match.found_at), [match.reported_by]


def _open_on_same_decision(session: Session, complaint: Complaint) -> None:
    stmt = select(Complaint).where(
        Complaint.status == ComplaintStatus.open, Complaint.subject == complaint.subject
    )
    if complaint.subject is ComplaintSubject.items:
        stmt = stmt.where(Complaint.notice_id == complaint.notice_id)
    elif complaint.subject is ComplaintSubject.policy_step:
        stmt = stmt.where(Complaint.policy_step_id == complaint.policy_step_id)
    elif complaint.subject is ComplaintSubject.staydown_match:
        stmt = stmt.where(Complaint.match_id == complaint.match_id)
    else:
        stmt = stmt.where(Complaint.measure_id == complaint.measure_id)
    for other in session.scalars(stmt):
        overlap = sorted(set(other.item_ids) & set(complaint.item_ids))
        if complaint.subject is not ComplaintSubject.items or overlap:
            about = f" about item(s) {overlap[:20]}" if overlap else ""
            raise DueProcessError(
                "complaint_open",
                f"complaint {other.id}{about} on the same decision is still open",
                status=409,
                details={"complaint_id": other.id},
            )


def file_complaint(
    session: Session,
    data: ComplaintCreate,
    *,
    complainant: Complainant,
    customer_id: int | None,
    key_id: int | None,
    actor: str,
    now: datetime,
    settings: Settings,
) -> Complaint:
    """Lodge a complaint against one decision, within the complaint window."""
    notice_id: int | None = None
    item_ids: list[int] = []
    if data.notice_id is not None:
        notice, item_ids, taken_at, taken_by = _contested_items(
            session, data, complainant, customer_id, key_id
        )
        notice_id, subject = notice.id, ComplaintSubject.items
    elif data.policy_step_id is not None:
        subject = ComplaintSubject.policy_step
        steps = policy.list_steps(session, customer_id) if customer_id is not None else []
        step = next((s for s in steps if s.id == data.policy_step_id), None)
        if complainant is not Complainant.customer or step is None:
            raise DueProcessError(
                "not_found", f"policy step {data.policy_step_id} does not exist", status=404
            )
        if step.kind.value not in CONTESTABLE_STEPS:
            raise _refuse(f"policy step {step.id}", step.kind.value, CONTESTABLE_STEPS)
        taken_at, taken_by = step.at, [step.actor]
    elif data.match_id is not None:
        subject = ComplaintSubject.staydown_match
        taken_at, taken_by = _contested_match(session, data.match_id, complainant, customer_id)
    else:
        subject = ComplaintSubject.notifier_measure
        measure = misuse.get_measure(session, data.measure_id) if data.measure_id is not None else None
        if complainant is not Complainant.notifier or measure is None or measure.submitter_key_id != key_id:
            raise DueProcessError("not_found", f"measure {data.measure_id} does not exist", status=404)
        if measure.kind.value not in CONTESTABLE_MEASURES:
            raise _refuse(f"measure {measure.id}", measure.kind.value, CONTESTABLE_MEASURES)
        taken_at, taken_by = measure.at, [measure.actor]
    told = _informed(session, complainant, taken_at, notice_id=notice_id, customer_id=customer_id)
    open_until = complaint_open_until(told, months=settings.complaint_window_months)
    if now > open_until:
        raise DueProcessError(
            "complaint_window_closed",
            f"an internal complaint must be lodged within {settings.complaint_window_months} months of being "
            f"informed of the decision (Regulation (EU) 2022/2065 Art. 20(1), (2)); the decision was taken "
            f"on {taken_at.isoformat()}, you were informed on {told.isoformat()} and the window closed on "
            f"{open_until.isoformat()}",
            status=409,
            details={
                "decision_taken_at": taken_at.isoformat(),
                "informed_at": told.isoformat(),
                "open_until": open_until.isoformat(),
            },
        )
    complaint = Complaint(
        subject=subject,
        notice_id=notice_id,
        policy_step_id=data.policy_step_id,
        measure_id=data.measure_id,
        match_id=data.match_id,
        complainant=complainant,
        customer_id=customer_id if complainant is Complainant.customer else None,
        filed_by_key_id=key_id,
        item_ids=item_ids,
        explanation=data.explanation,
        status=ComplaintStatus.open,
        received_at=now,
        decision_taken_at=taken_at,
        decision_taken_by=taken_by,
        informed_at=told,
    )
    _open_on_same_decision(session, complaint)
    session.add(complaint)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="complaint.received",
        entity=("complaint", complaint.id),
        data={
            "subject": subject.value,
            "notice_id": notice_id,
            "policy_step_id": data.policy_step_id,
            "measure_id": data.measure_id,
            "match_id": data.match_id,
            "complainant": complainant.value,
            "item_ids": item_ids[:1000],
        },
    )
    to, customer_for, language = _complainant_address(session, complaint)
    letter = messages.complaint_receipt(
        complaint, provider=settings.provider_name, locale=recipient_locale(language, settings.default_locale)
    )
    send_letter(session, letter, to=to, notice_id=notice_id, customer_id=customer_for, at=now)
    return complaint


def _informed(
    session: Session,
    complainant: Complainant,
    taken_at: datetime,
    *,
    notice_id: int | None,
    customer_id: int | None,
) -> datetime:
    """When the complainant was informed of the decision: its letters since the decision say."""
    if complainant is Complainant.customer and customer_id is not None:
        messages_ = enforcement.list_messages(
            session, notice_id=notice_id, customer_id=customer_id, limit=1000
        )
    elif notice_id is not None:
        messages_ = [
            m
            for m in enforcement.list_messages(session, notice_id=notice_id, limit=1000)
            if m.customer_id is None
        ]
    else:
        return taken_at
    return informed_at(taken_at, [(as_utc(m.created_at), m.sent_at and as_utc(m.sent_at)) for m in messages_])


def _complainant_address(session: Session, complaint: Complaint) -> tuple[str | None, int | None, str | None]:
    """Where the complainant's letters go: its e-mail, its customer id (if a customer) and the
    language it stated (none: the default)."""
    if complaint.complainant is Complainant.customer and complaint.customer_id is not None:
        customer = accounts.get_customer(session, complaint.customer_id)
        if customer is None:
            return None, complaint.customer_id, None
        return customer.email, complaint.customer_id, customer.locale
    if complaint.notice_id is not None:
        notice = notices.get(session, complaint.notice_id)
        return (notice.submitter_email, None, notice.language) if notice else (None, None, None)
    if complaint.filed_by_key_id is not None:
        # A measure's letters went to the address of the notice that triggered it; use the latest.
        latest, _total = notices.list_page(session, submitter_key_id=complaint.filed_by_key_id, per_page=1)
        return (latest[0].submitter_email, None, latest[0].language) if latest else (None, None, None)
    return None, None, None


def get_complaint(session: Session, complaint_id: int) -> Complaint | None:
    return session.get(Complaint, complaint_id)


def list_complaints(
    session: Session,
    *,
    status: ComplaintStatus | None = None,
    customer_id: int | None = None,
    key_id: int | None = None,
    limit: int = 100,
) -> Sequence[Complaint]:
    stmt = select(Complaint).order_by(Complaint.received_at, Complaint.id).limit(limit)
    if status is not None:
        stmt = stmt.where(Complaint.status == status)
    if customer_id is not None:
        stmt = stmt.where(Complaint.customer_id == customer_id)
    if key_id is not None:
        stmt = stmt.where(Complaint.filed_by_key_id == key_id)
    return session.scalars(stmt).all()


def complaint_read(complaint: Complaint, settings: Settings) -> ComplaintRead:
    return ComplaintRead(
        id=complaint.id,
        status=complaint.status,
        subject=complaint.subject,
        complainant=complaint.complainant,
        notice_id=complaint.notice_id,
        policy_step_id=complaint.policy_step_id,
        measure_id=complaint.measure_id,
        match_id=complaint.match_id,
        items=[int(i) for i in complaint.item_ids],
        explanation=complaint.explanation,
        received_at=complaint.received_at,
        decision_taken_at=complaint.decision_taken_at,
        open_until=complaint_open_until(
            complaint.informed_at or complaint.decision_taken_at, months=settings.complaint_window_months
        ),
        decided_at=complaint.decided_at,
        decided_by=complaint.decided_by,
        answer=complaint.answer,
    )


def _reverse_items(
    session: Session, complaint: Complaint, reason: str, *, actor: str, now: datetime, settings: Settings
) -> tuple[Reversal | None, dict[str, Any]]:
    assert complaint.notice_id is not None
    notice = get_notice(session, complaint.notice_id)
    rows = notices.item_decisions(session, [int(i) for i in complaint.item_ids])
    contestable = CONTESTABLE[complaint.complainant]
    item_ids = [row.id for row in rows if row.status.value in contestable]
    if not item_ids:
        return None, {"items_reversed": []}
    if complaint.complainant is Complainant.customer:
        reverse_statements(session, item_ids, at=now, reason=reason)
    notices.apply_item_event(
        session,
        notice,
        item_ids,
        ItemEvent(REVERSAL_EVENT[complaint.complainant]),
        reason=reason,
        actor=actor,
        now=now,
        settings=settings,
    )
    voided = False
    if complaint.complainant is Complainant.customer and complaint.customer_id is not None:
        voided = void_strike_if_clear(
            session,
            notice.id,
            complaint.customer_id,
            now=now,
            actor=actor,
            reason=reason,
            policy_rule=settings.policy,
        )
        told = messages.complaint_reversal_to_notifier(
            complaint,
            item_ids,
            provider=settings.provider_name,
            locale=recipient_locale(notice.language, settings.default_locale),
        )
        send_letter(session, told, to=notice.submitter_email, notice_id=notice.id, customer_id=None, at=now)
    by_customer = complaint.complainant is Complainant.customer
    done = messages.ITEMS_RESTORED if by_customer else messages.ITEMS_BLOCKED
    return Reversal(done, {"count": len(item_ids)}), {
        "items_reversed": item_ids[:1000],
        "strike_voided": voided,
    }


def _reverse_step(
    session: Session, complaint: Complaint, reason: str, *, actor: str, now: datetime, settings: Settings
) -> tuple[Reversal | None, dict[str, Any]]:
    assert complaint.customer_id is not None
    # Locked like every policy step, so a strike that arrives meanwhile is counted after this one.
    customer = policy.lock_customer(session, complaint.customer_id)
    steps = policy.list_steps(session, complaint.customer_id)
    step = next((s for s in steps if s.id == complaint.policy_step_id), None)
    if customer is None or step is None:
        return None, {}
    if step.kind.value == "suspension" and customer.standing is Standing.suspended:
        lifted = policy.reinstate(
            session,
            customer,
            now=now,
            actor=actor,
            reason=reason,
            policy=settings.policy,
            provider=settings.provider_name,
        )
        return Reversal(messages.SUSPENSION_LIFTED, {}), {"reinstatement_step_id": lifted.id}
    if step.kind.value == "termination" and customer.standing is Standing.terminated:
        # The termination is set aside: the account stands again (warned) and may register zones;
        # the terminated zones released their hostnames and are registered and validated anew.
        accounts.set_standing(session, customer, Standing.warned, now=now, actor=actor, reason=reason)
        return Reversal(messages.TERMINATION_SET_ASIDE, {}), {"standing": Standing.warned.value}
    if step.kind.value == "warning" and customer.standing is Standing.warned:
        accounts.set_standing(session, customer, Standing.good, now=now, actor=actor, reason=reason)
        return Reversal(messages.WARNING_WITHDRAWN, {}), {"standing": Standing.good.value}
    return None, {"note": f"the customer's standing is now {customer.standing.value}; nothing to undo"}


def decide_complaint(
    session: Session,
    complaint: Complaint,
    *,
    upheld: bool,
    answer: str,
    actor: str,
    now: datetime,
    settings: Settings,
) -> str | None:
    """Decide a complaint with reasons; a well-founded one reverses the decision. Say what was reversed."""
    session.refresh(
        complaint, with_for_update=True
    )  # two agents deciding at once: the second sees it decided
    if complaint.status is not ComplaintStatus.open:
        raise DueProcessError(
            "complaint_decided", f"complaint {complaint.id} was already decided ({complaint.status.value})"
        )
    if not human_decider(actor):
        raise DueProcessError(
            "not_a_person",
            f"complaint {complaint.id} must be decided by a person (Regulation (EU) 2022/2065 Art. 20(6)); "
            f"{actor} is not one",
            status=403,
        )
    if not independent_decider(actor, set(complaint.decision_taken_by)):
        raise DueProcessError(
            "same_decision_maker",
            f"complaint {complaint.id} contests a decision taken by {actor}; another agent must decide it "
            "(Regulation (EU) 2022/2065 Art. 20(6): not solely by the same person, under supervision)",
            status=403,
            details={"decision_taken_by": complaint.decision_taken_by},
        )
    event = ComplaintEvent.found_well_founded if upheld else ComplaintEvent.found_unfounded
    complaint.status = complaint_transition(complaint.status, event)
    complaint.decided_at, complaint.decided_by, complaint.answer = now, actor, answer
    reversal: Reversal | None = None
    effects: dict[str, Any] = {}
    if upheld:
        reason = f"internal complaint {complaint.id} upheld: {answer}"
        if complaint.subject is ComplaintSubject.items:
            reversal, effects = _reverse_items(
                session, complaint, reason, actor=actor, now=now, settings=settings
            )
        elif complaint.subject is ComplaintSubject.policy_step:
            reversal, effects = _reverse_step(
                session, complaint, reason, actor=actor, now=now, settings=settings
            )
        elif complaint.subject is ComplaintSubject.staydown_match and complaint.match_id is not None:
            fingerprints.decide_match(
                session,
                complaint.match_id,
                decision="dismiss",
                reason=reason,
                now=now,
                actor=actor,
                settings=settings,
            )
            reversal, effects = Reversal(messages.STAYDOWN_LIFTED, {}), {"match_id": complaint.match_id}
        else:
            measure = misuse.get_measure(session, complaint.measure_id) if complaint.measure_id else None
            if measure is not None:
                undone = misuse.reverse_measure(session, measure, reason=reason, actor=actor, now=now)
                reversal, effects = (
                    Reversal(messages.MEASURES_REVERSED[measure.kind.value], {}),
                    {"reversal": undone.id},
                )
    reversed_what = str(reversal) if reversal is not None else None
    audit.record(
        session,
        at=now,
        actor=actor,
        action=f"complaint.{complaint.status.value}",
        entity=("complaint", complaint.id),
        data={"answer": answer, "reversed": reversed_what, **effects},
    )
    to, customer_for, language = _complainant_address(session, complaint)
    letter = messages.complaint_decision(
        complaint,
        reversal,
        provider=settings.provider_name,
        locale=recipient_locale(language, settings.default_locale),
    )
    send_letter(session, letter, to=to, notice_id=complaint.notice_id, customer_id=customer_for, at=now)
    return reversed_what
