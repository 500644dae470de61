"""Typed feed records: every kind parses to its own type, a malformed record is refused."""

from __future__ import annotations

import pytest

from staydown.edge.state import EnforcementState, SnapshotIncomplete, SnapshotLoader, snapshot_lines
from staydown.feedrecords import (
    BlockRecord,
    FeedKind,
    HashAddRecord,
    HashRemoveRecord,
    OtherRecord,
    PurgeRecord,
    RecordInvalid,
    UnblockRecord,
    ZoneRecord,
    parse_record,
)

ZONE = {
    "seq": 1,
    "kind": "zone",
    "at": "2026-12-07T07:00:00+00:00",
    "zone_id": 4,
    "customer_id": 2,
    "hostnames": ["a.example.test", "www.a.example.test"],
    "origin": "https://origin.example",
    "status": "active",
    "reason": None,
}
BLOCK = {
    "seq": 2,
    "kind": "block",
    "at": "2026-12-07T07:00:01+00:00",
    "zone_id": 4,
    "target": "/p/1.jpg",
    "notice_id": 9,
    "item_id": 12,
    "url": "https://a.example.test/p/1.jpg",
    "reason": "notice 9",
}
HASH = {
    "seq": 3,
    "kind": "hash_add",
    "entry_id": 7,
    "scope": "customer",
    "scope_zone_id": None,
    "scope_customer_id": 2,
    "source": "notice",
    "notice_id": 9,
    "work_id": None,
    "sha256": "ab" * 32,
    "pdq": ["cd" * 32],
}


def test_each_kind_parses_to_its_type() -> None:
    zone = parse_record(ZONE)
    assert zone == ZoneRecord(
        seq=1,
        zone_id=4,
        customer_id=2,
        hostnames=("a.example.test", "www.a.example.test"),
        origin="https://origin.example",
        status="active",
    )
    assert parse_record(BLOCK) == BlockRecord(
        seq=2, zone_id=4, target="/p/1.jpg", notice_id=9, item_id=12, url=BLOCK["url"], reason="notice 9"
    )
    unblock = parse_record(BLOCK | {"kind": "unblock", "staydown_exempt": True})
    assert isinstance(unblock, UnblockRecord) and unblock.staydown_exempt
    assert isinstance(parse_record(BLOCK | {"kind": "purge"}), PurgeRecord)
    bank = parse_record(HASH)
    assert isinstance(bank, HashAddRecord) and bank.pdq == ("cd" * 32,)
    assert parse_record({"seq": 4, "kind": "hash_remove", "entry_id": 7, "reason": "x"}) == HashRemoveRecord(
        4, 7
    )
    assert {type(parse_record(r)).kind for r in (ZONE, BLOCK, HASH)} == {  # type: ignore[union-attr]
        FeedKind.zone,
        FeedKind.block,
        FeedKind.hash_add,
    }


@pytest.mark.parametrize(
    "broken",
    [
        BLOCK | {"zone_id": None},
        BLOCK | {"zone_id": "4"},
        BLOCK | {"seq": True},
        {k: v for k, v in BLOCK.items() if k != "target"},
        ZONE | {"hostnames": "a.example.test"},
        HASH | {"pdq": [1, 2]},
        {"seq": 5},
    ],
)
def test_a_malformed_record_is_refused(broken: dict) -> None:
    with pytest.raises(RecordInvalid):
        parse_record(broken)


def test_an_unknown_kind_advances_the_edge_without_effect() -> None:
    state = EnforcementState()
    state.apply(ZONE)
    assert parse_record({"seq": 2, "kind": "quarantine", "x": 1}) == OtherRecord(2, "quarantine")
    assert state.apply({"seq": 2, "kind": "quarantine", "x": 1}) == ("quarantine", None, None)
    assert state.seq == 2 and list(state.zones) == [4]


def test_a_snapshot_rebuilds_the_state_and_refuses_to_be_cut_short() -> None:
    state = EnforcementState()
    for record in (ZONE, BLOCK, HASH, BLOCK | {"seq": 4, "target": "/P%2F2?x=1", "notice_id": 10}):
        state.apply(record)
    state.apply(BLOCK | {"seq": 5, "kind": "unblock", "target": "/gone.jpg", "staydown_exempt": True})
    lines = list(snapshot_lines(state))
    loader = SnapshotLoader()
    for line in lines:
        loader.feed(line)
    loaded = loader.finish()
    assert loaded.to_document() == state.to_document()
    assert loaded.blocked(4, "/p/1.jpg") == (True, 9)
    assert loaded.exempted(4, "/gone.jpg")
    cut = SnapshotLoader()
    for line in lines[:-1]:
        cut.feed(line)
    with pytest.raises(SnapshotIncomplete):
        cut.finish()
    lying = SnapshotLoader()
    with pytest.raises(SnapshotIncomplete):  # a section lost on the way: the counts disagree
        for line in lines[:2] + lines[3:]:
            lying.feed(line)
