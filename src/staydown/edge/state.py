"""What an edge enforces: the zones it serves and the resources blocked in them, built only from
the enforcement feed, and kept on local disk so a restart enforces before its first connection.

``EnforcementState.apply`` is pure bookkeeping over feed records. ``LocalStore`` makes it durable:
records are appended (and fsynced) to a log before the edge acknowledges them by asking for the
next page, and the log is compacted into an atomically replaced snapshot.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from staydown.urls import block_key

SERVED = "active"
BANK_FIELDS = (
    "entry_id",
    "scope",
    "scope_zone_id",
    "scope_customer_id",
    "notice_id",
    "work_id",
    "sha256",
    "pdq",
    "features",
    "source",
    "auto_block_distance",
)


@dataclass(slots=True)
class ZoneState:
    zone_id: int
    customer_id: int | None
    hostnames: tuple[str, ...]
    origin: str
    status: str
    reason: str | None = None
    rate_per_second: float | None = None  # per client address; None: the edge's default
    rate_burst: float | None = None


@dataclass(slots=True)
class EnforcementState:
    """Zones by hostname and blocked targets by zone, as of feed sequence ``seq``.

    Blocks are kept under their :func:`~staydown.urls.block_key`, so every spelling an origin
    would map to a blocked resource finds it. Where a block's target is not its own key, or several
    blocked targets share one key, ``spellings`` remembers each target, so that lifting one block
    leaves the others standing."""

    seq: int = 0
    zones: dict[int, ZoneState] = field(default_factory=dict)
    hosts: dict[str, ZoneState] = field(default_factory=dict)
    blocks: dict[int, dict[str, int | None]] = field(default_factory=dict)  # zone -> key -> notice id
    spellings: dict[int, dict[str, dict[str, int | None]]] = field(default_factory=dict)
    bank: dict[int, dict[str, Any]] = field(default_factory=dict)  # entry id -> its hash_add record
    exempt: dict[int, set[str]] = field(default_factory=dict)  # zone -> keys cleared of stay-down

    def apply(self, record: dict[str, Any]) -> tuple[str, int | None, str | None]:
        """Apply one feed record; return (kind, zone id, target) so the caller can purge."""
        seq = int(record["seq"])
        if seq != self.seq + 1:
            raise ValueError(f"feed record {seq} does not follow {self.seq}")
        kind = record["kind"]
        zone_id: int | None = record.get("zone_id")
        target: str | None = record.get("target")
        if kind == "zone":
            self._apply_zone(record)
        elif kind == "block" and zone_id is not None and target is not None:
            self._block(zone_id, target, record.get("notice_id"))
            self.exempt.get(zone_id, set()).discard(block_key(target))
        elif kind == "unblock" and zone_id is not None and target is not None:
            self._unblock(zone_id, target)
            if record.get("staydown_exempt"):  # an agent found this copy was not one
                self.exempt.setdefault(zone_id, set()).add(block_key(target))
        elif kind == "hash_add":
            self.bank[int(record["entry_id"])] = {k: record[k] for k in BANK_FIELDS if k in record}
        elif kind == "hash_remove":
            self.bank.pop(int(record["entry_id"]), None)
        self.seq = seq
        return kind, zone_id, target

    def _block(self, zone_id: int, target: str, notice_id: int | None) -> None:
        key = block_key(target)
        blocks = self.blocks.setdefault(zone_id, {})
        spellings = self.spellings.setdefault(zone_id, {})
        if target == key and key not in spellings:
            blocks[key] = notice_id  # the common case: the target is its own key
            return
        targets = spellings.setdefault(key, {})
        if key in blocks and not targets:
            targets[key] = blocks[key]  # blocked before under the key itself
        targets[target] = notice_id
        blocks[key] = notice_id

    def _unblock(self, zone_id: int, target: str) -> None:
        key = block_key(target)
        blocks = self.blocks.get(zone_id)
        if not blocks:
            return
        targets = self.spellings.get(zone_id, {}).get(key)
        if targets is None:
            if target == key:
                blocks.pop(key, None)
            return  # a spelling that was never blocked lifts nothing
        targets.pop(target, None)
        if targets:
            blocks[key] = next(reversed(targets.values()))
        else:
            blocks.pop(key, None)
            del self.spellings[zone_id][key]

    def blocked_targets(self) -> Iterable[tuple[int, str, int | None]]:
        """Every blocked target as the feed named it: (zone id, target, notice id)."""
        for zone_id, blocks in self.blocks.items():
            spellings = self.spellings.get(zone_id, {})
            for key, notice_id in blocks.items():
                if key in spellings:
                    for target, notice in spellings[key].items():
                        yield zone_id, target, notice
                else:
                    yield zone_id, key, notice_id

    def _apply_zone(self, record: dict[str, Any]) -> None:
        zone_id = int(record["zone_id"])
        previous = self.zones.get(zone_id)
        if previous is not None:
            for host in previous.hostnames:
                if self.hosts.get(host) is previous:
                    del self.hosts[host]
        zone = ZoneState(
            zone_id=zone_id,
            customer_id=record.get("customer_id"),
            hostnames=tuple(record.get("hostnames") or ()),
            origin=str(record.get("origin") or ""),
            status=str(record["status"]),
            reason=record.get("reason"),
            rate_per_second=record.get("rate_per_second"),
            rate_burst=record.get("rate_burst"),
        )
        self.zones[zone_id] = zone
        for host in zone.hostnames:
            self.hosts[host] = zone

    def exempted(self, zone_id: int, target: str) -> bool:
        """Has an agent cleared this resource of stay-down (a dismissed match)?"""
        keys = self.exempt.get(zone_id)
        if not keys:
            return False
        key = block_key(target)
        return key in keys or key.partition("?")[0] in keys

    def blocked(self, zone_id: int, target: str) -> tuple[bool, int | None]:
        """Is ``target`` (canonical) blocked in the zone, under any spelling that reaches the same
        resource? A block on a path without a query covers every query."""
        zone_blocks = self.blocks.get(zone_id)
        if not zone_blocks:
            return False, None
        key = block_key(target)
        if key in zone_blocks:
            return True, zone_blocks[key]
        path, sep, _query = key.partition("?")
        if sep and path in zone_blocks:
            return True, zone_blocks[path]
        return False, None

    def to_document(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "zones": [
                {
                    "zone_id": z.zone_id,
                    "customer_id": z.customer_id,
                    "hostnames": list(z.hostnames),
                    "origin": z.origin,
                    "status": z.status,
                    "reason": z.reason,
                    "rate_per_second": z.rate_per_second,
                    "rate_burst": z.rate_burst,
                }
                for z in self.zones.values()
            ],
            "blocks": [list(block) for block in self.blocked_targets()],
            "bank": list(self.bank.values()),
            "exempt": [[zone_id, target] for zone_id, targets in self.exempt.items() for target in targets],
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> EnforcementState:
        state = cls()
        for zone in document.get("zones", []):
            state._apply_zone(zone)
        for zone_id, target, notice in document.get("blocks", []):
            state._block(int(zone_id), target, notice)
        for entry in document.get("bank", []):
            state.bank[int(entry["entry_id"])] = entry
        for zone_id, target in document.get("exempt", []):
            state.exempt.setdefault(int(zone_id), set()).add(block_key(target))
        state.seq = int(document.get("seq", 0))
        return state


class LocalStore:
    """An edge's durable copy of the feed: ``snapshot.json`` plus ``feed.log`` (JSON lines)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.snapshot_path = directory / "snapshot.json"
        self.log_path = directory / "feed.log"
        directory.mkdir(parents=True, exist_ok=True)

    def load(self) -> EnforcementState:
        """Rebuild the state from the snapshot and the log written after it."""
        state = EnforcementState()
        if self.snapshot_path.exists():
            state = EnforcementState.from_document(json.loads(self.snapshot_path.read_text("utf-8")))
        if self.log_path.exists():
            with self.log_path.open("r", encoding="utf-8") as log:
                for line in log:
                    if not line.endswith("\n"):
                        break  # a torn last line: it was never acknowledged to the feed
                    record = json.loads(line)
                    if int(record["seq"]) > state.seq:
                        state.apply(record)
        return state

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Make records durable before they are acknowledged."""
        lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        if not lines:
            return
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(lines)
            log.flush()
            os.fsync(log.fileno())

    def compact(self, state: EnforcementState) -> None:
        """Write the whole state atomically, then start an empty log."""
        tmp = self.snapshot_path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            json.dump(state.to_document(), out, separators=(",", ":"))
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(self.snapshot_path)
        with self.log_path.open("w", encoding="utf-8") as log:
            log.flush()
            os.fsync(log.fileno())
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
