"""Requests served per zone and per resource, counted by each edge worker (sans-io).

Every request the edge answers with a zone's content (from its cache or its origin, not refused,
blocked or redirected) adds one to the zone's exact total and one to its resource's count. The
resource counts live in a bounded table per zone: the "frequent items" summary of Misra and Gries
with decrements made in batches, so that the hot path is one dictionary increment.

**Bound.** A zone's table holds at most ``2 x capacity`` targets. When a new target would pass
that, the table is compacted: ``c``, the ``(capacity + 1)``-th largest count, is taken from every
count and the targets left at zero or below are dropped, leaving at most ``capacity``. Memory per
zone is therefore ``2 x capacity`` targets (each at most the edge's request-target limit).

**Error.** Every count is an underestimate by at most ``error``, the sum of the ``c`` taken in the
period, and ``error ≤ N / (capacity + 1)`` where ``N`` is the zone's total in the period: each
compaction takes ``c`` from at least ``capacity + 1`` counts, so the sums taken never exceed the
total counted. A target missing from the table was served at most ``error`` times. A report
carries each zone's ``error``; with no compaction in the period (fewer than ``2 x capacity``
distinct targets) the counts are exact and ``error`` is 0.

Counts are taken (and the tables started afresh) at each report, so the bound holds per report
period. Spellings of one resource are merged at report time by their block key, the key a block
is matched on (:func:`staydown.urls.block_key`), sent as its hash
(:func:`staydown.urls.block_key_hash`) with the hash of its path alone, since a block on a path
covers every query.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from staydown.urls import block_key, block_key_hash

DEFAULT_CAPACITY = 4096


@dataclass(slots=True)
class ZoneCounts:
    """One zone's counts since the last report."""

    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    error: int = 0  # every count is at most this much below the true one


def compact(counts: dict[str, int], capacity: int) -> tuple[dict[str, int], int, int]:
    """Take the ``(capacity + 1)``-th largest count from every count and keep what stays above
    zero: (the counts kept, what was taken from each, what was taken in all)."""
    if len(counts) <= capacity:
        return counts, 0, 0
    cut = heapq.nlargest(capacity + 1, counts.values())[-1]
    kept = {target: n - cut for target, n in counts.items() if n > cut}
    return kept, cut, sum(counts.values()) - sum(kept.values())


class ServedCounter:
    """A worker's counts per zone.

    The hot path is inlined where requests are answered (``Edge.fast_hit``, ``Edge.immediate``):
    ``counts = zones.get(zone_id)``, then ``counts[target] = n + 1`` when the target is there, else
    :meth:`add`. A zone's total is not kept apart: it is the sum of its counts and of what
    compactions took (``taken``), so a served request costs one dictionary increment."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.limit = 2 * capacity
        self.zones: dict[int, dict[str, int]] = {}
        self.taken: dict[int, int] = {}  # per zone, what compactions took from the counts
        self.error: dict[int, int] = {}  # per zone, how far below the truth any count may be

    def served(self, zone_id: int, target: str) -> None:
        """Count one request (what the inlined hot path does)."""
        counts = self.zones.get(zone_id)
        n = counts.get(target) if counts is not None else None
        if n is None:
            self.add(zone_id, target)
        else:
            counts[target] = n + 1  # type: ignore[index]

    def add(self, zone_id: int, target: str) -> None:
        """Count the first request for a target (or of a zone) since the last report."""
        counts = self.zones.get(zone_id)
        if counts is None:
            counts = self.zones[zone_id] = {}
        elif len(counts) >= self.limit:
            counts, cut, taken = compact(counts, self.capacity)
            self.zones[zone_id] = counts
            self.error[zone_id] = self.error.get(zone_id, 0) + cut
            self.taken[zone_id] = self.taken.get(zone_id, 0) + taken
        counts[target] = counts.get(target, 0) + 1

    def take(self) -> dict[int, ZoneCounts]:
        """What was counted since the last call; counting starts afresh."""
        zones, taken, error = self.zones, self.taken, self.error
        self.zones, self.taken, self.error = {}, {}, {}
        return {
            zone_id: ZoneCounts(
                total=sum(counts.values()) + taken.get(zone_id, 0),
                counts=counts,
                error=error.get(zone_id, 0),
            )
            for zone_id, counts in zones.items()
        }


def report_zones(taken: dict[int, ZoneCounts]) -> list[dict[str, Any]]:
    """The zones part of a report: per zone its total, its error bound and per resource
    ``[key hash, path hash or None, count]``, spellings with one block key merged."""
    zones = []
    for zone_id, table in sorted(taken.items()):
        merged: dict[str, int] = {}
        for target, n in table.counts.items():
            key = block_key(target)
            merged[key] = merged.get(key, 0) + n
        resources = []
        for key, n in merged.items():
            path, sep, _query = key.partition("?")
            resources.append([block_key_hash(key), block_key_hash(path) if sep else None, n])
        zones.append(
            {"zone_id": zone_id, "requests": table.total, "error": table.error, "resources": resources}
        )
    return zones
