"""The notice and item transition tables, and the legal-element assessments (pure)."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staydown.notices.elements import NoticeFacts, Outcome, assess
from staydown.notices.flows import (
    ITEM_TRANSITIONS,
    NOTICE_TRANSITIONS,
    Block,
    ConflictingDecisions,
    ForwardToCustomer,
    ForwardToHost,
    IllegalTransition,
    ItemEvent,
    ItemRef,
    ItemStatus,
    NoticeEvent,
    NoticeStatus,
    RecordStrike,
    TellSubmitter,
    Unblock,
    acceptance_event,
    decide_together,
    decision_commands,
    item_transition,
    link_copies,
    notice_transition,
    settle_notice,
)
from staydown.notices.service import id_runs
from staydown.types import Regime


def ref(
    item_id: int = 1, *, zone: int | None = 7, customer: int | None = 3, duplicate: bool = False
) -> ItemRef:
    return ItemRef(
        item_id,
        10,
        zone,
        customer,
        f"/p{item_id}.jpg",
        f"http://z.test/p{item_id}.jpg",
        duplicate_of=99 if duplicate else None,
    )


@given(st.sampled_from(ItemStatus), st.sampled_from(ItemEvent))
def test_item_table_is_total_and_strict(state: ItemStatus, event: ItemEvent) -> None:
    if (state, event) in ITEM_TRANSITIONS:
        new, commands = item_transition(state, event, ref())
        assert new is ITEM_TRANSITIONS[(state, event)]
        assert all(isinstance(c, Block | Unblock) for c in commands)
    else:
        with pytest.raises(IllegalTransition):
            item_transition(state, event, ref())


@given(st.sampled_from(NoticeStatus), st.sampled_from(NoticeEvent))
def test_notice_table_is_strict(state: NoticeStatus, event: NoticeEvent) -> None:
    if (state, event) in NOTICE_TRANSITIONS:
        assert notice_transition(state, event) is NOTICE_TRANSITIONS[(state, event)]
    else:
        with pytest.raises(IllegalTransition):
            notice_transition(state, event)


def test_blocks_and_unblocks() -> None:
    assert item_transition(ItemStatus.pending_review, ItemEvent.action, ref()) == (
        ItemStatus.actioned,
        [Block(ref())],
    )
    assert item_transition(ItemStatus.pending_review, ItemEvent.action, ref(duplicate=True))[1] == []
    assert item_transition(ItemStatus.counter_noticed, ItemEvent.uphold, ref()) == (ItemStatus.actioned, [])
    assert item_transition(
        ItemStatus.counter_noticed, ItemEvent.restore, ref(), reason="10 business days"
    ) == (
        ItemStatus.restored,
        [Unblock(ref(), "10 business days")],
    )
    assert item_transition(ItemStatus.pending_review, ItemEvent.reject, ref()) == (ItemStatus.rejected, [])


def test_no_terminal_state_can_be_left() -> None:
    assert not [pair for pair in ITEM_TRANSITIONS if pair[0] is ItemStatus.not_on_network]
    assert not [pair for pair in NOTICE_TRANSITIONS if pair[0] is NoticeStatus.closed]


def test_decision_commands_forward_per_zone_and_strike_once_per_customer() -> None:
    items = [ref(1, zone=7), ref(2, zone=7), ref(3, zone=8), ref(4, zone=9, customer=5, duplicate=True)]
    commands = decision_commands(10, items)
    assert commands == [
        ForwardToCustomer(10, 7, (1, 2)),
        ForwardToHost(10, 7, (1, 2)),
        RecordStrike(10, 3, 7),
        ForwardToCustomer(10, 8, (3,)),
        ForwardToHost(10, 8, (3,)),
        ForwardToCustomer(10, 9, (4,)),
        ForwardToHost(10, 9, (4,)),
        TellSubmitter(10),
    ]


@pytest.mark.parametrize(
    ("statuses", "settled"),
    [
        ([ItemStatus.pending_review, ItemStatus.actioned], NoticeStatus.accepted),
        ([ItemStatus.actioned, ItemStatus.rejected], NoticeStatus.actioned),
        ([ItemStatus.rejected, ItemStatus.not_on_network], NoticeStatus.rejected),
        ([ItemStatus.not_on_network], NoticeStatus.closed),
    ],
)
def test_settle(statuses: list[ItemStatus], settled: NoticeStatus) -> None:
    assert settle_notice(NoticeStatus.accepted, statuses) is settled


FACTS = st.builds(NoticeFacts, *(st.booleans() for _ in range(11)))


@given(st.sampled_from(Regime), FACTS)
def test_assessment_names_exactly_what_is_missing(regime: Regime, facts: NoticeFacts) -> None:
    result = assess(regime, facts)
    complete = NoticeFacts(*([True] * 11))
    assert assess(regime, complete).outcome is Outcome.complete
    assert (result.outcome is Outcome.complete) == (not result.missing)
    if not facts.urls:
        assert result.outcome is Outcome.insufficient
    if result.outcome is Outcome.incomplete and regime is not Regime.jp:
        assert facts.urls and (facts.email or facts.address or facts.phone)
    # Only what the statute requires blocks: elements the forms add are advisory.
    assert all(element.statutory for element in result.missing)
    assert not any(element.statutory for element in result.advisory)


def test_dmca_incomplete_only_with_ii_iii_iv() -> None:
    facts = NoticeFacts(
        signature=False, works_identified=True, urls=True, name=True, email=True, address=False, phone=False,
        explanation=False, good_faith=False, accurate=False, authorized=False,
    )  # fmt: skip
    result = assess(Regime.dmca, facts)
    assert result.outcome is Outcome.incomplete
    assert result.missing_names == [
        "512(c)(3)(A)(i) signature",
        "512(c)(3)(A)(v) good-faith statement",
        "512(c)(3)(A)(vi) accuracy and authority statement",
    ]
    no_work = assess(Regime.dmca, dataclasses.replace(facts, works_identified=False))
    assert no_work.outcome is Outcome.insufficient
    unreachable = assess(Regime.dmca, dataclasses.replace(facts, email=False))
    assert unreachable.outcome is Outcome.insufficient
    assert "512(c)(3)(A)(iv) contact information" in unreachable.missing_names


@pytest.mark.parametrize("channel", ["email", "address", "phone"])
def test_dmca_contact_information_is_any_reasonably_sufficient_channel(channel: str) -> None:
    """512(c)(3)(A)(iv) gives address, telephone and e-mail as examples ("such as"), not a list."""
    facts = NoticeFacts(*([True] * 11))
    only = dataclasses.replace(facts, **{"email": False, "address": False, "phone": False, channel: True})
    assert assess(Regime.dmca, only).outcome is Outcome.complete


def test_jp_requires_the_information_the_right_and_the_reason_only() -> None:
    """The Act asks for the information, the right and the reason; the forms' declaration and
    signature are recorded as advisory and never block."""
    facts = NoticeFacts(*([True] * 11))
    unsigned = assess(Regime.jp, dataclasses.replace(facts, signature=False, accurate=False, name=False))
    assert unsigned.outcome is Outcome.complete
    assert unsigned.advisory_names == [
        "IDPA removal request: requester name and contact",
        "IDPA removal request: declaration of truth (guideline form)",
        "IDPA removal request: signature of the requester (guideline form)",
    ]
    no_reason = assess(Regime.jp, dataclasses.replace(facts, explanation=False))
    assert no_reason.missing_names == ["IDPA removal request: reason the right is infringed"]


@given(st.lists(st.integers(1, 300), max_size=80))
def test_id_runs_cover_exactly_the_distinct_ids_in_ascending_runs(ids: list[int]) -> None:
    runs = id_runs(ids)
    covered = [id_ for first, last in runs for id_ in range(first, last + 1)]
    assert covered == sorted(set(ids))
    # Runs are maximal: the next run never starts right after the previous one ends.
    assert all(later[0] > earlier[1] + 1 for earlier, later in itertools.pairwise(runs))


def test_link_copies_prefers_a_live_block_then_the_first_copy_in_the_notice() -> None:
    pending = ItemStatus.pending_review
    items = [
        (dataclasses.replace(ref(1), target="/a"), pending),
        (dataclasses.replace(ref(2), target="/a"), pending),
        (dataclasses.replace(ref(3), target="/b"), pending),
        (dataclasses.replace(ref(4), target="/b"), pending),
        (dataclasses.replace(ref(5, zone=None), target="/b"), ItemStatus.not_on_network),
    ]
    assert link_copies(items, {}) == [None, 1, None, 3, None]
    assert link_copies(items, {(7, "/b"): 40}) == [None, 1, 40, 40, None]


@pytest.mark.parametrize("trusted", [False, True])
@pytest.mark.parametrize("original", [None, *ItemStatus])
def test_an_item_is_actioned_on_acceptance_only_when_trusted_or_its_original_blocks(
    trusted: bool, original: ItemStatus | None
) -> None:
    event = acceptance_event(ItemStatus.pending_review, trusted=trusted, original=original)
    blocks = original in (ItemStatus.actioned, ItemStatus.counter_noticed)
    assert event is (ItemEvent.action if trusted or blocks else None)
    assert acceptance_event(ItemStatus.not_on_network, trusted=trusted, original=original) is None


@given(
    st.lists(st.integers(1, 6), min_size=1, unique=True),
    st.sampled_from([ItemEvent.action, ItemEvent.reject]),
)
def test_copies_in_one_state_are_decided_with_their_original(chosen: list[int], event: ItemEvent) -> None:
    pending = ItemStatus.pending_review
    # 2 and 3 copy 1; 5 copies 4, which was decided already; 6 copies another notice's item.
    items = {
        1: (ref(1), pending),
        2: (dataclasses.replace(ref(2), duplicate_of=1), pending),
        3: (dataclasses.replace(ref(3), duplicate_of=1), pending),
        4: (ref(4), ItemStatus.rejected),
        5: (dataclasses.replace(ref(5), duplicate_of=4), pending),
        6: (dataclasses.replace(ref(6), duplicate_of=99), pending),
    }
    decided = decide_together(dict.fromkeys(chosen, event), items)
    expected = set(chosen) | ({1, 2, 3} if {1, 2, 3} & set(chosen) else set())
    assert decided == dict.fromkeys(expected, event)


def test_one_resource_cannot_be_given_two_decisions() -> None:
    pending = ItemStatus.pending_review
    items = {1: (ref(1), pending), 2: (dataclasses.replace(ref(2), duplicate_of=1), pending)}
    with pytest.raises(ConflictingDecisions) as raised:
        decide_together({1: ItemEvent.action, 2: ItemEvent.reject}, items)
    assert raised.value.item_ids == [1, 2]
