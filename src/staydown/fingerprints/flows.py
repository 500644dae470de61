"""The stay-down match workflow as a pure transition table.

An edge reports a copy of banked content; within the automatic-block distance it is blocked at once
(``blocked``), in the review band it waits for an agent (``pending_review``). An agent confirms or
dismisses. A dismissal of a blocked copy lifts the block and exempts that URL from further automatic
blocks, so a false positive is not blocked again on its next fill. An edge lifts a resource on any
``unblock``, so a dismissal unblocks only when nothing else (a notice item, another match) holds the
resource (``hold_if_held``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from staydown.enforcement.service import Holder
from staydown.fingerprints.models import MatchOutcome, MatchStatus

MS = MatchStatus


class MatchEvent(enum.StrEnum):
    confirm = "confirm"
    dismiss = "dismiss"


class StrikeRule(enum.StrEnum):
    """When a stay-down match on a customer's zone counts toward the repeat-infringer policy."""

    never = "never"
    on_confirm = "on_confirm"
    automatic = "automatic"


@dataclass(frozen=True, slots=True)
class Block:
    automated: bool  # blocked on the distance alone, or on an agent's confirmation


@dataclass(frozen=True, slots=True)
class Unblock:
    exempt: bool


@dataclass(frozen=True, slots=True)
class KeepBlocked:
    """The match no longer blocks its copy, but ``holder`` still does: no ``unblock`` is sent."""

    holder: Holder


@dataclass(frozen=True, slots=True)
class RecordStrike:
    pass


@dataclass(frozen=True, slots=True)
class VoidStrike:
    pass


@dataclass(frozen=True, slots=True)
class TellCustomer:
    what: str  # "blocked" | "confirmed" | "restored"


Command = Block | Unblock | KeepBlocked | RecordStrike | VoidStrike | TellCustomer


class IllegalTransition(Exception):
    def __init__(self, state: MatchStatus, event: MatchEvent) -> None:
        super().__init__(f"a match that is {state.value} cannot be {event.value}ed")
        self.state, self.event = state, event


TRANSITIONS: dict[tuple[MatchStatus, MatchEvent], MatchStatus] = {
    (MS.blocked, MatchEvent.confirm): MS.confirmed,
    (MS.blocked, MatchEvent.dismiss): MS.dismissed,
    (MS.pending_review, MatchEvent.confirm): MS.confirmed,
    (MS.pending_review, MatchEvent.dismiss): MS.dismissed,
    (MS.confirmed, MatchEvent.dismiss): MS.dismissed,  # a complaint or second look reverses it
}


def match_found(
    outcome: MatchOutcome, *, strikes: StrikeRule, customer_known: bool
) -> tuple[MatchStatus, list[Command]]:
    """The state of a newly reported match and what it sets off."""
    if outcome is MatchOutcome.review:
        return MS.pending_review, []
    commands: list[Command] = [Block(automated=True), TellCustomer("blocked")]
    if strikes is StrikeRule.automatic and customer_known:
        commands.append(RecordStrike())
    return MS.blocked, commands


def match_decided(
    state: MatchStatus, event: MatchEvent, *, strikes: StrikeRule, customer_known: bool
) -> tuple[MatchStatus, list[Command]]:
    """Apply an agent's decision; raise ``IllegalTransition`` when the match is past it."""
    new = TRANSITIONS.get((state, event))
    if new is None:
        raise IllegalTransition(state, event)
    commands: list[Command] = []
    if new is MS.confirmed:
        if state is MS.pending_review:
            commands += [Block(automated=False), TellCustomer("blocked")]
        if strikes is not StrikeRule.never and customer_known:
            commands.append(RecordStrike())
    elif new is MS.dismissed and state in (MS.blocked, MS.confirmed):
        commands += [Unblock(exempt=True), VoidStrike(), TellCustomer("restored")]
    return new, commands


def hold_if_held(commands: list[Command], holders: list[Holder]) -> list[Command]:
    """Keep the copy blocked while another holder remains: the unblock, and the letter saying the
    copy is served again, give way to ``KeepBlocked`` naming the holder (a notice item first)."""
    if not holders or not any(isinstance(c, Unblock) for c in commands):
        return commands
    holder = next((h for h in holders if h.kind == "item"), holders[0])
    kept: list[Command] = []
    for command in commands:
        if isinstance(command, Unblock):
            kept.append(KeepBlocked(holder))
        elif not (isinstance(command, TellCustomer) and command.what == "restored"):
            kept.append(command)
    return kept
