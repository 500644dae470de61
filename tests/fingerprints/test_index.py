"""The hash index: add, remove and search semantics over FAISS, the edge's vectorised purge scan
against a brute-force popcount, and the distance thresholds."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from staydown.fingerprints.index import FaissHashIndex, HashIndex, Match, Thresholds, classify, matches_within


def flip_bits(hash_: bytes, bits: list[int]) -> bytes:
    value = int.from_bytes(hash_, "big")
    for bit in bits:
        value ^= 1 << bit
    return value.to_bytes(32, "big")


def near(hash_: bytes, distance: int, rng: random.Random) -> bytes:
    return flip_bits(hash_, rng.sample(range(256), distance))


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20)


def test_search_reports_each_id_once_at_its_best_distance(rng: random.Random) -> None:
    index: HashIndex = FaissHashIndex()
    probe = rng.randbytes(32)
    other = rng.randbytes(32)
    index.add([1, 1, 1], [near(probe, 20, rng), near(probe, 5, rng), other])  # one reference, 3 hashes
    index.add([2], [near(probe, 12, rng)])
    index.add([3], [near(probe, 5, rng)])
    index.add([4], [near(probe, 40, rng)])
    index.add([5], [near(probe, 90, rng)])
    assert len(index) == 7
    assert index.search([probe], radius=31) == [Match(1, 5), Match(3, 5), Match(2, 12)]
    assert index.search([probe], radius=48) == [Match(1, 5), Match(3, 5), Match(2, 12), Match(4, 40)]
    assert index.search([probe], radius=5) == [Match(1, 5), Match(3, 5)]  # the radius is inclusive
    assert index.search([probe], radius=4) == []
    # Across query hashes too: the raw and the trimmed hash of one image.
    assert index.search([other, probe], radius=10) == [Match(1, 0), Match(3, 5)]
    # Differences all in the first or all in the second half of the hash, exactly at the radius.
    halves: HashIndex = FaissHashIndex()
    halves.add([7, 8], [flip_bits(probe, list(range(128, 138))), flip_bits(probe, list(range(10)))])
    assert halves.search([probe], radius=10) == [Match(7, 10), Match(8, 10)]
    assert halves.search([probe], radius=9) == []


def test_remove_drops_every_hash_of_an_id_and_keeps_the_rest_searchable(rng: random.Random) -> None:
    index = FaissHashIndex()
    hashes = [rng.randbytes(32) for _ in range(50)]
    index.add([i // 5 for i in range(50)], hashes)  # ten ids, five hashes each
    index.remove([3, 7, 99])
    assert len(index) == 40
    for i, hash_ in enumerate(hashes):
        found = index.search([hash_], radius=0)
        assert found == ([] if i // 5 in (3, 7) else [Match(i // 5, 0)])
    index.remove([])
    index.add([3], [hashes[15]])  # an id may come back
    assert index.search([hashes[15]], radius=0) == [Match(3, 0)]
    assert len(index) == 41


def test_ids_beyond_32_bits_and_growth(rng: random.Random) -> None:
    index = FaissHashIndex()
    hashes = [rng.randbytes(32) for _ in range(3000)]
    for i, hash_ in enumerate(hashes[:2000]):  # one at a time, as feed records arrive
        index.add([i], [hash_])
    big = 2**40 + 7
    index.add([big, -5, *range(2000, 2998)], hashes[2000:])
    assert index.search([hashes[2000]], radius=0) == [Match(big, 0)]
    assert index.search([hashes[2001]], radius=0) == [Match(-5, 0)]
    assert index.search([hashes[1234]], radius=0) == [Match(1234, 0)]
    index.remove([big, 5])
    assert index.search([hashes[2000]], radius=0) == []
    assert index.search([hashes[2999]], radius=0) == [Match(2997, 0)]


def test_empty_and_invalid_input() -> None:
    index = FaissHashIndex()
    assert len(index) == 0
    assert index.search([bytes(32)], radius=31) == []
    assert index.search([], radius=31) == []
    index.add([], [])
    with pytest.raises(ValueError, match="ids for"):
        index.add([1, 2], [bytes(32)])
    with pytest.raises(ValueError, match="32 bytes"):
        index.add([1], [bytes(8)])
    with pytest.raises(ValueError, match="radius"):
        index.search([bytes(32)], radius=300)


def test_search_is_safe_while_the_bank_changes(rng: random.Random) -> None:
    index = FaissHashIndex()
    stable = [rng.randbytes(32) for _ in range(200)]
    index.add(list(range(200)), stable)

    def churn(round_: int) -> None:
        ids = list(range(1000 + round_ * 10, 1010 + round_ * 10))
        index.add(ids, [rng.randbytes(32) for _ in ids])
        index.remove(ids[:5])

    def look(i: int) -> list[Match]:
        return index.search([stable[i % 200]], radius=0)

    with ThreadPoolExecutor(max_workers=4) as pool:
        adds = pool.map(churn, range(50))
        found = list(pool.map(look, range(500)))
        list(adds)
    assert found == [[Match(i % 200, 0)] for i in range(500)]
    assert len(index) == 200 + 50 * 5


def brute_force(stored: np.ndarray, query: bytes, radius: int) -> list[int]:
    probe = int.from_bytes(query, "big")
    return [
        row
        for row in range(len(stored))
        if (int.from_bytes(stored[row].tobytes(), "big") ^ probe).bit_count() <= radius
    ]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(0, 200),
    radius=st.integers(0, 256),
    planted=st.lists(st.integers(0, 256), max_size=10),
)
def test_matches_within_equals_a_brute_force_popcount(
    seed: int, rows: int, radius: int, planted: list[int]
) -> None:
    generator = np.random.default_rng(seed)
    query = generator.integers(0, 256, 32, dtype=np.uint8).tobytes()
    stored = generator.integers(0, 256, (rows + len(planted), 32), dtype=np.uint8)
    rng = random.Random(seed)
    for offset, distance in enumerate(planted):  # rows at chosen distances, so small radii are hit
        stored[rows + offset] = np.frombuffer(near(query, distance, rng), dtype=np.uint8)
    found = matches_within(stored, query, radius=radius)
    assert found.dtype == np.int64
    assert found.tolist() == brute_force(stored, query, radius)
    # A non-contiguous view (every other row) gives the same answer as its copy.
    view = stored[::2]
    assert matches_within(view, query, radius=radius).tolist() == brute_force(view, query, radius)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(0, 150),
    radius=st.integers(0, 256),
    planted=st.lists(st.tuples(st.integers(0, 128), st.integers(0, 128)), max_size=12),
    removed=st.lists(st.integers(0, 170), max_size=5),
)
def test_search_equals_a_brute_force_popcount(
    seed: int, rows: int, radius: int, planted: list[tuple[int, int]], removed: list[int]
) -> None:
    """The two-stage scan (first half in FAISS, second half in NumPy) finds exactly what a full
    popcount finds: rows whose differences sit all in one half, across the radius, after removals."""
    generator = np.random.default_rng(seed)
    rng = random.Random(seed)
    queries = [generator.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(2)]
    stored = [generator.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(rows)]
    for head, tail in planted:  # chosen distances in each half of a query
        query = rng.choice(queries)
        bits = rng.sample(range(128, 256), head) + rng.sample(range(128), tail)  # bit 255 is byte 0
        stored.append(flip_bits(query, bits))
    ids = [rng.randrange(40) for _ in stored]
    index = FaissHashIndex()
    index.add(ids, stored)
    index.remove(removed)
    expected: dict[int, int] = {}
    for id_, hash_ in zip(ids, stored, strict=True):
        if id_ in removed:
            continue
        distance = min((int.from_bytes(hash_, "big") ^ int.from_bytes(q, "big")).bit_count() for q in queries)
        if distance <= radius and distance < expected.get(id_, 257):
            expected[id_] = distance
    assert index.search(queries, radius=radius) == sorted(
        (Match(id_, distance) for id_, distance in expected.items()), key=lambda m: (m.distance, m.id)
    )


def test_matches_within_checks_its_input() -> None:
    with pytest.raises(ValueError, match="uint8 array"):
        matches_within(np.zeros((3, 16), dtype=np.uint8), bytes(32), radius=3)
    with pytest.raises(ValueError, match="32 bytes"):
        matches_within(np.zeros((3, 32), dtype=np.uint8), bytes(31), radius=3)
    assert matches_within(np.zeros((0, 32), dtype=np.uint8), bytes(32), radius=3).tolist() == []


def test_classify_and_thresholds() -> None:
    assert [classify(d) for d in (0, 31, 32, 48, 49, 256)] == [
        "block",
        "block",
        "review",
        "review",
        "none",
        "none",
    ]
    strict = Thresholds(auto_block=20, review=40)
    assert [classify(d, strict) for d in (20, 21, 40, 41)] == ["block", "review", "review", "none"]
    with pytest.raises(ValueError, match="auto_block <= review"):
        Thresholds(auto_block=50, review=40)
    with pytest.raises(ValueError, match="auto_block <= review"):
        Thresholds(auto_block=-1)
