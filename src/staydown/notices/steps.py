"""Moving a notice's items through the workflow: one event applied to many items with the commands
it implies, the notice settled from its items' states, copies of one resource kept together, and
the notifier told. Intake, decisions and due process all take these steps.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.config import Settings
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel
from staydown.notices import messages, webhooks
from staydown.notices.flows import (
    WAITING,
    Command,
    ConflictingDecisions,
    ItemEvent,
    ItemRef,
    ItemStatus,
    NoticeEvent,
    NoticeStatus,
    TellSubmitter,
    decide_together,
    decision_commands,
    item_transition,
    notice_transition,
    settle_notice,
)
from staydown.notices.models import Notice, NoticeItem
from staydown.notices.records import NoticeError
from staydown.notices.regimes.services import widest
from staydown.types import ServiceType

DEADLINE_TIMER = "notice_deadline"
INCOMPLETE_TIMER = "notice_incomplete_expiry"
AUDIT_BATCH = 1000  # items named per audit entry of one decision


def ref_of(item: NoticeItem) -> ItemRef:
    """The workflow's view of a stored item."""
    return ItemRef(
        item_id=item.id,
        notice_id=item.notice_id,
        zone_id=item.zone_id,
        customer_id=item.customer_id,
        target=item.target,
        url=item.canonical_url,
        duplicate_of=item.duplicate_of_id,
    )


def apply_event(
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
    settle(session, notice, now=now)
    announce_moves(session, notice, moved, at=now)
    if newly_actioned:
        commands += decision_commands(notice.id, newly_actioned)
    elif event is ItemEvent.reject and notice.decided_at == now:
        commands.append(TellSubmitter(notice.id))
    run_commands(session, notice, commands, now=now, actor=actor, settings=settings)


def announce_moves(
    session: Session, notice: Notice, moved: dict[ItemStatus, list[int]], *, at: datetime
) -> None:
    """Tell the submitter's webhook what the items' new states mean (one event each)."""
    by_event: dict[str, list[int]] = {}
    for status, item_ids in moved.items():
        event = webhooks.EVENT_OF_STATUS.get(status)
        if event is not None:
            by_event.setdefault(event, []).extend(item_ids)
    for event, item_ids in by_event.items():
        webhooks.announce(session, notice, event, item_ids, at=at)


def settle(
    session: Session, notice: Notice, *, now: datetime, taken_in: Collection[ItemStatus] | None = None
) -> None:
    """Bring the notice's status in line with its items' states (and stop its timers once decided).

    ``taken_in`` is given by intake for the notice it is taking in: its items' states as just
    written (nothing to read back), and a notice that new has no timers to stop."""
    statuses: Sequence[ItemStatus] = (
        sorted(set(taken_in))
        if taken_in is not None
        else session.scalars(
            select(NoticeItem.status).where(NoticeItem.notice_id == notice.id).group_by(NoticeItem.status)
        ).all()
    )
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
            if taken_in is None:
                enforcement.cancel_timers(
                    session, kind=INCOMPLETE_TIMER, subject=("notice", notice.id), now=now
                )
        return
    if notice.status is NoticeStatus.received:
        return
    settled = settle_notice(notice.status, statuses)
    if settled is not notice.status or (settled is not NoticeStatus.accepted and notice.decided_at is None):
        notice.status = settled
        if notice.decided_at is None and settled is not NoticeStatus.accepted:
            notice.decided_at = now
            if taken_in is None:
                enforcement.cancel_timers(
                    session, kind=DEADLINE_TIMER, subject=("notice", notice.id), now=now
                )


def run_commands(
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


def together(
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
            chosen, {item_id: (ref_of(item), item.status) for item_id, item in related.items()}
        )
    except ConflictingDecisions as exc:
        raise NoticeError(
            "conflicting_decisions",
            f"items {exc.item_ids[:20]} name one resource and take one decision, not different ones",
            status=422,
            details={"item_ids": exc.item_ids[:100]},
        ) from None
    return [(related[item_id], event) for item_id, event in sorted(events.items())]


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


def notice_service_type(session: Session, notice_id: int) -> ServiceType:
    """The service type with the most duties among the zones the notice's items are on."""
    zone_ids = session.scalars(
        select(NoticeItem.zone_id)
        .where(NoticeItem.notice_id == notice_id, NoticeItem.zone_id.is_not(None))
        .distinct()
    ).all()
    return widest(accounts.service_types(session, [z for z in zone_ids if z is not None]).values())


def items_of(session: Session, notice_id: int, *, customer_id: int | None = None) -> Sequence[NoticeItem]:
    stmt = select(NoticeItem).where(NoticeItem.notice_id == notice_id).order_by(NoticeItem.position)
    if customer_id is not None:
        stmt = stmt.where(NoticeItem.customer_id == customer_id)
    return session.scalars(stmt).all()
