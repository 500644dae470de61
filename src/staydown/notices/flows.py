"""The notice and item workflow as explicit transition tables.

``(state, event) → state`` pairs live in one table per entity; ``item_transition`` returns the
new state and the commands the step implies (block, unblock). Commands that concern a whole
notice (forwarding, acknowledging, strikes) come from ``decision_commands``. Nothing here does
I/O: the service runs the commands. An event a state does not allow raises ``IllegalTransition``.

Copies of one resource are linked to the item that carries its block (``link_copies``): an item
of an earlier notice that blocks it now, or else the first copy in the same notice. A copy is
actioned without review only while its original blocks the resource (``acceptance_event``); a
copy of an item in the same notice is decided together with it (``decide_together``).

Several holders may block one resource (items of different notices, stay-down matches), while an
edge lifts a resource on any ``unblock``. Lifting one item's block therefore unblocks the resource
only when nothing else holds it (``lift_block``); otherwise the resource stays blocked and copies
that shared the lifted block pass to the holder that keeps it.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from staydown.enforcement.service import Holder
from staydown.notices.elements import Outcome


class NoticeStatus(enum.StrEnum):
    received = "received"
    incomplete = "incomplete"
    accepted = "accepted"
    actioned = "actioned"
    rejected = "rejected"
    closed = "closed"


class ItemStatus(enum.StrEnum):
    pending_review = "pending_review"
    actioned = "actioned"
    not_on_network = "not_on_network"
    rejected = "rejected"
    counter_noticed = "counter_noticed"
    restored = "restored"
    inquiry = "inquiry"  # the sender was asked whether it agrees to removal (Japan) and may object


class NoticeEvent(enum.StrEnum):
    assessed_complete = "assessed_complete"
    assessed_incomplete = "assessed_incomplete"
    assessed_insufficient = "assessed_insufficient"
    nothing_on_network = "nothing_on_network"
    completed = "completed"  # an incomplete notice was supplemented and is now complete
    decided_actioned = "decided_actioned"  # every item decided, at least one actioned
    decided_rejected = "decided_rejected"  # every item decided, none actioned
    withdrawn = "withdrawn"
    expired = "expired"  # an incomplete notice was not completed in time


class ItemEvent(enum.StrEnum):
    action = "action"
    reject = "reject"
    counter_notice = "counter_notice"
    restore = "restore"
    uphold = "uphold"  # the complainant reported a court action: the block stays
    inquire = "inquire"  # ask the sender before removal (Japan)
    objected = "objected"  # the sender objected with reasons: back to the agent


class ConflictingDecisions(Exception):
    """Items decided together were given different events."""

    def __init__(self, item_ids: Sequence[int]) -> None:
        super().__init__(f"items {list(item_ids)} name one resource and must be decided together")
        self.item_ids = list(item_ids)


class IllegalTransition(Exception):
    """An event was applied to a state that does not allow it."""

    def __init__(self, entity: str, state: enum.Enum, event: enum.Enum) -> None:
        super().__init__(f"{entity} in state {state.value!r} does not allow {event.value!r}")
        self.entity, self.state, self.event = entity, state, event


N, E = NoticeStatus, NoticeEvent
NOTICE_TRANSITIONS: dict[tuple[NoticeStatus, NoticeEvent], NoticeStatus] = {
    (N.received, E.assessed_complete): N.accepted,
    (N.received, E.assessed_incomplete): N.incomplete,
    (N.received, E.assessed_insufficient): N.rejected,
    (N.received, E.nothing_on_network): N.closed,
    (N.incomplete, E.completed): N.accepted,
    (N.incomplete, E.nothing_on_network): N.closed,
    (N.incomplete, E.withdrawn): N.closed,
    (N.incomplete, E.expired): N.closed,
    # An agent may act on what an incomplete notice shows (actual knowledge) without waiting for it.
    (N.incomplete, E.decided_actioned): N.actioned,
    (N.incomplete, E.decided_rejected): N.rejected,
    (N.accepted, E.decided_actioned): N.actioned,
    (N.accepted, E.decided_rejected): N.rejected,
    (N.accepted, E.withdrawn): N.closed,
    (N.accepted, E.nothing_on_network): N.closed,
    # A notice refused for lacking what the law requires stays refused when none of its URLs are
    # on the network either: there is nothing more to close.
    (N.rejected, E.nothing_on_network): N.rejected,
    # A reversal (complaint, court order) can turn a rejected notice into an actioned one.
    (N.rejected, E.decided_actioned): N.actioned,
    (N.actioned, E.decided_rejected): N.rejected,
}

IS, IE = ItemStatus, ItemEvent
ITEM_TRANSITIONS: dict[tuple[ItemStatus, ItemEvent], ItemStatus] = {
    (IS.pending_review, IE.action): IS.actioned,
    (IS.pending_review, IE.reject): IS.rejected,
    (IS.rejected, IE.action): IS.actioned,
    (IS.actioned, IE.counter_notice): IS.counter_noticed,
    (IS.actioned, IE.restore): IS.restored,
    (IS.counter_noticed, IE.restore): IS.restored,
    (IS.counter_noticed, IE.uphold): IS.actioned,
    (IS.restored, IE.action): IS.actioned,
    (IS.pending_review, IE.inquire): IS.inquiry,
    (IS.inquiry, IE.action): IS.actioned,
    (IS.inquiry, IE.reject): IS.rejected,
    (IS.inquiry, IE.objected): IS.pending_review,
}

# Items in these states wait for a decision: their notice is not settled.
WAITING = frozenset({IS.pending_review, IS.inquiry})

# An item in one of these states carries a block of its resource.
BLOCKING = frozenset({IS.actioned, IS.counter_noticed})

OUTCOME_EVENTS = {
    Outcome.complete: E.assessed_complete,
    Outcome.incomplete: E.assessed_incomplete,
    Outcome.insufficient: E.assessed_insufficient,
}


@dataclass(frozen=True, slots=True)
class ItemRef:
    """What the workflow needs to know of an item to decide its commands."""

    item_id: int
    notice_id: int
    zone_id: int | None
    customer_id: int | None
    target: str
    url: str
    duplicate_of: int | None = None  # the item that carries the block of the same resource

    @property
    def duplicate(self) -> bool:
        return self.duplicate_of is not None


@dataclass(frozen=True, slots=True)
class Block:
    item: ItemRef


@dataclass(frozen=True, slots=True)
class Unblock:
    item: ItemRef
    reason: str


@dataclass(frozen=True, slots=True)
class KeepBlocked:
    """``item`` no longer blocks its resource, but ``holder`` still does: no ``unblock`` is sent."""

    item: ItemRef
    holder: Holder
    reason: str


@dataclass(frozen=True, slots=True)
class PassBlock:
    """Copies of the lifted item ``lifted`` now share the block of ``carrier``.

    ``copies`` are relinked to ``carrier``; with ``new_carrier`` the carrier was itself a copy and
    carries the block from now on, with a block record of its own.
    """

    lifted: ItemRef
    carrier: Holder
    copies: tuple[int, ...]
    new_carrier: bool


@dataclass(frozen=True, slots=True)
class ForwardToCustomer:
    """Send the notice, with the complainant's contact, to the customer of ``zone_id``."""

    notice_id: int
    zone_id: int
    item_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ForwardToHost:
    """Send the notice to the hosting provider behind the zone's origin."""

    notice_id: int
    zone_id: int
    item_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RecordStrike:
    notice_id: int
    customer_id: int
    zone_id: int


@dataclass(frozen=True, slots=True)
class TellSubmitter:
    """Tell the notifier what was decided and how to seek redress (DSA Art. 16(5))."""

    notice_id: int


Command = (
    Block
    | Unblock
    | KeepBlocked
    | PassBlock
    | ForwardToCustomer
    | ForwardToHost
    | RecordStrike
    | TellSubmitter
)


def notice_transition(state: NoticeStatus, event: NoticeEvent) -> NoticeStatus:
    """Return the notice's next state or raise ``IllegalTransition``."""
    try:
        return NOTICE_TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition("notice", state, event) from None


def item_transition(
    state: ItemStatus, event: ItemEvent, item: ItemRef, *, reason: str = ""
) -> tuple[ItemStatus, list[Command]]:
    """Return the item's next state and the commands the step implies."""
    try:
        new = ITEM_TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition("item", state, event) from None
    commands: list[Command] = []
    if new is IS.actioned and state is not IS.counter_noticed and not item.duplicate:
        commands.append(Block(item))
    elif new is IS.restored and not item.duplicate:
        commands.append(Unblock(item, reason))
    return new, commands


def lift_block(unblock: Unblock, holders: Sequence[Holder]) -> list[Command]:
    """Return what lifting ``unblock.item``'s block comes to, given what else holds its resource now.

    With no holder left the resource is unblocked. Otherwise it stays blocked under the holder that
    keeps it: an item with a block record of its own first, else a copy of the lifted item (which
    then carries the block itself), else any other item, else a stay-down match. Copies of the lifted
    item follow the item that keeps the block.
    """
    if not holders:
        return [unblock]
    lifted = unblock.item
    items = [h for h in holders if h.kind == "item"]
    copies = [h.id for h in items if h.copy_of == lifted.item_id]
    carrier = next((h for h in items if h.copy_of is None), None)
    commands: list[Command] = []
    if carrier is None and items:
        taker = next((h for h in items if h.copy_of == lifted.item_id), items[0])
        carrier = Holder(taker.kind, taker.id, taker.notice_id)
        rest = tuple(c for c in copies if c != taker.id)
        commands.append(PassBlock(lifted, carrier, rest, new_carrier=True))
    elif carrier is not None and copies:
        commands.append(PassBlock(lifted, carrier, tuple(copies), new_carrier=False))
    commands.insert(0, KeepBlocked(lifted, carrier or holders[0], unblock.reason))
    return commands


def decision_commands(notice_id: int, newly_actioned: Iterable[ItemRef]) -> list[Command]:
    """Commands owed once a notice's items are decided: forward per zone, one strike per customer."""
    by_zone: dict[int, list[ItemRef]] = defaultdict(list)
    for item in newly_actioned:
        if item.zone_id is not None:
            by_zone[item.zone_id].append(item)
    commands: list[Command] = []
    struck: set[int] = set()
    for zone_id, items in sorted(by_zone.items()):
        ids = tuple(item.item_id for item in items)
        commands.append(ForwardToCustomer(notice_id, zone_id, ids))
        commands.append(ForwardToHost(notice_id, zone_id, ids))
        originals = [item for item in items if not item.duplicate and item.customer_id is not None]
        if originals and originals[0].customer_id not in struck:
            customer_id = originals[0].customer_id
            assert customer_id is not None
            struck.add(customer_id)
            commands.append(RecordStrike(notice_id, customer_id, zone_id))
    commands.append(TellSubmitter(notice_id))
    return commands


def settle_notice(state: NoticeStatus, item_states: Iterable[ItemStatus]) -> NoticeStatus:
    """Return the notice state once no item waits for review (or ``state`` while some do)."""
    states = list(item_states)
    if any(s in WAITING for s in states):
        return state
    if any(s in (IS.actioned, IS.counter_noticed, IS.restored) for s in states):
        event = E.decided_actioned
    elif all(s is IS.not_on_network for s in states):
        event = E.nothing_on_network
    else:
        event = E.decided_rejected
    already = {E.decided_actioned: N.actioned, E.decided_rejected: N.rejected, E.nothing_on_network: N.closed}
    if already[event] is state:
        return state
    return notice_transition(state, event)


def link_copies(
    items: Sequence[tuple[ItemRef, ItemStatus]], blocked_by: Mapping[tuple[int, str], int]
) -> list[int | None]:
    """Return, for each of a notice's items, the item it duplicates, or None.

    An item waiting for review duplicates the item of an earlier notice that blocks its resource
    now (``blocked_by``: (zone, target) → item), or else the notice's first copy of the resource.
    Items in other states keep the link they have.
    """
    first: dict[tuple[int, str], int] = {}
    links: list[int | None] = []
    for ref, state in items:
        if state is not IS.pending_review or ref.zone_id is None:
            links.append(ref.duplicate_of)
            continue
        key = (ref.zone_id, ref.target)
        original = blocked_by.get(key)
        if original is None:
            original = first.setdefault(key, ref.item_id)
        links.append(None if original == ref.item_id else original)
    return links


def acceptance_event(state: ItemStatus, *, trusted: bool, original: ItemStatus | None) -> ItemEvent | None:
    """Return the event an item of a notice just found complete takes at once, or None to review it.

    A trusted flagger's items are actioned. Otherwise an item is actioned only when it duplicates
    an item (``original`` is that item's state) that blocks the resource now; a copy of an item
    still waiting for review waits with it and follows its decision.
    """
    if state is not IS.pending_review:
        return None
    if trusted or original in BLOCKING:
        return IE.action
    return None


def decide_together(
    chosen: Mapping[int, ItemEvent], items: Mapping[int, tuple[ItemRef, ItemStatus]]
) -> dict[int, ItemEvent]:
    """Extend events on some of a notice's items to the copies that share their decision.

    ``items`` holds the chosen items, their originals in the same notice and those originals'
    copies. A copy whose original is among them and in the same state is decided with it: an
    event on either applies to the original and all such copies. Raise ``ConflictingDecisions``
    when one such group is given different events.
    """

    def root(item_id: int) -> int:
        ref, state = items[item_id]
        original = ref.duplicate_of
        if original is not None and original in items and items[original][1] is state:
            return original
        return item_id

    events: dict[int, ItemEvent] = {}
    named: dict[int, list[int]] = defaultdict(list)
    for item_id, event in chosen.items():
        group = root(item_id)
        named[group].append(item_id)
        if events.setdefault(group, event) is not event:
            raise ConflictingDecisions(sorted(named[group]))
    return {item_id: events[group] for item_id in items if (group := root(item_id)) in events}
