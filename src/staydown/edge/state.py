"""What an edge enforces: the zones it serves and the resources blocked in them, built only from
the enforcement feed, and kept on local disk so a restart enforces before its first connection.

``EnforcementState.apply`` is pure bookkeeping over feed records. ``LocalStore`` makes it durable:
records are appended (and fsynced) to a log before the edge acknowledges them by asking for the
next page, and the log is compacted into an atomically replaced snapshot.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from staydown.feedrecords import (
    BANK_FIELDS,
    BlockRecord,
    CertRemoveRecord,
    CertSetRecord,
    ChallengeRemoveRecord,
    ChallengeSetRecord,
    FeedRecord,
    HashAddRecord,
    HashRemoveRecord,
    OtherRecord,
    PurgeRecord,
    UnblockRecord,
    ZoneRecord,
    parse_record,
)
from staydown.urls import block_key

__all__ = [
    "BANK_FIELDS",
    "EnforcementState",
    "GzipLines",
    "LocalStore",
    "SnapshotLoader",
    "ZoneState",
    "paused_gc",
    "read_snapshot",
    "snapshot_gzip",
    "snapshot_lines",
]

SERVED = "active"


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
    https_redirect: bool = False  # plain HTTP requests are redirected to HTTPS
    hsts_max_age: int | None = None  # Strict-Transport-Security on HTTPS responses, when set


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
    certs: dict[int, CertSetRecord] = field(default_factory=dict)  # zone -> the certificate it serves
    # Pending ACME challenges: http-01 by (hostname, token), tls-alpn-01 by hostname.
    http_challenges: dict[tuple[str, str], ChallengeSetRecord] = field(default_factory=dict)
    alpn_challenges: dict[str, ChallengeSetRecord] = field(default_factory=dict)

    def apply(self, record: Mapping[str, Any] | FeedRecord) -> tuple[str, int | None, str | None]:
        """Apply one feed record; return (kind, zone id, target) so the caller can purge."""
        typed = parse_record(record) if isinstance(record, Mapping) else record
        if typed.seq != self.seq + 1:
            raise ValueError(f"feed record {typed.seq} does not follow {self.seq}")
        outcome: tuple[str, int | None, str | None]
        match typed:
            case ZoneRecord():
                self._apply_zone(typed)
                outcome = (typed.kind.value, typed.zone_id, None)
            case BlockRecord():
                self._block(typed.zone_id, typed.target, typed.notice_id)
                self.exempt.get(typed.zone_id, set()).discard(block_key(typed.target))
                outcome = (typed.kind.value, typed.zone_id, typed.target)
            case UnblockRecord():
                self._unblock(typed.zone_id, typed.target)
                if typed.staydown_exempt:  # an agent found this copy was not one
                    self.exempt.setdefault(typed.zone_id, set()).add(block_key(typed.target))
                outcome = (typed.kind.value, typed.zone_id, typed.target)
            case PurgeRecord():
                outcome = (typed.kind.value, typed.zone_id, typed.target)
            case HashAddRecord():
                self.bank[typed.entry_id] = typed.bank_entry()
                outcome = (typed.kind.value, None, None)
            case HashRemoveRecord():
                self.bank.pop(typed.entry_id, None)
                outcome = (typed.kind.value, None, None)
            case CertSetRecord() | CertRemoveRecord() | ChallengeSetRecord() | ChallengeRemoveRecord():
                outcome = self._apply_tls(typed)
            case OtherRecord():
                outcome = (typed.name, None, None)
        self.seq = typed.seq
        return outcome

    def _apply_tls(
        self, record: CertSetRecord | CertRemoveRecord | ChallengeSetRecord | ChallengeRemoveRecord
    ) -> tuple[str, int | None, str | None]:
        """Hold a certificate or challenge record (the edge's certificate store serves them)."""
        match record:
            case CertSetRecord():
                self.certs[record.zone_id] = record
                return record.kind.value, record.zone_id, None
            case CertRemoveRecord():
                current = self.certs.get(record.zone_id)
                if current is not None and current.cert_id == record.cert_id:
                    del self.certs[record.zone_id]
                return record.kind.value, record.zone_id, None
            case ChallengeSetRecord():
                self._set_challenge(record)
            case ChallengeRemoveRecord():
                self._remove_challenge(record.hostname, record.token)
        return record.kind.value, None, None

    def _set_challenge(self, record: ChallengeSetRecord) -> None:
        hostname = record.hostname.lower().rstrip(".")
        if record.challenge_type == "tls-alpn-01":
            self.alpn_challenges[hostname] = record
        else:
            self.http_challenges[(hostname, record.token)] = record

    def _remove_challenge(self, hostname: str, token: str) -> None:
        hostname = hostname.lower().rstrip(".")
        self.http_challenges.pop((hostname, token), None)
        alpn = self.alpn_challenges.get(hostname)
        if alpn is not None and alpn.token == token:
            del self.alpn_challenges[hostname]

    def challenges(self) -> Iterator[ChallengeSetRecord]:
        """Every pending ACME challenge."""
        yield from self.http_challenges.values()
        yield from self.alpn_challenges.values()

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

    def _apply_zone(self, record: ZoneRecord) -> None:
        previous = self.zones.get(record.zone_id)
        if previous is not None:
            for host in previous.hostnames:
                if self.hosts.get(host) is previous:
                    del self.hosts[host]
        zone = ZoneState(
            zone_id=record.zone_id,
            customer_id=record.customer_id,
            hostnames=record.hostnames,
            origin=record.origin,
            status=record.status,
            reason=record.reason,
            rate_per_second=record.rate_per_second,
            rate_burst=record.rate_burst,
            https_redirect=record.https_redirect,
            hsts_max_age=record.hsts_max_age,
        )
        self.zones[record.zone_id] = zone
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
            "zones": [_zone_document(z) for z in self.zones.values()],
            "blocks": [list(block) for block in self.blocked_targets()],
            "bank": list(self.bank.values()),
            "exempt": [[zone_id, target] for zone_id, targets in self.exempt.items() for target in targets],
            "certs": [_record_document(c) for c in self.certs.values()],
            "challenges": [_record_document(c) for c in self.challenges()],
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> EnforcementState:
        state = cls()
        for zone in document.get("zones", []):
            state._apply_zone(ZoneRecord.from_document({**zone, "seq": 0}))
        for zone_id, target, notice in document.get("blocks", []):
            state._block(int(zone_id), target, notice)
        for stored in document.get("bank", []):
            entry = stored if isinstance(stored, dict) else dict(zip(BANK_FIELDS, stored, strict=True))
            state.bank[int(entry["entry_id"])] = entry
        for zone_id, target in document.get("exempt", []):
            state.exempt.setdefault(int(zone_id), set()).add(block_key(target))
        state._load_tls(document.get("certs", []), document.get("challenges", []))
        state.seq = int(document.get("seq", 0))
        return state

    def _load_tls(self, certs: Iterable[dict[str, Any]], challenges: Iterable[dict[str, Any]]) -> None:
        for cert in certs:
            record = CertSetRecord.from_document({**cert, "seq": 0})
            self.certs[record.zone_id] = record
        for challenge in challenges:
            self._set_challenge(ChallengeSetRecord.from_document({**challenge, "seq": 0}))


SNAPSHOT_FORMAT = 1
_CHUNK = 10_000


def snapshot_lines(state: EnforcementState) -> Iterator[bytes]:
    """The state as a snapshot: JSON lines, each section in chunks, closed by the counts it held.

    Blocks and bank entries are arrays rather than objects (a third of the bytes); the closing line
    lets a reader tell a complete snapshot from a truncated one."""

    def line(document: dict[str, Any]) -> bytes:
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"

    yield line({"snapshot": SNAPSHOT_FORMAT, "seq": state.seq, "bank_fields": list(BANK_FIELDS)})
    counts = {"zones": 0, "blocks": 0, "bank": 0, "exempt": 0, "certs": 0, "challenges": 0}
    sections: dict[str, Iterable[list[Any] | dict[str, Any]]] = {
        "zones": (_zone_document(zone) for zone in state.zones.values()),
        "blocks": ([zone_id, target, notice] for zone_id, target, notice in state.blocked_targets()),
        "bank": ([entry.get(name) for name in BANK_FIELDS] for entry in state.bank.values()),
        "exempt": ([zone_id, key] for zone_id, keys in state.exempt.items() for key in keys),
        "certs": (_record_document(cert) for cert in state.certs.values()),
        "challenges": (_record_document(challenge) for challenge in state.challenges()),
    }
    for name, entries in sections.items():
        chunk: list[Any] = []
        for entry in entries:
            chunk.append(entry)
            if len(chunk) >= _CHUNK:
                counts[name] += len(chunk)
                yield line({name: chunk})
                chunk = []
        if chunk:
            counts[name] += len(chunk)
            yield line({name: chunk})
    yield line({"end": state.seq, **counts})


def snapshot_gzip(state: EnforcementState) -> bytes:
    """The snapshot of ``state``, gzip-compressed at the fastest level (what is served and stored)."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip framing
    parts = [compressor.compress(line) for line in snapshot_lines(state)]
    parts.append(compressor.flush())
    return b"".join(parts)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a large state is built.

    A state of a million blocks and bank entries is millions of new objects, none of them garbage;
    each collection of the oldest generation would walk them all again, and that made up most of a
    snapshot's load. Reference counting still frees everything meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class GzipLines:
    """Split a gzip-compressed stream of JSON lines into lines, chunk by chunk as it arrives."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(31)
        self._rest = b""

    def push(self, chunk: bytes) -> list[bytes]:
        data = self._rest + self._inflate.decompress(chunk)
        lines = data.split(b"\n")
        self._rest = lines.pop()
        return [line for line in lines if line]

    def close(self) -> list[bytes]:
        data = self._rest + self._inflate.flush()
        self._rest = b""
        if not self._inflate.eof:
            raise SnapshotIncomplete("the compressed snapshot ended early")
        return [line for line in data.split(b"\n") if line]


def read_snapshot(chunks: Iterable[bytes]) -> EnforcementState:
    """The state a gzip-compressed snapshot holds, read from its chunks in turn."""
    loader, lines = SnapshotLoader(), GzipLines()
    for chunk in chunks:
        for line in lines.push(chunk):
            loader.feed(line)
    for line in lines.close():
        loader.feed(line)
    return loader.finish()


class SnapshotIncomplete(ValueError):
    """A snapshot ended early or disagreed with its own counts."""


def _snapshot_seq(document: dict[str, Any]) -> int:
    """The sequence a snapshot's opening line names."""
    if document.get("snapshot") != SNAPSHOT_FORMAT:
        raise SnapshotIncomplete(f"not a snapshot of format {SNAPSHOT_FORMAT}")
    return int(document["seq"])


class SnapshotLoader:
    """Build an ``EnforcementState`` from snapshot lines as they arrive (see ``snapshot_lines``)."""

    def __init__(self) -> None:
        self.state = EnforcementState()
        self.seq: int | None = None
        self.counts = {"zones": 0, "blocks": 0, "bank": 0, "exempt": 0, "certs": 0, "challenges": 0}
        self.done = False

    def feed(self, raw: bytes | str) -> None:
        document = json.loads(raw)
        if self.seq is None:
            self.seq = _snapshot_seq(document)
            return
        state = self.state
        if "end" in document:
            self._end(document)
        elif "zones" in document:
            for zone in document["zones"]:
                state._apply_zone(ZoneRecord.from_document({**zone, "seq": 0}))
            self.counts["zones"] += len(document["zones"])
        elif "blocks" in document:
            for zone_id, target, notice in document["blocks"]:
                state._block(int(zone_id), target, notice)
            self.counts["blocks"] += len(document["blocks"])
        elif "bank" in document:
            for values in document["bank"]:
                entry = dict(zip(BANK_FIELDS, values, strict=True))
                state.bank[int(entry["entry_id"])] = entry
            self.counts["bank"] += len(document["bank"])
        elif "exempt" in document:
            for zone_id, key in document["exempt"]:
                state.exempt.setdefault(int(zone_id), set()).add(key)
            self.counts["exempt"] += len(document["exempt"])
        elif "certs" in document or "challenges" in document:
            state._load_tls(document.get("certs", ()), document.get("challenges", ()))
            for name in ("certs", "challenges"):
                self.counts[name] += len(document.get(name, ()))

    def _end(self, document: dict[str, Any]) -> None:
        counts = self.counts.items()  # a section a snapshot does not count, it does not hold
        if int(document["end"]) != self.seq or any(document.get(k, 0) != v for k, v in counts):
            raise SnapshotIncomplete(f"snapshot counts {self.counts} disagree with {document}")
        self.done = True

    def finish(self) -> EnforcementState:
        if not self.done or self.seq is None:
            raise SnapshotIncomplete("the snapshot ended before its closing line")
        self.state.seq = self.seq
        return self.state


def _zone_document(z: ZoneState) -> dict[str, Any]:
    return {
        "zone_id": z.zone_id,
        "customer_id": z.customer_id,
        "hostnames": list(z.hostnames),
        "origin": z.origin,
        "status": z.status,
        "reason": z.reason,
        "rate_per_second": z.rate_per_second,
        "rate_burst": z.rate_burst,
        "https_redirect": z.https_redirect,
        "hsts_max_age": z.hsts_max_age,
    }


def _record_document(record: CertSetRecord | ChallengeSetRecord) -> dict[str, Any]:
    """A certificate or challenge record as snapshots carry it (its key still sealed), less its seq."""
    document = {f.name: getattr(record, f.name) for f in fields(record) if f.name != "seq"}
    if isinstance(record, CertSetRecord):
        document["hostnames"] = list(record.hostnames)
    return document


class LocalStore:
    """An edge's durable copy of the feed: ``snapshot.ndjson.gz`` (a snapshot, in the form the
    control plane serves it) plus ``feed.log`` (JSON lines of the records applied since)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.snapshot_path = directory / "snapshot.ndjson.gz"
        self.legacy_path = directory / "snapshot.json"  # what earlier versions compacted into
        self.log_path = directory / "feed.log"
        directory.mkdir(parents=True, exist_ok=True)

    def load(self) -> EnforcementState:
        """Rebuild the state from the snapshot and the log written after it."""
        state = EnforcementState()
        with paused_gc():
            if self.snapshot_path.exists():
                state = self._read_snapshot()
            elif self.legacy_path.exists():
                state = EnforcementState.from_document(json.loads(self.legacy_path.read_text("utf-8")))
            if self.log_path.exists():
                with self.log_path.open("r", encoding="utf-8") as log:
                    for line in log:
                        if not line.endswith("\n"):
                            break  # a torn last line: it was never acknowledged to the feed
                        record = json.loads(line)
                        if int(record["seq"]) > state.seq:
                            state.apply(record)
        return state

    def _read_snapshot(self) -> EnforcementState:
        with self.snapshot_path.open("rb") as stored:
            return read_snapshot(iter(lambda: stored.read(1 << 20), b""))

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
        self.install(snapshot_gzip(state))

    def install(self, gzipped: bytes) -> None:
        """Keep ``gzipped`` (a snapshot as ``snapshot_gzip`` makes it, or as the control plane sent
        it) as the state, atomically, and start an empty log: no encoding of what arrived encoded."""
        tmp = self.snapshot_path.with_suffix(".tmp")
        with tmp.open("wb") as out:
            out.write(gzipped)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(self.snapshot_path)
        with self.log_path.open("w", encoding="utf-8") as log:
            log.flush()
            os.fsync(log.fileno())
        self.legacy_path.unlink(missing_ok=True)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
