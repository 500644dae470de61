"""The enforcement feed's records as typed values, shared by the control plane, the relay and the edge.

Dependency-free on purpose: an edge imports this without the control plane's ORM. One frozen type
per record kind; ``parse_record`` turns the JSON the feed serves into one of them (refusing a record
that lacks what its kind needs), and a consumer matches on the type instead of on a ``kind`` string.
A kind this version does not know parses to ``OtherRecord``, which an edge passes over (advancing its
sequence), so a control plane may add kinds before every edge knows them.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


class FeedKind(enum.StrEnum):
    """What an enforcement record tells the edges to do."""

    zone = "zone"
    block = "block"
    unblock = "unblock"
    hash_add = "hash_add"
    hash_remove = "hash_remove"
    purge = "purge"
    cert_set = "cert_set"
    cert_remove = "cert_remove"
    challenge_set = "challenge_set"
    challenge_remove = "challenge_remove"


class RecordInvalid(ValueError):
    """A feed record lacks a field its kind needs, or carries one of the wrong type."""


def _int(document: Mapping[str, Any], name: str) -> int:
    value = document.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordInvalid(f"feed record field {name!r} must be an integer, not {value!r}")
    return value


def _opt_int(document: Mapping[str, Any], name: str) -> int | None:
    value = document.get(name)
    return None if value is None else _int(document, name)


def _str(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str):
        raise RecordInvalid(f"feed record field {name!r} must be a string, not {value!r}")
    return value


def _opt_str(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    return None if value is None else _str(document, name)


def _opt_float(document: Mapping[str, Any], name: str) -> float | None:
    value = document.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordInvalid(f"feed record field {name!r} must be a number, not {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class ZoneRecord:
    """A zone as the edges serve it: its hostnames, origin, status and own rate limit."""

    kind: ClassVar[FeedKind] = FeedKind.zone
    seq: int
    zone_id: int
    customer_id: int | None
    hostnames: tuple[str, ...]
    origin: str
    status: str
    reason: str | None = None
    rate_per_second: float | None = None
    rate_burst: float | None = None
    https_redirect: bool = False
    hsts_max_age: int | None = None

    @classmethod
    def from_document(cls, d: Mapping[str, Any]) -> ZoneRecord:
        hostnames = d.get("hostnames") or ()
        if not isinstance(hostnames, list | tuple) or not all(isinstance(h, str) for h in hostnames):
            raise RecordInvalid(f"zone record hostnames must be strings, not {hostnames!r}")
        return cls(
            seq=_int(d, "seq"),
            zone_id=_int(d, "zone_id"),
            customer_id=_opt_int(d, "customer_id"),
            hostnames=tuple(hostnames),
            origin=_opt_str(d, "origin") or "",
            status=_str(d, "status"),
            reason=_opt_str(d, "reason"),
            rate_per_second=_opt_float(d, "rate_per_second"),
            rate_burst=_opt_float(d, "rate_burst"),
            https_redirect=bool(d.get("https_redirect")),
            hsts_max_age=_opt_int(d, "hsts_max_age"),
        )


@dataclass(frozen=True, slots=True)
class BlockRecord:
    """Block one resource (``target``: canonical path and query) in a zone."""

    kind: ClassVar[FeedKind] = FeedKind.block
    seq: int
    zone_id: int
    target: str
    notice_id: int | None = None
    item_id: int | None = None
    url: str | None = None
    reason: str | None = None

    @classmethod
    def from_document(cls, d: Mapping[str, Any]) -> BlockRecord:
        return cls(
            seq=_int(d, "seq"),
            zone_id=_int(d, "zone_id"),
            target=_str(d, "target"),
            notice_id=_opt_int(d, "notice_id"),
            item_id=_opt_int(d, "item_id"),
            url=_opt_str(d, "url"),
            reason=_opt_str(d, "reason"),
        )


@dataclass(frozen=True, slots=True)
class UnblockRecord:
    """Lift a block; ``staydown_exempt`` also clears the resource of stay-down (a dismissed match)."""

    kind: ClassVar[FeedKind] = FeedKind.unblock
    seq: int
    zone_id: int
    target: str
    notice_id: int | None = None
    item_id: int | None = None
    url: str | None = None
    reason: str | None = None
    staydown_exempt: bool = False

    @classmethod
    def from_document(cls, d: Mapping[str, Any]) -> UnblockRecord:
        return cls(
            seq=_int(d, "seq"),
            zone_id=_int(d, "zone_id"),
            target=_str(d, "target"),
            notice_id=_opt_int(d, "notice_id"),
            item_id=_opt_int(d, "item_id"),
            url=_opt_str(d, "url"),
            reason=_opt_str(d, "reason"),
            staydown_exempt=bool(d.get("staydown_exempt")),
        )


@dataclass(frozen=True, slots=True)
class PurgeRecord:
    """Drop a resource from every edge's cache (without blocking it)."""

    kind: ClassVar[FeedKind] = FeedKind.purge
    seq: int
    zone_id: int
    target: str
    notice_id: int | None = None
    item_id: int | None = None

    @classmethod
    def from_document(cls, d: Mapping[str, Any]) -> PurgeRecord:
        return cls(
            seq=_int(d, "seq"),
            zone_id=_int(d, "zone_id"),
            target=_str(d, "target"),
            notice_id=_opt_int(d, "notice_id"),
            item_id=_opt_int(d, "item_id"),
        )


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


@dataclass(frozen=True, slots=True)
class HashAddRecord:
    """A stay-down bank entry: SHA-256 and PDQ hashes (hex), and where the entry reaches."""

    kind: ClassVar[FeedKind] = FeedKind.hash_add
    seq: int
    entry_id: int
    scope: str
    sha256: str
    pdq: tuple[str, ...]
    scope_zone_id: int | None = None
    scope_customer_id: int | None = None
    notice_id: int | None = None
    work_id: int | None = None
    features: str | None = None  # base64 of the entry's local features (the second stage), if any
    source: str = "notice"  # "notice" | "reference" | "allowlist" (licensed: never blocked)
    auto_block_distance: int | None = None  # the entry's own automatic-block distance, if its work set one

    @classmethod
    def from_document(cls, d: Mapping[str, Any]) -> HashAddRecord:
        pdq = d.get("pdq") or ()
        if not isinstance(pdq, list | tuple) or not all(isinstance(h, str) for h in pdq):
            raise RecordInvalid(f"hash_add record pdq must be hex strings, not {pdq!r}")
        return cls(
            seq=_int(d, "seq"),
            entry_id=_int(d, "entry_id"),
            scope=_str(d, "scope"),
            sha256=_str(d, "sha256"),
            pdq=tuple(pdq),
            scope_zone_id=_opt_int(d, "scope_zone_id"),
            scope_customer_id=_opt_int(d, "scope_customer_id"),
            notice_id=_opt_int(d, "notice_id"),
            work_id=_opt_int(d, "work_id"),
            features=_opt_str(d, "features"),
            source=_opt_str(d, "source") or "notice",
            auto_block_distance=_opt_int(d, "auto_block_distance"),
        )

    def bank_entry(self) -> dict[str, Any]:
        """The entry as an edge keeps it (and as snapshots carry it)."""
        return {
            "entry_id": self.entry_id,
            "scope": self.scope,
            "scope_zone_id": self.scope_zone_id,
            "scope_customer_id": self.scope_customer_id,
            "notice_id": self.notice_id,
            "work_id": self.work_id,
            "sha256": self.sha256,
            "pdq": list(self.pdq),
            "features": self.features,
            "source": self.source,
            "auto_block_distance": self.auto_block_distance,
        }


@dataclass(frozen=True, slots=True)
class HashRemoveRecord:
    """Take a bank entry out of service."""

    kind: ClassVar[FeedKind] = FeedKind.hash_remove
    seq: int
    entry_id: int

    @classmethod
    def from_document(cls, d: Mapping[str, Any]) -> HashRemoveRecord:
        return cls(seq=_int(d, "seq"), entry_id=_int(d, "entry_id"))


def _names(document: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = document.get(name) or ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise RecordInvalid(f"feed record field {name!r} must be a list of strings, not {value!r}")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class CertSetRecord:
    """Serve a certificate for a zone's hostnames by SNI (replacing the zone's previous one).

    ``chain_pem`` is the leaf then its intermediates; ``key_sealed`` is the private key sealed for
    the edges (``certseal.seal``), never the key itself; ``source`` is ``acme``, ``upload`` or ``demo``.
    """

    kind: ClassVar[FeedKind] = FeedKind.cert_set
    seq: int
    cert_id: int
    zone_id: int
    hostnames: tuple[str, ...]
    chain_pem: str
    key_sealed: str
    not_after: str
    source: str = "acme"
    ocsp_der_b64: str | None = None

    @classmethod
    def from_document(cls, d: Mapping[str, Any]) -> CertSetRecord:
        return cls(
            seq=_int(d, "seq"),
            cert_id=_int(d, "cert_id"),
            zone_id=_int(d, "zone_id"),
            hostnames=_names(d, "hostnames"),
            chain_pem=_str(d, "chain_pem"),
            key_sealed=_str(d, "key_sealed"),
            not_after=_str(d, "not_after"),
            source=_opt_str(d, "source") or "acme",
            ocsp_der_b64=_opt_str(d, "ocsp_der_b64"),
        )


@dataclass(frozen=True, slots=True)
class CertRemoveRecord:
    """Stop serving a zone's certificate (the zone was suspended, terminated or deleted)."""

    kind: ClassVar[FeedKind] = FeedKind.cert_remove
    seq: int
    cert_id: int
    zone_id: int

    @classmethod
    def from_document(cls, d: Mapping[str, Any]) -> CertRemoveRecord:
        return cls(seq=_int(d, "seq"), cert_id=_int(d, "cert_id"), zone_id=_int(d, "zone_id"))


@dataclass(frozen=True, slots=True)
class ChallengeSetRecord:
    """An ACME challenge the edges answer for a pending order.

    ``http-01``: ``/.well-known/acme-challenge/<token>`` on ``hostname`` answers ``key_authorization``.
    ``tls-alpn-01``: a handshake for ``hostname`` offering ALPN ``acme-tls/1`` gets ``chain_pem`` with
    the key ``key_sealed`` (RFC 8737).
    """

    kind: ClassVar[FeedKind] = FeedKind.challenge_set
    seq: int
    challenge_type: str
    hostname: str
    token: str
    key_authorization: str
    chain_pem: str | None = None
    key_sealed: str | None = None

    @classmethod
    def from_document(cls, d: Mapping[str, Any]) -> ChallengeSetRecord:
        challenge_type = _str(d, "challenge_type")
        if challenge_type not in ("http-01", "tls-alpn-01"):
            raise RecordInvalid(f"challenge type must be http-01 or tls-alpn-01, not {challenge_type!r}")
        return cls(
            seq=_int(d, "seq"),
            challenge_type=challenge_type,
            hostname=_str(d, "hostname"),
            token=_str(d, "token"),
            key_authorization=_str(d, "key_authorization"),
            chain_pem=_opt_str(d, "chain_pem"),
            key_sealed=_opt_str(d, "key_sealed"),
        )


@dataclass(frozen=True, slots=True)
class ChallengeRemoveRecord:
    """The order is done: stop answering its challenge."""

    kind: ClassVar[FeedKind] = FeedKind.challenge_remove
    seq: int
    hostname: str
    token: str

    @classmethod
    def from_document(cls, d: Mapping[str, Any]) -> ChallengeRemoveRecord:
        return cls(seq=_int(d, "seq"), hostname=_str(d, "hostname"), token=_str(d, "token"))


@dataclass(frozen=True, slots=True)
class OtherRecord:
    """A kind this version does not know: its sequence is applied, its content passed over."""

    seq: int
    name: str


FeedRecord = (
    ZoneRecord
    | BlockRecord
    | UnblockRecord
    | PurgeRecord
    | HashAddRecord
    | HashRemoveRecord
    | CertSetRecord
    | CertRemoveRecord
    | ChallengeSetRecord
    | ChallengeRemoveRecord
    | OtherRecord
)

_TYPES: dict[str, Any] = {
    FeedKind.zone.value: ZoneRecord,
    FeedKind.block.value: BlockRecord,
    FeedKind.unblock.value: UnblockRecord,
    FeedKind.purge.value: PurgeRecord,
    FeedKind.hash_add.value: HashAddRecord,
    FeedKind.hash_remove.value: HashRemoveRecord,
    FeedKind.cert_set.value: CertSetRecord,
    FeedKind.cert_remove.value: CertRemoveRecord,
    FeedKind.challenge_set.value: ChallengeSetRecord,
    FeedKind.challenge_remove.value: ChallengeRemoveRecord,
}


def parse_record(document: Mapping[str, Any]) -> FeedRecord:
    """The typed record a feed document holds."""
    kind = document.get("kind")
    if not isinstance(kind, str):
        raise RecordInvalid(f"feed record without a kind: {document.get('seq')!r}")
    record_type = _TYPES.get(kind)
    if record_type is None:
        return OtherRecord(seq=_int(document, "seq"), name=kind)
    record: FeedRecord = record_type.from_document(document)
    return record


@dataclass(frozen=True)
class StreamNames:
    """Where the feed lives in NATS JetStream (settings ``nats_stream``, ``nats_subject``,
    ``nats_heartbeat_subject``): one stream, one subject for records, one for edges' heartbeats."""

    stream: str = "STAYDOWN_FEED"
    subject: str = "staydown.feed"
    heartbeats: str = "staydown.edges"


# An edge following NATS signs its heartbeats with its key, so the registry can refuse a revoked or
# unknown one as it refuses that key's feed requests. The key itself never travels: the signature
# is an HMAC keyed with the digest the control plane keeps of the key, and the heartbeat names the
# key by a further digest of that, which reveals neither.
HEARTBEAT_SIGNATURE = "Staydown-Signature"


def key_digest(secret: str) -> str:
    """The digest the control plane keeps of an API key (``accounts.service.hash_key``)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def heartbeat_key_id(digest: str) -> str:
    """The name a heartbeat gives the key it is signed with."""
    return hashlib.sha256(b"staydown heartbeat key\x00" + digest.encode("ascii")).hexdigest()[:32]


def heartbeat_signature(digest: str, body: bytes) -> str:
    """The signature of a heartbeat's exact bytes with the key of ``digest``."""
    return hmac.new(digest.encode("ascii"), body, hashlib.sha256).hexdigest()
