"""Stay-down at the edge: the bank's hashes, a verdict on every image before it is first served from
the cache, and a sweep of what is already cached when a new hash arrives.

``StaydownGuard`` holds no sockets and no loop: the server fingerprints a filled image off the event
loop, asks ``verdict``, and keeps the fingerprint with ``remember`` so that ``sweep`` can find cached
copies of content banked later (a vectorised popcount over every cached hash).

PDQ decides before a copy is first served; what it cannot follow (a page inside a spread or a site's
layout, a turned or deeply cropped copy) is left to the second stage, ``after_serving``: local
features of the copy, verified geometrically against the entries' own (``fingerprints.features``).
It takes tens of milliseconds, so it runs after the copy is served, and a conclusive match blocks
and purges it then, reported with its evidence.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from staydown.fingerprints.features import QUERY_SIZE, Evidence, FeatureIndex, Features
from staydown.fingerprints.hashing import (
    PDQ_BYTES,
    Fingerprint,
    ImageLimits,
    ImageRejected,
    decode_luma,
    hamming,
)
from staydown.fingerprints.index import FaissHashIndex, Thresholds, classify, matches_within

log = logging.getLogger("staydown.edge")

# Copies waiting for the second stage (each holds its body); past this many a copy gets the review
# band only. At ~0.1-0.3 s a copy that is half a minute of work.
SECOND_STAGE_BACKLOG = 128

CacheKey = tuple[int, str]


@dataclass(frozen=True, slots=True)
class BankRecord:
    """One bank entry as the feed's ``hash_add`` record describes it."""

    entry_id: int
    scope: str  # "zone" | "customer" | "network"
    scope_zone_id: int | None
    scope_customer_id: int | None
    notice_id: int | None
    work_id: int | None
    sha256: bytes
    pdq: tuple[bytes, ...]
    features: bytes = b""  # the second stage's (``Features.to_bytes``), empty when it has none
    source: str = "notice"  # "notice" | "reference" | "allowlist" (licensed: never blocked)
    auto_block: int | None = None  # the entry's own automatic-block distance (its work's), if set

    @property
    def allow(self) -> bool:
        return self.source == "allowlist"

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> BankRecord:
        # Called once per entry when a snapshot of a million entries loads: positional, no copies.
        get = record.get
        features = b""
        if get("features"):
            try:
                features = base64.b64decode(record["features"], validate=True)
            except (binascii.Error, ValueError):
                log.warning("bank entry %s: features are not base64; PDQ only", get("entry_id"))
        pdq = get("pdq")
        auto = get("auto_block_distance")
        return cls(
            int(record["entry_id"]),
            str(record["scope"]),
            get("scope_zone_id"),
            get("scope_customer_id"),
            get("notice_id"),
            get("work_id"),
            bytes.fromhex(record["sha256"]),
            tuple(map(bytes.fromhex, pdq)) if pdq else (),
            features,
            str(get("source") or "notice"),
            None if auto is None else _distance(auto),
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "scope": self.scope,
            "scope_zone_id": self.scope_zone_id,
            "scope_customer_id": self.scope_customer_id,
            "notice_id": self.notice_id,
            "work_id": self.work_id,
            "sha256": self.sha256.hex(),
            "pdq": [h.hex() for h in self.pdq],
            "source": self.source,
            **({"auto_block_distance": self.auto_block} if self.auto_block is not None else {}),
            **({"features": base64.b64encode(self.features).decode("ascii")} if self.features else {}),
        }

    def covers(self, *, zone_id: int, customer_id: int | None) -> bool:
        """Does this entry keep copies out of ``zone_id``?"""
        if self.scope == "network":
            return True
        if self.scope == "customer":
            return customer_id is not None and self.scope_customer_id == customer_id
        return self.scope_zone_id == zone_id


@dataclass(frozen=True, slots=True)
class Verdict:
    entry: BankRecord
    distance: int
    exact: bool
    outcome: Literal["block", "review"]
    evidence: Evidence | None = None  # a match of the second stage, and why
    part: str = "whole"  # the part of the copy that matched (a page of a spread)
    allowed_by: int | None = None  # the allowlist entry that kept a blocking match to review


class CachedPrints:
    """The PDQ hashes and SHA-256 of every cached image, by cache key, in one growable array."""

    def __init__(self, capacity: int = 1024) -> None:
        self.codes: npt.NDArray[np.uint8] = np.zeros((capacity, PDQ_BYTES), dtype=np.uint8)
        self.alive: npt.NDArray[np.bool_] = np.zeros(capacity, dtype=np.bool_)
        self.owner: list[CacheKey | None] = [None] * capacity
        self.rows: dict[CacheKey, list[int]] = {}
        self.sha: dict[CacheKey, bytes] = {}
        self.by_sha: dict[bytes, set[CacheKey]] = {}
        self.free: list[int] = []
        self.used = 0  # rows ever handed out (the high-water mark)

    def __len__(self) -> int:
        return len(self.sha)

    def remember(self, key: CacheKey, fp: Fingerprint) -> None:
        self.forget(key)
        self.sha[key] = fp.sha256
        self.by_sha.setdefault(fp.sha256, set()).add(key)
        rows = []
        for code in fp.pdq:
            row = self.free.pop() if self.free else self._grow()
            self.codes[row] = np.frombuffer(code, dtype=np.uint8)
            self.alive[row] = True
            self.owner[row] = key
            rows.append(row)
        self.rows[key] = rows

    def _grow(self) -> int:
        if self.used == len(self.alive):
            capacity = 2 * len(self.alive)
            codes = np.zeros((capacity, PDQ_BYTES), dtype=np.uint8)
            codes[: self.used] = self.codes[: self.used]
            alive = np.zeros(capacity, dtype=np.bool_)
            alive[: self.used] = self.alive[: self.used]
            self.codes, self.alive = codes, alive
            self.owner.extend([None] * (capacity - len(self.owner)))
        self.used += 1
        return self.used - 1

    def forget(self, key: CacheKey) -> None:
        sha = self.sha.pop(key, None)
        if sha is not None:
            keys = self.by_sha.get(sha)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.by_sha[sha]
        for row in self.rows.pop(key, ()):
            self.alive[row] = False
            self.owner[row] = None
            self.free.append(row)

    def near(self, code: bytes, *, radius: int) -> list[tuple[CacheKey, int]]:
        """Cached keys with a hash within ``radius`` of ``code``, with that distance."""
        if not self.used:
            return []
        found = []
        for row in matches_within(self.codes[: self.used], code, radius=radius):
            key = self.owner[int(row)]
            if key is not None and self.alive[row]:
                found.append((key, hamming(self.codes[row].tobytes(), code)))
        return found

    def exact(self, sha256: bytes) -> Iterable[CacheKey]:
        return tuple(self.by_sha.get(sha256, ()))


class StaydownGuard:
    """The bank as one edge worker holds it, and the verdicts it gives."""

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self.entries: dict[int, BankRecord] = {}
        self.index = FaissHashIndex()
        self.features = FeatureIndex()
        self.by_sha: dict[bytes, set[int]] = {}
        self.cached = CachedPrints()
        # Licensed or public-domain images: a copy near one is never blocked automatically.
        self.allowed_entries: dict[int, BankRecord] = {}
        self.allow_index = FaissHashIndex()
        self.allow_sha: dict[bytes, set[int]] = {}
        self.widest = self.thresholds.auto_block  # the widest automatic-block distance of any entry
        self.generation = 0  # bumped on every change, so a verdict given meanwhile can be redone

    def __len__(self) -> int:
        return len(self.entries)

    def load(self, entries: Iterable[BankRecord]) -> None:
        """Add many entries at once (a snapshot, or start-up from the local store): one pass that
        keeps each entry, then every hash into the index in one bulk add."""
        ids: list[int] = []
        codes: list[bytes] = []
        kept, by_sha, widest = self.entries, self.by_sha, self.widest
        for entry in entries:
            if entry.allow:
                self._allow(entry)
                continue
            if entry.features or entry.auto_block is not None:
                self._keep(entry)
            else:  # the common case, inline: a million of these load in a second or two
                kept[entry.entry_id] = entry
                same = by_sha.get(entry.sha256)
                if same is None:
                    by_sha[entry.sha256] = {entry.entry_id}
                else:
                    same.add(entry.entry_id)
            if len(entry.pdq) == 1:
                ids.append(entry.entry_id)
                codes.append(entry.pdq[0])
            else:
                ids.extend([entry.entry_id] * len(entry.pdq))
                codes.extend(entry.pdq)
        self.widest = max(widest, self.widest)
        self.index.add(ids, codes)
        self.generation += 1

    def add(self, entry: BankRecord) -> None:
        if entry.entry_id in self.entries or entry.entry_id in self.allowed_entries:
            self.remove(entry.entry_id)
        if entry.allow:
            self._allow(entry)
            self.generation += 1
            return
        self._keep(entry)
        self.index.add([entry.entry_id] * len(entry.pdq), list(entry.pdq))
        self.generation += 1

    def _keep(self, entry: BankRecord) -> None:
        self.entries[entry.entry_id] = entry
        self.widest = max(self.widest, self.auto_block(entry))
        self.by_sha.setdefault(entry.sha256, set()).add(entry.entry_id)
        if entry.features and entry.pdq:  # a weak entry is never matched perceptually
            try:
                self.features.add(entry.entry_id, Features.from_bytes(entry.features))
            except ValueError as exc:
                log.warning("bank entry %s: unreadable features (%s); PDQ only", entry.entry_id, exc)

    def _allow(self, entry: BankRecord) -> None:
        self.allowed_entries[entry.entry_id] = entry
        self.allow_sha.setdefault(entry.sha256, set()).add(entry.entry_id)
        if entry.pdq:
            self.allow_index.add([entry.entry_id] * len(entry.pdq), list(entry.pdq))

    def remove(self, entry_id: int) -> BankRecord | None:
        allowed = self.allowed_entries.pop(entry_id, None)
        if allowed is not None:
            same = self.allow_sha.get(allowed.sha256, set())
            same.discard(entry_id)
            if not same:
                self.allow_sha.pop(allowed.sha256, None)
            if allowed.pdq:
                self.allow_index.remove([entry_id])
            self.generation += 1
            return allowed
        entry = self.entries.pop(entry_id, None)
        if entry is None:
            return None
        ids = self.by_sha.get(entry.sha256)
        if ids is not None:
            ids.discard(entry_id)
            if not ids:
                del self.by_sha[entry.sha256]
        if entry.pdq:
            self.index.remove([entry_id])
        self.features.remove([entry_id])
        self.generation += 1
        return entry

    def verdict(self, fp: Fingerprint, *, zone_id: int, customer_id: int | None) -> Verdict | None:
        """The closest bank entry covering this zone within the automatic-block distance, if any:
        what decides whether a copy is served. The review band is asked apart (``review``), after.

        An identical file matches on its SHA-256 whatever its PDQ quality; a weak image (no PDQ
        hashes) is never matched perceptually, so it can never be blocked on a weak hash.
        """
        # May run in a verdict thread while the loop changes the bank: sorted() copies the set in one
        # step under the GIL, and an entry removed meanwhile is skipped.
        found = None
        for entry_id in sorted(self.by_sha.get(fp.sha256, ())):
            entry = self.entries.get(entry_id)
            if entry is not None and entry.covers(zone_id=zone_id, customer_id=customer_id):
                found = Verdict(entry, 0, True, "block")
                break
        if found is None:
            found = self._closest(
                fp, zone_id=zone_id, customer_id=customer_id, radius=self.widest, blocking=True
            )
        if found is not None and self.allowed(fp.sha256, fp.pdq, zone_id=zone_id, customer_id=customer_id):
            return None  # licensed: served, and reported for review (``review``)
        return found

    def allowed(
        self, sha256: bytes, pdq: Iterable[bytes], *, zone_id: int, customer_id: int | None
    ) -> BankRecord | None:
        """The allowlisted image covering this zone that the copy is, or lies within the
        automatic-block distance of, if any."""
        if not self.allowed_entries:
            return None
        for entry_id in sorted(self.allow_sha.get(sha256, ())):
            entry = self.allowed_entries.get(entry_id)
            if entry is not None and entry.covers(zone_id=zone_id, customer_id=customer_id):
                return entry
        codes = list(pdq)
        if not codes:
            return None
        for match in self.allow_index.search(codes, radius=self.thresholds.auto_block):
            entry = self.allowed_entries.get(match.id)
            if entry is not None and entry.covers(zone_id=zone_id, customer_id=customer_id):
                return entry
        return None

    def allowed_copy(self, key: CacheKey, *, zone_id: int, customer_id: int | None) -> bool:
        """Is the cached copy under ``key`` an allowlisted image (so a new entry must not block it)?"""
        sha = self.cached.sha.get(key)
        if sha is None or not self.allowed_entries:
            return False
        codes = [self.cached.codes[row].tobytes() for row in self.cached.rows.get(key, ())]
        return self.allowed(sha, codes, zone_id=zone_id, customer_id=customer_id) is not None

    def review(self, fp: Fingerprint, *, zone_id: int, customer_id: int | None) -> Verdict | None:
        """The closest covering entry when it lies in the review band (beyond the automatic-block
        distance, within the review distance): a copy that is served and reported for a person."""
        radius = max(self.thresholds.review, self.widest)
        verdict = self._closest(fp, zone_id=zone_id, customer_id=customer_id, radius=radius)
        if verdict is None or verdict.outcome == "review":
            return verdict
        allowed = self.allowed(fp.sha256, fp.pdq, zone_id=zone_id, customer_id=customer_id)
        if allowed is not None:  # within blocking distance, but licensed
            return replace(verdict, outcome="review", allowed_by=allowed.entry_id)
        return None

    def after_serving(
        self,
        fp: Fingerprint,
        body: bytes,
        *,
        zone_id: int,
        customer_id: int | None,
        limits: ImageLimits | None = None,
    ) -> Verdict | None:
        """What is asked once a copy PDQ did not block has been served: a conclusive match of the
        second stage (a block, with its evidence), else the review band's closest entry, else None."""
        found = self.second_stage(fp, body, zone_id=zone_id, customer_id=customer_id, limits=limits)
        return found or self.review(fp, zone_id=zone_id, customer_id=customer_id)

    def second_stage(
        self,
        fp: Fingerprint,
        body: bytes,
        *,
        zone_id: int,
        customer_id: int | None,
        limits: ImageLimits | None = None,
    ) -> Verdict | None:
        """The covering entry the copy's local features match conclusively, if any. A weak copy
        (no PDQ hash) is too plain to be matched perceptually, here as in the first stage."""
        if not fp.pdq or not len(self.features):
            return None
        if self.allowed(fp.sha256, fp.pdq, zone_id=zone_id, customer_id=customer_id):
            return None
        try:
            luma = decode_luma(body, limits=limits or ImageLimits(), size=QUERY_SIZE)
        except ImageRejected:
            return None
        for evidence in self.features.search(luma):
            if not evidence.conclusive:
                break  # conclusive evidence comes first
            entry = self.entries.get(evidence.entry_id)
            if entry is None or not entry.covers(zone_id=zone_id, customer_id=customer_id):
                continue
            distance = min((hamming(a, b) for a in entry.pdq for b in fp.pdq), default=PDQ_BYTES * 8)
            # A work that tightened its distance asked for near-exact copies only to be blocked
            # on their own: what only the second stage finds of it goes to a person.
            outcome: Literal["block", "review"] = (
                "review" if self.auto_block(entry) < self.thresholds.auto_block else "block"
            )
            return Verdict(entry, distance, False, outcome, evidence)
        return None

    def auto_block(self, entry: BankRecord) -> int:
        """The automatic-block distance for copies of ``entry``: its work's own, else the global one."""
        return self.thresholds.auto_block if entry.auto_block is None else entry.auto_block

    def _closest(
        self, fp: Fingerprint, *, zone_id: int, customer_id: int | None, radius: int, blocking: bool = False
    ) -> Verdict | None:
        if not fp.pdq or not self.entries:
            return None
        for match in self.index.search(list(fp.pdq), radius=radius):
            candidate = self.entries.get(match.id)
            if candidate is None or not candidate.covers(zone_id=zone_id, customer_id=customer_id):
                continue
            auto = self.auto_block(candidate)
            outcome = classify(match.distance, Thresholds(auto, max(auto, self.thresholds.review)))
            if outcome == "none" or (blocking and outcome != "block"):
                continue  # a farther entry may block where this one (a tighter work) does not
            return Verdict(candidate, match.distance, False, outcome, part=_matching_part(fp, candidate))
        return None

    def sweep(self, entry: BankRecord) -> list[tuple[CacheKey, int, bool]]:
        """Cached copies of a new entry within the automatic-block distance: (key, distance, exact).
        An allowlisted image blocks nothing; the caller skips copies ``allowed_copy`` names."""
        if entry.allow:
            return []
        best: dict[CacheKey, tuple[int, bool]] = dict.fromkeys(self.cached.exact(entry.sha256), (0, True))
        for code in entry.pdq:
            for key, distance in self.cached.near(code, radius=self.auto_block(entry)):
                if key not in best or distance < best[key][0]:
                    best[key] = (distance, False)
        return sorted((key, distance, exact) for key, (distance, exact) in best.items())


def _matching_part(fp: Fingerprint, entry: BankRecord) -> str:
    """The part of the copy (of ``fp.parts``) whose hash lies nearest to the entry's."""
    nearest = min(
        range(len(fp.pdq)), key=lambda index: min(hamming(fp.pdq[index], code) for code in entry.pdq)
    )
    return fp.part_of(nearest)


def _distance(value: object) -> int | None:
    """An entry's own automatic-block distance from a feed record, if it carries a sane one."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= PDQ_BYTES * 8:
        return value
    return None
