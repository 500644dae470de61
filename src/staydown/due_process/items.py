"""What due process needs of notices and letters: the items a party names, strikes, sending.

Shared by counter-notices, complaints and misuse measures; every function runs in the caller's
unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from staydown.config import RepeatInfringerPolicy
from staydown.due_process.flows import DueProcessError
from staydown.due_process.messages import Letter
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel
from staydown.notices import service as notices
from staydown.notices.flows import ItemStatus
from staydown.policy import service as policy

if TYPE_CHECKING:
    from staydown.notices.models import Notice

BLOCKING = (ItemStatus.actioned, ItemStatus.counter_noticed)


def get_notice(session: Session, notice_id: int) -> Notice:
    """The notice, or a 404 naming it."""
    notice = notices.get(session, notice_id)
    if notice is None:
        raise DueProcessError("not_found", f"notice {notice_id} does not exist", status=404)
    return notice


def named_items(
    session: Session, notice: Notice, item_ids: Sequence[int], customer_id: int | None
) -> list[Any]:
    """The named items of ``notice``; 404 for any that is not there (or not the customer's)."""
    rows = {row.id: row for row in notices.item_decisions(session, item_ids)}
    hidden = [
        item_id
        for item_id in sorted(set(item_ids))
        if item_id not in rows
        or rows[item_id].notice_id != notice.id
        or (customer_id is not None and rows[item_id].customer_id != customer_id)
    ]
    if hidden:
        raise DueProcessError(
            "not_found", f"item(s) {hidden[:20]} do not exist in notice {notice.id}", status=404
        )
    return [rows[item_id] for item_id in sorted(set(item_ids))]


def send_letter(
    session: Session,
    letter: Letter,
    *,
    to: str | None,
    notice_id: int | None,
    customer_id: int | None,
    at: datetime,
) -> None:
    """Queue a letter by e-mail (kept, undeliverable, when there is no address)."""
    enforcement.enqueue_message(
        session,
        at=at,
        kind=letter.kind,
        channel=Channel.email,
        recipient=to or "(no e-mail given)",
        subject=letter.subject,
        body=letter.body,
        payload=letter.payload,
        notice_id=notice_id,
        customer_id=customer_id,
        deliverable=bool(to),
    )


def void_strike_if_clear(
    session: Session,
    notice_id: int,
    customer_id: int,
    *,
    now: datetime,
    actor: str,
    reason: str,
    policy_rule: RepeatInfringerPolicy | None = None,
) -> bool:
    """Void the notice's strike against the customer once none of its items blocks the customer;
    while some still do, weigh the strike again on those (with ``policy_rule``)."""
    items = notices.items_of(session, notice_id, customer_id=customer_id)
    blocking = sum(1 for item in items if item.status in BLOCKING and item.duplicate_of_id is None)
    if blocking:
        if policy_rule is not None:
            policy.reweigh_strike(
                session,
                customer_id=customer_id,
                notice_id=notice_id,
                urls=blocking,
                now=now,
                actor=actor,
                policy=policy_rule,
            )
        return False
    return (
        policy.void_strike(
            session, customer_id=customer_id, notice_id=notice_id, now=now, actor=actor, reason=reason
        )
        is not None
    )
