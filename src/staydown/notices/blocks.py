"""Which items block a resource now, and the steps due process takes on items: what a new item is
a copy of, counter-notice, restore, uphold, and who decided each item.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Result, Row
from sqlalchemy.orm import Session

from staydown.audit import service as audit
from staydown.config import Settings
from staydown.db.base import table_of
from staydown.enforcement import service as enforcement
from staydown.notices.flows import (
    BLOCKING,
    ITEM_TRANSITIONS,
    ItemEvent,
    ItemRef,
    ItemStatus,
    item_transition,
    link_copies,
)
from staydown.notices.models import Notice, NoticeItem
from staydown.notices.records import NoticeError
from staydown.notices.steps import AUDIT_BATCH, announce_moves, apply_event, ref_of, settle, together


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


def link_to_blockers(
    session: Session,
    refs: list[tuple[ItemRef, ItemStatus]],
    known: dict[tuple[int, str], tuple[int, ItemStatus]] | None = None,
) -> tuple[list[tuple[ItemRef, ItemStatus]], dict[int, ItemStatus]]:
    """Link each item waiting for review to the item that carries its resource's block (as it is
    now); return the items and the state of every item they may be linked to.

    ``known``: :func:`blocking_items` of these items' resources (among others), asked already."""
    keys = [
        (ref.zone_id, ref.target)
        for ref, status in refs
        if status is ItemStatus.pending_review and ref.zone_id is not None
    ]
    if known is None:
        blockers = blocking_items(session, keys)
    else:
        blockers = {key: known[key] for key in keys if key in known}
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
    moving = together(session, notice, items, dict.fromkeys(wanted, event))
    refs = [(ref_of(item), item.status) for item, _event in moving]
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
        settle(session, notice, now=now)
        announce_moves(session, notice, moved, at=now)
    elif refs:
        apply_event(
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
