"""The edge's enforcement state as pure bookkeeping over feed records: blocks found under every
spelling an origin maps to the same resource, lifted one target at a time, and kept across restarts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from staydown.edge.state import (
    EnforcementState,
    LocalStore,
    SnapshotIncomplete,
    read_snapshot,
    snapshot_gzip,
)


class Feed:
    def __init__(self, state: EnforcementState) -> None:
        self.state = state

    def __call__(self, kind: str, target: str, **extra: Any) -> None:
        record = {"seq": self.state.seq + 1, "kind": kind, "zone_id": 1, "target": target, **extra}
        self.state.apply(record)


def test_a_block_is_found_under_every_spelling_and_no_other() -> None:
    state = EnforcementState()
    feed = Feed(state)
    feed("block", "/a/b.txt", notice_id=7)
    for spelling in ("/a/b.txt", "/a%2Fb.txt", "/a/x%2F..%2Fb.txt", "/a/b.txt/", "/a/b.txt?v=2"):
        assert state.blocked(1, spelling) == (True, 7), spelling
    for other in ("/a/B.txt", "/a/b.tx", "/a%252Fb.txt", "/a/b.txt;v=2"):
        assert state.blocked(1, other) == (False, None), other
    assert state.blocked(2, "/a/b.txt") == (False, None)  # another zone


def test_lifting_one_spelling_leaves_the_others_blocked() -> None:
    state = EnforcementState()
    feed = Feed(state)
    feed("block", "/dir/", notice_id=1)
    feed("block", "/dir", notice_id=2)
    feed("unblock", "/dir/")
    assert state.blocked(1, "/dir/") == (True, 2)  # /dir is still blocked, and /dir/ reaches it
    feed("unblock", "/dir%2F")  # never blocked: lifts nothing
    assert state.blocked(1, "/dir") == (True, 2)
    feed("unblock", "/dir")
    assert state.blocked(1, "/dir/") == (False, None)
    assert not state.spellings[1]


def test_a_block_on_its_own_key_then_another_spelling_survive_either_unblock() -> None:
    state = EnforcementState()
    feed = Feed(state)
    feed("block", "/x!y", notice_id=1)
    feed("block", "/x%21y", notice_id=2)
    feed("unblock", "/x%21y")
    assert state.blocked(1, "/x%21y") == (True, 1)
    feed("unblock", "/x!y")
    assert state.blocked(1, "/x!y") == (False, None)


def test_spellings_and_exemptions_survive_a_restart(tmp_path: Path) -> None:
    state = EnforcementState()
    feed = Feed(state)
    feed("block", "/dir/", notice_id=1)
    feed("block", "/dir", notice_id=2)
    feed("block", "/c%2Fd", notice_id=3)
    feed("unblock", "/copy.jpg/", staydown_exempt=True)
    store = LocalStore(tmp_path)
    store.compact(state)
    restored = store.load()
    assert sorted(restored.blocked_targets()) == sorted(state.blocked_targets())
    assert sorted(restored.blocked_targets()) == [(1, "/c%2Fd", 3), (1, "/dir", 2), (1, "/dir/", 1)]
    assert restored.exempted(1, "/copy.jpg") and restored.exempted(1, "/copy.jpg?size=2")
    restored.apply({"seq": restored.seq + 1, "kind": "unblock", "zone_id": 1, "target": "/dir/"})
    assert restored.blocked(1, "/dir/") == (True, 2)


def test_a_store_keeps_a_snapshot_as_it_arrived_and_reads_an_earlier_versions_store(tmp_path: Path) -> None:
    state = EnforcementState()
    feed = Feed(state)
    feed("block", "/a.jpg", notice_id=1)
    state.apply(
        {"seq": 2, "kind": "hash_add", "entry_id": 7, "scope": "network", "sha256": "ab" * 32, "pdq": []}
    )
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "snapshot.json").write_text(
        json.dumps(state.to_document() | {"bank": list(state.bank.values())})
    )
    restored = LocalStore(earlier).load()  # an earlier version kept bank entries as objects
    assert restored.to_document() == state.to_document() and restored.bank == state.bank
    store = LocalStore(tmp_path / "now")
    arrived = snapshot_gzip(state)
    store.install(arrived)
    assert (tmp_path / "now" / "snapshot.ndjson.gz").read_bytes() == arrived  # not encoded again
    assert store.load().to_document() == state.to_document()
    LocalStore(earlier).compact(restored)
    assert not (earlier / "snapshot.json").exists()
    assert LocalStore(earlier).load().to_document() == state.to_document()


def test_a_cut_compressed_snapshot_is_refused(tmp_path: Path) -> None:
    state = EnforcementState()
    Feed(state)("block", "/a.jpg", notice_id=1)
    whole = snapshot_gzip(state)
    with pytest.raises(SnapshotIncomplete):
        read_snapshot([whole[: len(whole) // 2]])
    assert read_snapshot([whole[:10], whole[10:]]).to_document() == state.to_document()
