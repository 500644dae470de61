"""The Japanese sender inquiry (Information Distribution Platform Act Art. 3(2)(ii)).

Before removing information on a removal request, a provider that asks the sender (here the
customer who published it) whether it agrees, and hears no objection within 7 days (2 days for
election-related content), is not liable to the sender for the removal. An agent chooses this path
with the decision ``inquire``; the items wait in ``inquiry`` until the timer actions them or the
sender objects with reasons, which returns them to the agent. Clear cases keep the direct path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.config import Settings
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel
from staydown.notices import messages
from staydown.notices.flows import ItemEvent, ItemRef, ItemStatus, item_transition
from staydown.notices.models import Notice, NoticeItem
from staydown.notices.regimes import rules_of

INQUIRY_TIMER = "notice_inquiry"


def inquiry_days(settings: Settings, *, election: bool) -> int:
    """How long the sender has to object."""
    return settings.jp_inquiry_election_days if election else settings.jp_inquiry_days


def open_inquiry(
    session: Session,
    notice: Notice,
    items: Sequence[tuple[ItemRef, ItemStatus]],
    *,
    reason: str,
    actor: str,
    now: datetime,
    settings: Settings,
    election: bool,
) -> datetime:
    """Put ``items`` in inquiry, ask each zone's customer in Japanese, set the timer; return when it ends."""
    rules = rules_of(notice.regime)
    assert rules.inquiry is not None
    due = now + timedelta(days=inquiry_days(settings, election=election))
    ids: list[int] = []
    for ref, state in items:
        new, _commands = item_transition(state, ItemEvent.inquire, ref, reason=reason)
        assert new is ItemStatus.inquiry
        ids.append(ref.item_id)
    for start in range(0, len(ids), 500):
        session.execute(
            update(NoticeItem)
            .where(NoticeItem.id.in_(ids[start : start + 500]))
            .values(
                status=ItemStatus.inquiry,
                inquiry_due_at=due,
                election=election,
                decided_by=actor,
                decision_reason=reason,
            )
        )
    audit.record(
        session,
        at=now,
        actor=actor,
        action="items.inquiry",
        entity=("notice", notice.id),
        data={
            "item_ids": ids[:1000],
            "due_at": due.isoformat(),
            "election": election,
            "reason": reason,
            "legal_basis": rules.inquiry.legal_basis,
        },
    )
    enforcement.schedule_timer(
        session,
        kind=INQUIRY_TIMER,
        due_at=due,
        subject=("notice", notice.id),
        now=now,
        payload={"item_ids": ids[:1000]},
    )
    by_zone: dict[int, list[str]] = defaultdict(list)
    for ref, _state in items:
        if ref.zone_id is not None:
            by_zone[ref.zone_id].append(ref.url)
    for zone_id, urls in sorted(by_zone.items()):
        zone = accounts.get_zone(session, zone_id)
        if zone is None:
            continue
        letter = messages.inquiry(
            notice, urls, due_at=due, hostname=zone.hostname, provider=settings.provider_name
        )
        enforcement.enqueue_message(
            session,
            at=now,
            kind="notice_inquiry",
            channel=Channel.email,
            recipient=zone.customer.email,
            subject=letter.subject,
            body=letter.body,
            payload=letter.payload,
            notice_id=notice.id,
            customer_id=zone.customer_id,
        )
    return due


def due_items(session: Session, notice_id: int, *, now: datetime) -> list[NoticeItem]:
    """The notice's items whose inquiry period ended by ``now`` without an objection."""
    return list(
        session.scalars(
            select(NoticeItem)
            .where(
                NoticeItem.notice_id == notice_id,
                NoticeItem.status == ItemStatus.inquiry,
                NoticeItem.inquiry_due_at <= now,
            )
            .order_by(NoticeItem.position)
        )
    )


def in_inquiry(
    session: Session, notice_id: int, item_ids: Sequence[int], customer_id: int | None
) -> list[NoticeItem]:
    """The named items of the notice (on the customer's zones, when given)."""
    stmt = select(NoticeItem).where(
        NoticeItem.notice_id == notice_id, NoticeItem.id.in_(list(item_ids)[:1000])
    )
    if customer_id is not None:
        stmt = stmt.where(NoticeItem.customer_id == customer_id)
    return list(session.scalars(stmt))
