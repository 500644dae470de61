"""Matching PDQ hashes: the hash-bank index, the edge's purge scan, and the distance thresholds.

The bank is searched exhaustively and exactly: no recall is lost to an approximate index and
nothing needs training. A flat scan is bound by how fast memory can be read (ten million 256-bit
hashes are 320 MB), so the codes are stored in two halves and scanned in two stages. FAISS
(``IndexBinaryFlat``) scans the first 128 bits of every hash; the distance over half the bits is a
lower bound of the whole distance, so only rows within the radius on that half can match, and
only those rows' second halves are read (a NumPy popcount). Unrelated hashes are ~64 bits apart on
128 bits, so at radius 48 about one row in four hundred passes the first stage (and about one in
a billion at 31): the scan reads half the bytes at the same memory and stays exact. ``HashIndex``
is the narrow interface the works domain and the edge hold, so another store can replace this one
without touching them.

Each stored hash carries the caller's id (a bank entry); one reference image stores its hashes
under one id (16 for a page framed by margins, up to 178 for a full-bleed picture with its crop
windows), and a search reports each id once, at its best distance. Ids are kept beside
the codes in an int32 array while they fit (an int64 one when they do not), because at ten million
hashes the ids are a fifth of the memory. Removal compacts the codes and ids in place (FAISS
``remove_ids``): bank removals are rare, and a compacted index never filters tombstones on search.
Compaction is linear in the bank (bench/staydown_latency.py prints it), and searches wait for it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import faiss
import numpy as np
import numpy.typing as npt

from staydown.fingerprints.hashing import PDQ_BYTES

__all__ = ["FaissHashIndex", "HashIndex", "Match", "Thresholds", "classify", "matches_within"]

_BITS = PDQ_BYTES * 8
_HALF = PDQ_BYTES // 2  # bytes in each of the two halves a hash is stored and scanned in
QUERY_THREADS = max(1, min(2, os.cpu_count() or 1))  # a query image has two or three hashes
_INT32_MAX = np.iinfo(np.int32).max
_INT32_MIN = np.iinfo(np.int32).min


@dataclass(frozen=True, slots=True)
class Match:
    """A stored id whose best hash lies ``distance`` bits from the query."""

    id: int
    distance: int


class HashIndex(Protocol):
    """Where bank hashes live and are searched."""

    def add(self, ids: Sequence[int], hashes: Sequence[bytes]) -> None: ...

    def remove(self, ids: Iterable[int]) -> None: ...

    def search(self, hashes: Sequence[bytes], *, radius: int) -> list[Match]: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Thresholds:
    """PDQ distances: up to ``auto_block`` blocks on its own; up to ``review`` asks a person."""

    auto_block: int = 31
    review: int = 48

    def __post_init__(self) -> None:
        if not 0 <= self.auto_block <= self.review <= _BITS:
            raise ValueError(
                f"thresholds must satisfy 0 <= auto_block <= review <= {_BITS}, "
                f"not auto_block={self.auto_block}, review={self.review}"
            )


def classify(distance: int, thresholds: Thresholds = Thresholds()) -> Literal["block", "review", "none"]:
    """Say what a match at ``distance`` bits calls for."""
    if distance <= thresholds.auto_block:
        return "block"
    if distance <= thresholds.review:
        return "review"
    return "none"


def _codes(hashes: Sequence[bytes]) -> npt.NDArray[np.uint8]:
    for hash_ in hashes:
        if len(hash_) != PDQ_BYTES:
            raise ValueError(f"a PDQ hash is {PDQ_BYTES} bytes, not {len(hash_)}")
    if not hashes:
        return np.empty((0, PDQ_BYTES), dtype=np.uint8)
    return np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(len(hashes), PDQ_BYTES)


def matches_within(stored: npt.NDArray[np.uint8], query: bytes, *, radius: int) -> npt.NDArray[np.int64]:
    """Return the indices of the rows of ``stored`` (n x 32 bytes) within ``radius`` bits of ``query``."""
    if stored.ndim != 2 or stored.shape[1] != PDQ_BYTES or stored.dtype != np.uint8:
        raise ValueError(
            f"stored hashes must be an (n, {PDQ_BYTES}) uint8 array, not {stored.dtype}{stored.shape}"
        )
    if len(query) != PDQ_BYTES:
        raise ValueError(f"a PDQ hash is {PDQ_BYTES} bytes, not {len(query)}")
    # Four 64-bit words per hash: an eighth of the element operations of a byte-wise XOR. The four
    # counts are added column by column; a sum along the short last axis is several times slower.
    words = np.ascontiguousarray(stored).view(np.uint64)
    counts = np.bitwise_count(words ^ np.frombuffer(query, dtype=np.uint64))
    distance = counts[:, 0].astype(np.uint16)
    for word in range(1, PDQ_BYTES // 8):
        distance += counts[:, word]
    return np.flatnonzero(distance <= radius).astype(np.int64, copy=False)


class _SharedLock:
    """Many searches at once, or one change alone. FAISS releases the GIL while it scans, so
    searches from a thread pool run in parallel; a waiting change holds back new searches so that
    a steady stream of them cannot starve it."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writing = False
        self._waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._writing and not self._waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                if not self._readers:
                    self._condition.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._condition:
            self._waiting += 1
            self._condition.wait_for(lambda: not self._writing and not self._readers)
            self._waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


class FaissHashIndex:
    """An exact binary index: FAISS ``IndexBinaryFlat`` over the first half of each hash, the second
    half and the caller's ids beside it in NumPy arrays."""

    def __init__(self) -> None:
        # One thread per query: FAISS parallelises a range search over its queries, never within one,
        # so a verdict's hashes (raw, trimmed, pad or banner stripped) are scanned side by side while
        # a single query still runs on one thread.
        faiss.omp_set_num_threads(QUERY_THREADS)
        self._head = faiss.IndexBinaryFlat(_HALF * 8)
        self._tail: npt.NDArray[np.uint64] = np.empty((1024, _HALF // 8), dtype=np.uint64)
        self._ids: npt.NDArray[np.signedinteger[Any]] = np.empty(1024, dtype=np.int32)
        self._lock = _SharedLock()

    def __len__(self) -> int:
        return int(self._head.ntotal)

    def add(self, ids: Sequence[int], hashes: Sequence[bytes]) -> None:
        """Store each hash under the id at the same position."""
        if len(ids) != len(hashes):
            raise ValueError(f"{len(ids)} ids for {len(hashes)} hashes")
        codes = _codes(hashes)
        new = np.asarray(ids, dtype=np.int64)
        if not len(new):
            return
        with self._lock.exclusive():
            count = len(self)
            if self._ids.dtype == np.int32 and (new.max() > _INT32_MAX or new.min() < _INT32_MIN):
                self._ids = self._ids.astype(np.int64)
            if count + len(new) > len(self._ids):  # grow by doubling: adds arrive one feed record at a time
                size = max(2 * len(self._ids), count + len(new))
                self._ids = _grown(self._ids, size, count)
                self._tail = _grown(self._tail, size, count)
            self._ids[count : count + len(new)] = new
            self._tail[count : count + len(new)] = codes[:, _HALF:].view(np.uint64)
            self._head.add(np.ascontiguousarray(codes[:, :_HALF]))

    def remove(self, ids: Iterable[int]) -> None:
        """Drop every hash stored under any of ``ids``."""
        gone = np.fromiter(ids, dtype=np.int64)
        if not len(gone):
            return
        with self._lock.exclusive():
            count = len(self)
            doomed = np.flatnonzero(np.isin(self._ids[:count], gone))
            if not len(doomed):
                return
            self._head.remove_ids(faiss.IDSelectorBatch(doomed.astype(np.int64)))
            _close_gaps(self._ids, doomed, count)
            _close_gaps(self._tail, doomed, count)

    def search(self, hashes: Sequence[bytes], *, radius: int) -> list[Match]:
        """Return every id with a hash within ``radius`` bits of any query hash, at its best distance."""
        if not 0 <= radius <= _BITS:
            raise ValueError(f"radius must be within 0..{_BITS}, not {radius}")
        codes = _codes(hashes)
        if not len(codes):
            return []
        with self._lock.shared():
            if not len(self):
                return []
            # Stage one: rows whose first halves lie within the radius (FAISS returns distances
            # strictly below the radius it is given). Stage two: add the second halves' distances.
            limits, head_distances, rows = self._head.range_search(
                np.ascontiguousarray(codes[:, :_HALF]), min(radius, _HALF * 8) + 1
            )
            tails = codes[:, _HALF:].view(np.uint64)
            queries = np.repeat(np.arange(len(codes)), np.diff(limits.astype(np.int64)))
            tail_distances = np.bitwise_count(self._tail[rows] ^ tails[queries]).sum(axis=1, dtype=np.int32)
            distances = head_distances + tail_distances
            within = distances <= radius
            found = self._ids[rows[within]].astype(np.int64)
            distances = distances[within]
        best: dict[int, int] = {}
        for id_, distance in zip(found.tolist(), distances.tolist(), strict=True):
            if id_ not in best or distance < best[id_]:
                best[id_] = int(distance)
        return sorted(
            (Match(id_, distance) for id_, distance in best.items()), key=lambda m: (m.distance, m.id)
        )


_Scalar = TypeVar("_Scalar", bound=np.generic)


def _grown(array: npt.NDArray[_Scalar], size: int, count: int) -> npt.NDArray[_Scalar]:
    """A copy of ``array`` with room for ``size`` rows, its first ``count`` rows kept."""
    grown = np.empty((size, *array.shape[1:]), dtype=array.dtype)
    grown[:count] = array[:count]
    return grown


def _close_gaps(array: npt.NDArray[Any], doomed: npt.NDArray[np.int64], count: int) -> None:
    """Drop the ``doomed`` rows (ascending) of the first ``count``, moving the rest down in order, as
    FAISS compacts its codes: row by row copies, with no mask or copy of the whole array."""
    write = int(doomed[0])
    for position, start in enumerate(doomed.tolist()):
        end = int(doomed[position + 1]) if position + 1 < len(doomed) else count
        array[write : write + end - start - 1] = array[start + 1 : end]
        write += end - start - 1
