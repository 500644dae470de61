"""The edge's served-request counter (pure): exact while small, bounded memory and a stated error
once many resources are served, and reports that merge a resource's spellings."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from staydown.edge.feed import ServedReporter
from staydown.edge.served import ServedCounter, ZoneCounts, compact, report_zones
from staydown.urls import block_key_hash


def test_counts_are_exact_below_the_bound_and_start_afresh_at_each_report() -> None:
    counter = ServedCounter(capacity=4)
    for target in ["/a", "/a", "/b", "/a", "/c"]:
        counter.served(1, target)
    counter.served(2, "/x")
    taken = counter.take()
    assert (taken[1].total, taken[1].error, taken[1].counts) == (5, 0, {"/a": 3, "/b": 1, "/c": 1})
    assert taken[2].counts == {"/x": 1}
    assert counter.take() == {}


def test_a_long_tail_keeps_the_table_bounded_and_the_heavy_hitters_within_the_error() -> None:
    capacity = 50
    counter = ServedCounter(capacity=capacity)
    rng = random.Random(7)
    truth: Counter[str] = Counter()
    heavy = [f"/popular/{i}.jpg" for i in range(10)]
    for n in range(40_000):
        target = rng.choice(heavy) if n % 3 else f"/tail/{n}.html"  # 13,334 served once each
        truth[target] += 1
        counter.served(7, target)
        assert len(counter.zones[7]) <= 2 * capacity
    table = counter.take()[7]
    assert table.total == 40_000
    assert 0 < table.error <= table.total // (capacity + 1)
    for target, count in table.counts.items():
        assert truth[target] - table.error <= count <= truth[target]
    for target in heavy:  # served far more than the error: never dropped
        assert truth[target] > table.error and target in table.counts
    missing = [t for t in truth if t not in table.counts]
    assert missing and all(truth[t] <= table.error for t in missing)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=600), st.integers(min_value=1, max_value=8))
def test_every_count_is_low_by_at_most_the_error_and_the_error_is_bounded(
    stream: list[int], capacity: int
) -> None:
    counter = ServedCounter(capacity=capacity)
    for n in stream:
        counter.served(1, f"/{n}")
    if not stream:
        assert counter.take() == {}
        return
    table = counter.take()[1]
    truth = Counter(f"/{n}" for n in stream)
    assert table.total == len(stream) and len(table.counts) <= 2 * capacity
    assert table.error * (capacity + 1) <= len(stream)
    for target, true in truth.items():
        assert true - table.error <= table.counts.get(target, 0) <= true


def test_compaction_takes_the_next_count_from_all_and_keeps_at_most_the_capacity() -> None:
    counts = {"/a": 9, "/b": 5, "/c": 5, "/d": 2, "/e": 1, "/f": 1}
    assert compact(counts, 3) == ({"/a": 7, "/b": 3, "/c": 3}, 2, 10)
    assert compact({"/a": 2, "/b": 2, "/c": 2, "/d": 2}, 3) == ({}, 2, 8)  # none above the rest: all go
    assert compact({"/a": 2}, 3) == ({"/a": 2}, 0, 0)


def test_a_zones_total_stays_exact_through_compactions() -> None:
    counter = ServedCounter(capacity=2)
    for target in ["/a", "/b", "/a", "/c", "/d", "/e", "/a", "/f"]:
        counter.served(1, target)
    table = counter.take()[1]
    assert table.error > 0 and table.total == 8  # the total is the counts plus what was taken
    assert table.counts["/a"] <= 3 <= table.counts["/a"] + table.error


def test_a_report_merges_spellings_by_block_key_and_names_the_path_of_a_query() -> None:
    counter = ServedCounter()
    for target in ["/manga/1/", "/manga/1", "/manga/%31", "/read?id=3", "/read?id=3"]:
        counter.served(4, target)
    [zone] = report_zones(counter.take())
    assert (zone["zone_id"], zone["requests"], zone["error"]) == (4, 5, 0)
    resources = {tuple(r[:2]): r[2] for r in zone["resources"]}
    assert resources[(block_key_hash("/manga/1"), None)] == 2  # an escaped digit is another spelling
    assert resources[(block_key_hash("/read?id=3"), block_key_hash("/read"))] == 2
    assert sum(resources.values()) == 5


def test_the_reporter_sends_a_report_again_unchanged_until_it_is_taken() -> None:
    counter = ServedCounter()
    answers = [httpx.ConnectError("down"), httpx.Response(503), httpx.Response(200, json={"counted": True})]
    seen: list[dict[str, Any]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    reporter = ServedReporter(counter, control_plane="http://cp.invalid", key="k", every=60, edge_id="e1")

    async def main() -> list[bool]:
        async with httpx.AsyncClient(
            base_url="http://cp.invalid", transport=httpx.MockTransport(handle)
        ) as client:
            assert await reporter.send(client)  # nothing counted: nothing sent
            counter.served(3, "/a")
            results = [await reporter.send(client)]
            counter.served(3, "/b")  # counted meanwhile: the next report's
            results += [await reporter.send(client), await reporter.send(client)]
            return results

    assert asyncio.run(main()) == [False, False, True]
    assert [r["seq"] for r in seen] == [1, 1, 1] and seen[0] == seen[1] == seen[2]
    assert seen[0]["edge"] == "e1" and seen[0]["zones"][0]["requests"] == 1
    assert reporter.next_report() == {
        **seen[0],
        "seq": 2,
        "zones": report_zones({3: ZoneCounts(1, {"/b": 1})}),
    }
