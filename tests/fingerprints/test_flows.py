"""The stay-down match workflow as a table: what a reported match and an agent's decision set off."""

from __future__ import annotations

import itertools

import pytest

from staydown.fingerprints.flows import (
    TRANSITIONS,
    Block,
    IllegalTransition,
    MatchEvent,
    RecordStrike,
    StrikeRule,
    TellCustomer,
    Unblock,
    VoidStrike,
    match_decided,
    match_found,
)
from staydown.fingerprints.models import MatchOutcome, MatchStatus


@pytest.mark.parametrize("strikes", list(StrikeRule))
def test_a_copy_within_the_automatic_distance_is_blocked_without_a_person(strikes: StrikeRule) -> None:
    status, commands = match_found(MatchOutcome.block, strikes=strikes, customer_known=True)
    assert status is MatchStatus.blocked
    assert commands[:2] == [Block(automated=True), TellCustomer("blocked")]
    # By default (on_confirm) an automatic match is no strike until an agent confirms it.
    assert (RecordStrike() in commands) is (strikes is StrikeRule.automatic)


def test_a_strike_needs_a_customer() -> None:
    _, commands = match_found(MatchOutcome.block, strikes=StrikeRule.automatic, customer_known=False)
    assert RecordStrike() not in commands


@pytest.mark.parametrize("strikes", list(StrikeRule))
def test_a_copy_in_the_review_band_waits_for_an_agent(strikes: StrikeRule) -> None:
    assert match_found(MatchOutcome.review, strikes=strikes, customer_known=True) == (
        MatchStatus.pending_review,
        [],
    )


def test_confirming_a_review_match_blocks_it_as_an_agents_decision() -> None:
    status, commands = match_decided(
        MatchStatus.pending_review, MatchEvent.confirm, strikes=StrikeRule.on_confirm, customer_known=True
    )
    assert status is MatchStatus.confirmed
    assert commands == [Block(automated=False), TellCustomer("blocked"), RecordStrike()]


def test_confirming_a_blocked_match_only_counts_the_strike() -> None:
    status, commands = match_decided(
        MatchStatus.blocked, MatchEvent.confirm, strikes=StrikeRule.on_confirm, customer_known=True
    )
    assert (status, commands) == (MatchStatus.confirmed, [RecordStrike()])
    _, never = match_decided(
        MatchStatus.blocked, MatchEvent.confirm, strikes=StrikeRule.never, customer_known=True
    )
    assert never == []


@pytest.mark.parametrize("state", [MatchStatus.blocked, MatchStatus.confirmed])
def test_dismissing_a_block_lifts_it_for_good_and_voids_its_strike(state: MatchStatus) -> None:
    status, commands = match_decided(
        state, MatchEvent.dismiss, strikes=StrikeRule.on_confirm, customer_known=True
    )
    assert status is MatchStatus.dismissed
    assert commands == [Unblock(exempt=True), VoidStrike(), TellCustomer("restored")]


def test_dismissing_a_review_match_changes_nothing_served() -> None:
    assert match_decided(
        MatchStatus.pending_review, MatchEvent.dismiss, strikes=StrikeRule.automatic, customer_known=True
    ) == (MatchStatus.dismissed, [])


def test_every_other_pair_is_refused() -> None:
    for state, event in itertools.product(MatchStatus, MatchEvent):
        if (state, event) in TRANSITIONS:
            continue
        with pytest.raises(IllegalTransition, match=f"{state.value} cannot be {event.value}ed"):
            match_decided(state, event, strikes=StrikeRule.on_confirm, customer_known=True)
    assert (MatchStatus.dismissed, MatchEvent.confirm) not in TRANSITIONS  # a dismissal is final
