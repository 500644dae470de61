"""Customers, identity verification, zones, domain-control validation and API keys.

Every change of a zone's status or hostnames is written to the enforcement log as a ``zone``
record in the same transaction, so the edges start or stop serving it from that record alone.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, object_session, selectinload

from staydown.accounts import dcv
from staydown.accounts.flows import (
    ZONE_TRANSITIONS,
    ZoneEvent,
    activation_blockers,
    risk_flags,
    zone_transition,
)
from staydown.accounts.models import (
    ApiKey,
    Customer,
    Standing,
    VerificationDecision,
    VerificationEvidence,
    Zone,
    ZoneHostname,
    ZoneStatus,
)
from staydown.accounts.schemas import (
    Challenge,
    CustomerCreate,
    EvidenceCreate,
    RateLimitRead,
    ValidationResult,
    ZoneCreate,
    ZoneRead,
)
from staydown.audit import service as audit
from staydown.db.base import ROW_ID_LIMIT
from staydown.enforcement import service as enforcement
from staydown.feedrecords import FeedKind
from staydown.netguard import OriginGuard, OriginRefused
from staydown.netpolicy import literal_address
from staydown.types import Role, ServiceType, VerificationLevel
from staydown.urls import URLError, canonical_host

KEY_PREFIX = "sd_"
ERASED = "(erased)"  # a customer's name once its identity is erased (disclosure.erase_customer_identity)


class AccountError(Exception):
    """A request about accounts that cannot be carried out; ``code`` names why."""

    def __init__(self, code: str, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


# Checks run on a customer at sign-up, at verification and when a zone is added (the assembly
# registers them: the serial domain's comparison with suspended and terminated customers), and
# gates that may keep a zone from going live (an open link to such a customer).
AccountCheck = Callable[[Session, Customer, Zone | None, str, datetime, str], None]
ActivationGate = Callable[[Session, Zone], list[str]]
_checks: list[AccountCheck] = []
_gates: list[ActivationGate] = []


def add_account_check(check: AccountCheck) -> None:
    """Run ``check(session, customer, zone, stage, now, actor)`` at sign-up (stage ``signup``),
    verification (``verification``) and when a zone is added (``zone``)."""
    if check not in _checks:
        _checks.append(check)


def add_activation_gate(gate: ActivationGate) -> None:
    """Ask ``gate(session, zone)`` for further reasons a zone may not go live."""
    if gate not in _gates:
        _gates.append(gate)


def _run_checks(
    session: Session, customer: Customer, zone: Zone | None, stage: str, now: datetime, actor: str
) -> None:
    for check in _checks:
        check(session, customer, zone, stage, now, actor)


def _row_id(value: int) -> bool:
    """Whether ``value`` can be the id of a row at all."""
    return 1 <= value < ROW_ID_LIMIT


# --- API keys ---------------------------------------------------------------------------------


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(
    session: Session,
    *,
    role: Role,
    now: datetime,
    name: str = "",
    trusted: bool = False,
    customer_id: int | None = None,
    actor: str = "system",
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is shown once and never stored."""
    if role is Role.customer and customer_id is None:
        raise AccountError("customer_required", "a customer key must name its customer", status=422)
    if role is not Role.customer and customer_id is not None:
        raise AccountError("customer_not_allowed", "only customer keys belong to a customer", status=422)
    if trusted and role is not Role.submitter:
        raise AccountError("trusted_not_allowed", "only submitter keys can be trusted flaggers", status=422)
    if customer_id is not None and get_customer(session, customer_id) is None:
        raise AccountError("not_found", f"customer {customer_id} does not exist", status=404)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name or role.value,
        role=role,
        trusted=trusted,
        customer_id=customer_id,
        key_hash=hash_key(secret),
        prefix=secret[:10],
        created_at=now,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="key.created",
        entity=("api_key", key.id),
        data={"role": role.value, "trusted": trusted, "customer_id": customer_id, "prefix": key.prefix},
    )
    return key, secret


def authenticate(session: Session, secret: str) -> ApiKey | None:
    """Return the live key for ``secret``, or None."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 128:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(secret)))
    if key is None or key.revoked_at is not None:
        return None
    return key


@dataclass(frozen=True, slots=True)
class LiveKey:
    """What a request needs of a live key."""

    key_id: int
    role: Role
    trusted: bool
    customer_id: int | None


def key_digests(presented: Iterable[str]) -> dict[str, str]:
    """The stored digest of each secret that could be a key, mapped to the secret."""
    return {hash_key(s): s for s in presented if s.startswith(KEY_PREFIX) and len(s) <= 128}


def live_keys(session: Session | Connection, presented: Iterable[str]) -> dict[str, LiveKey]:
    """The live keys among the secrets ``presented``, by secret, in one indexed read (revoked and
    unknown ones are absent)."""
    digests = key_digests(presented)
    if not digests:
        return {}
    rows = session.execute(
        select(ApiKey.key_hash, ApiKey.id, ApiKey.role, ApiKey.trusted, ApiKey.customer_id).where(
            ApiKey.key_hash.in_(list(digests)), ApiKey.revoked_at.is_(None)
        )
    )
    return {
        digests[digest]: LiveKey(key_id, role, trusted, customer_id)
        for digest, key_id, role, trusted, customer_id in rows
    }


def get_key(session: Session, key_id: int) -> ApiKey | None:
    return session.get(ApiKey, key_id) if _row_id(key_id) else None


def list_keys(session: Session) -> Sequence[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    return session.scalars(select(ApiKey).order_by(ApiKey.id)).all()


def revoke_key(
    session: Session, key: ApiKey, *, now: datetime, actor: str, by_key_id: int | None = None
) -> bool:
    """Revoke ``key`` from ``now`` on; return False if it was already revoked (nothing changes).

    ``by_key_id`` is the key making the request: a key cannot revoke itself, so an administrator
    cannot lock out the last administrative access from the API.
    """
    if by_key_id is not None and key.id == by_key_id:
        raise AccountError(
            "cannot_revoke_own_key",
            f"key {key.id} is the key making this request; revoke it with another admin key",
        )
    if key.revoked_at is not None:
        return False
    key.revoked_at = now
    audit.record(
        session,
        at=now,
        actor=actor,
        action="key.revoked",
        entity=("api_key", key.id),
        data={"key_id": key.id, "role": key.role.value, "prefix": key.prefix},
    )
    return True


# --- customers --------------------------------------------------------------------------------


def create_customer(
    session: Session,
    data: CustomerCreate,
    *,
    now: datetime,
    signup_ip: str | None,
    actor: str,
    disposable_domains: Iterable[str] = (),
    default_locale: str = "en",
) -> Customer:
    """Register a customer with the identity record a disclosure order would need, and the language
    of its letters (its own choice, else ``default_locale``)."""
    level = VerificationLevel.none
    customer = Customer(
        name=data.name,
        email=str(data.email),
        address=data.address,
        phone=data.phone,
        organization=data.organization,
        payment_reference=data.payment_reference,
        webhook_url=data.webhook_url,
        locale=data.locale or default_locale,
        signup_ip=signup_ip,
        signup_at=now,
        verification_level=level,
        standing=Standing.good,
        standing_changed_at=None,
        risk_flags=risk_flags(
            email=str(data.email),
            phone=data.phone,
            address=data.address,
            level=level,
            extra_disposable=frozenset(d.lower() for d in disposable_domains),
        ),
    )
    session.add(customer)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="customer.created",
        entity=("customer", customer.id),
        # The chain is never rewritten, so it names where the sign-up address is kept, not the
        # address: erasing the customer record then leaves no copy here.
        data={"signup_ip": "customers.signup_ip" if signup_ip else None, "risk_flags": customer.risk_flags},
    )
    _run_checks(session, customer, None, "signup", now, actor)
    return customer


def get_customer(session: Session, customer_id: int) -> Customer | None:
    return session.get(Customer, customer_id) if _row_id(customer_id) else None


def list_customers(session: Session, *, limit: int = 100, offset: int = 0) -> Sequence[Customer]:
    return session.scalars(select(Customer).order_by(Customer.id).limit(limit).offset(offset)).all()


def identity_erased(customer: Customer) -> bool:
    """Whether the customer's identity record has been erased (only the row and its zones remain)."""
    return customer.name == ERASED


def terminated_before(session: Session, cutoff: datetime, *, erased_name: str) -> list[int]:
    """Customers terminated before ``cutoff`` whose identity is not yet erased."""
    return list(
        session.scalars(
            select(Customer.id).where(
                Customer.standing == Standing.terminated,
                Customer.standing_changed_at < cutoff,
                Customer.name != erased_name,
            )
        )
    )


def submit_evidence(
    session: Session,
    customer: Customer,
    data: EvidenceCreate,
    *,
    now: datetime,
    key_id: int | None,
    actor: str,
) -> VerificationEvidence:
    evidence = VerificationEvidence(
        customer_id=customer.id,
        kind=data.kind,
        reference=data.reference,
        details=data.details,
        submitted_at=now,
        submitted_by_key_id=key_id,
    )
    session.add(evidence)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="customer.evidence_submitted",
        entity=("customer", customer.id),
        data={"evidence_id": evidence.id, "kind": data.kind},
    )
    return evidence


def list_evidence(session: Session, customer_id: int) -> Sequence[VerificationEvidence]:
    return session.scalars(
        select(VerificationEvidence)
        .where(VerificationEvidence.customer_id == customer_id)
        .order_by(VerificationEvidence.id)
    ).all()


def decide_verification(
    session: Session,
    customer: Customer,
    *,
    level: VerificationLevel,
    reason: str,
    now: datetime,
    key_id: int | None,
    actor: str,
    min_level: VerificationLevel,
    disposable_domains: Iterable[str] = (),
) -> VerificationDecision:
    """Record a reviewer's decision; zones whose only blocker was the level go live."""
    decision = VerificationDecision(
        customer_id=customer.id,
        previous_level=customer.verification_level,
        level=level,
        reason=reason,
        decided_at=now,
        decided_by_key_id=key_id,
    )
    session.add(decision)
    customer.verification_level = level
    linked = [flag for flag in customer.risk_flags if flag.startswith("linked_to:")]  # found, not computed
    customer.risk_flags = (
        risk_flags(
            email=customer.email,
            phone=customer.phone,
            address=customer.address,
            level=level,
            extra_disposable=frozenset(d.lower() for d in disposable_domains),
        )
        + linked
    )
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="customer.verification_decided",
        entity=("customer", customer.id),
        data={"previous_level": decision.previous_level.value, "level": level.value, "reason": reason},
    )
    _run_checks(session, customer, None, "verification", now, actor)
    for zone in customer.zones:
        if zone.status is ZoneStatus.pending:
            try_activate(session, zone, now=now, actor=actor, min_level=min_level)
    return decision


# --- zones ------------------------------------------------------------------------------------


def normalise_origin(origin: str) -> str:
    """Return the origin base URL in one spelling, or raise ``AccountError``.

    The host is read as browsers and the C library read it: a host made only of numbers is an
    IPv4 address in any spelling (``2130706433``, ``0x7f.1``), stored as its dotted form, so the
    origin policy and every reader of the zone see the address it reaches.
    """
    parts = urlsplit(origin.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise AccountError(
            "invalid_origin", "the origin must be an http or https URL with a host", status=422
        )
    if parts.username or parts.password:
        raise AccountError("invalid_origin", "the origin must not carry credentials", status=422)
    if parts.query or parts.fragment:
        raise AccountError("invalid_origin", "the origin must not have a query or fragment", status=422)
    try:
        port = parts.port
    except ValueError:
        raise AccountError("invalid_origin", "the origin's port is not valid", status=422) from None
    try:
        address = literal_address(parts.hostname)
    except ValueError as exc:
        raise AccountError("invalid_origin", f"the origin's host is not valid: {exc}", status=422) from None
    if address is not None:
        host = str(address) if address.version == 4 else f"[{address.compressed}]"
    else:
        try:
            host = canonical_host(parts.hostname)
        except URLError as exc:
            if not parts.hostname.isascii():
                raise AccountError(
                    "invalid_origin", f"the origin's host is not valid: {exc}", status=422
                ) from None
            host = parts.hostname.lower()  # a DNS name URLs do not allow (an underscore), as before
    netloc = host if port is None else f"{host}:{port}"
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"


def allowed_origin(origin: str, *, guard: OriginGuard) -> str:
    """Return ``origin`` normalised, or raise ``AccountError`` (``origin_not_allowed``, 422) if the
    origin-address policy refuses where it points now (network I/O: a host name is resolved)."""
    normalised = normalise_origin(origin)
    try:
        guard.check_origin(normalised)
    except OriginRefused as exc:
        raise AccountError("origin_not_allowed", exc.reason, status=422) from None
    return normalised


def _hostname(value: str) -> str:
    try:
        host = canonical_host(value)
    except URLError as exc:
        raise AccountError("invalid_hostname", f"{value!r}: {exc.message}", status=422) from None
    if host.startswith("[") or host.replace(".", "").isdigit() or "." not in host:
        raise AccountError("invalid_hostname", f"{value!r} is not a fully qualified domain name", status=422)
    return host


def create_zone(session: Session, data: ZoneCreate, *, now: datetime, actor: str, guard: OriginGuard) -> Zone:
    """Create a pending zone with its domain-control challenge; the origin must pass ``guard``."""
    origin = allowed_origin(data.origin, guard=guard)
    customer = get_customer(session, data.customer_id)
    if customer is None:
        raise AccountError("not_found", f"customer {data.customer_id} does not exist", status=404)
    if customer.standing is Standing.terminated:
        raise AccountError("customer_terminated", "a terminated customer cannot add zones", status=403)
    hostnames = list(dict.fromkeys([_hostname(data.hostname), *(_hostname(a) for a in data.aliases)]))
    taken = session.scalars(select(ZoneHostname.hostname).where(ZoneHostname.hostname.in_(hostnames))).all()
    if taken:
        raise AccountError("hostname_taken", f"already served by another zone: {', '.join(sorted(taken))}")
    zone = Zone(
        customer_id=customer.id,
        hostname=hostnames[0],
        origin=origin,
        host_contact=str(data.host_contact) if data.host_contact else None,
        service_type=data.service_type,
        status=ZoneStatus.pending,
        status_changed_at=now,
        challenge_token=dcv.new_token(),
        created_at=now,
        hostnames=[ZoneHostname(hostname=h, position=i) for i, h in enumerate(hostnames)],
    )
    session.add(zone)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="zone.created",
        entity=("zone", zone.id),
        data={
            "customer_id": customer.id,
            "hostnames": hostnames,
            "origin": zone.origin,
            "service_type": zone.service_type.value,
        },
    )
    _run_checks(session, customer, zone, "zone", now, actor)
    _publish_zone(session, zone, now=now)
    return zone


def get_zone(session: Session, zone_id: int) -> Zone | None:
    if not _row_id(zone_id):
        return None
    return session.get(Zone, zone_id, options=[selectinload(Zone.hostnames), selectinload(Zone.customer)])


def zones_by_hostname(session: Session, hostnames: Iterable[str]) -> dict[str, Zone]:
    """Map each hostname to the zone serving it (active or suspended: content we carry or carried)."""
    wanted = list(set(hostnames))
    found: dict[str, Zone] = {}
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(ZoneHostname.hostname, Zone)
            .join(Zone, Zone.id == ZoneHostname.zone_id)
            .where(
                ZoneHostname.hostname.in_(wanted[start : start + 500]),
                Zone.status.in_([ZoneStatus.active, ZoneStatus.suspended]),
            )
        ).all()
        found.update(dict(rows))
    return found


def service_types(session: Session, zone_ids: Iterable[int]) -> dict[int, ServiceType]:
    """The service type of each of ``zone_ids``."""
    wanted = sorted(set(zone_ids))
    found: dict[int, ServiceType] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.execute(select(Zone.id, Zone.service_type).where(Zone.id.in_(chunk)))
        found.update((zone_id, service_type) for zone_id, service_type in rows)
    return found


def zone_ids_of_type(session: Session, zone_ids: Iterable[int], service_type: ServiceType) -> set[int]:
    """Which of ``zone_ids`` are zones of ``service_type``."""
    wanted = sorted(set(zone_ids))
    if not wanted:
        return set()
    return set(session.scalars(select(Zone.id).where(Zone.id.in_(wanted), Zone.service_type == service_type)))


def zone_read(
    zone: Zone, *, min_level: VerificationLevel, validation: ValidationResult | None = None
) -> ZoneRead:
    token = zone.challenge_token
    return ZoneRead(
        id=zone.id,
        customer_id=zone.customer_id,
        hostname=zone.hostname,
        hostnames=zone.all_hostnames or [zone.hostname],
        origin=zone.origin,
        status=zone.status,
        status_reason=zone.status_reason,
        challenge=Challenge(
            token=token,
            http_path=dcv.http_challenge_path(token),
            dns_name=dcv.dns_challenge_name(zone.hostname),
            dns_value=dcv.dns_challenge_value(token),
        ),
        domain_control_verified=zone.dcv_verified_at is not None,
        activation_blockers=(
            _blockers(zone, min_level=min_level) if zone.status is ZoneStatus.pending else []
        ),
        validation=validation,
        created_at=zone.created_at,
        service_type=zone.service_type,
        https_redirect=zone.https_redirect,
        hsts_max_age=zone.hsts_max_age,
        rate_limit=(
            RateLimitRead(per_second=zone.rate_per_second, burst=zone.rate_burst or zone.rate_per_second)
            if zone.rate_per_second
            else None
        ),
    )


def _blockers(zone: Zone, *, min_level: VerificationLevel) -> list[str]:
    blockers = activation_blockers(
        dcv_verified=zone.dcv_verified_at is not None,
        level=zone.customer.verification_level,
        min_level=min_level,
        standing=zone.customer.standing,
    )
    session = object_session(zone)
    if session is not None:
        for gate in _gates:
            blockers += gate(session, zone)
    return blockers


def check_domain_control(
    zone: Zone, *, method: str, timeout: float, nameservers: Sequence[str], guard: OriginGuard
) -> dcv.DcvResult:
    """Run the challenge for ``zone`` (network I/O: call it outside a writing transaction)."""
    if method == "dns":
        return dcv.check_dns(
            hostname=zone.hostname, token=zone.challenge_token, nameservers=nameservers, timeout=timeout
        )
    return dcv.check_http(
        origin=zone.origin, hostname=zone.hostname, token=zone.challenge_token, guard=guard, timeout=timeout
    )


def record_validation(
    session: Session,
    zone: Zone,
    result: dcv.DcvResult,
    *,
    now: datetime,
    actor: str,
    min_level: VerificationLevel,
) -> ValidationResult:
    """Store a challenge result; a zone with proven control and a verified customer goes live."""
    zone.dcv_last_checked_at = now
    zone.dcv_last_detail = result.detail
    if result.ok and zone.dcv_verified_at is None:
        zone.dcv_verified_at = now
        zone.dcv_method = result.method.value
    audit.record(
        session,
        at=now,
        actor=actor,
        action="zone.domain_control_checked",
        entity=("zone", zone.id),
        data={"method": result.method.value, "ok": result.ok, "detail": result.detail},
    )
    if zone.status is ZoneStatus.pending:
        try_activate(session, zone, now=now, actor=actor, min_level=min_level)
    return ValidationResult(method=result.method.value, ok=result.ok, detail=result.detail, checked_at=now)


def try_activate(
    session: Session, zone: Zone, *, now: datetime, actor: str, min_level: VerificationLevel
) -> bool:
    """Activate ``zone`` if nothing blocks it; return whether it is active."""
    if _blockers(zone, min_level=min_level):
        return False
    change_zone_status(session, zone, ZoneEvent.activate, now=now, actor=actor, reason="service started")
    return True


def change_zone_status(
    session: Session, zone: Zone, event: ZoneEvent, *, now: datetime, actor: str, reason: str
) -> None:
    """Apply ``event`` to the zone and tell the edges."""
    previous = zone.status
    zone.status = zone_transition(previous, event)
    zone.status_reason = reason
    zone.status_changed_at = now
    if zone.status is ZoneStatus.terminated:
        for entry in list(zone.hostnames):
            session.delete(entry)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action=f"zone.{event.value}",
        entity=("zone", zone.id),
        data={"from": previous.value, "to": zone.status.value, "reason": reason},
    )
    _publish_zone(session, zone, now=now)
    change = ZoneChange(zone.id, zone.customer_id, tuple(zone.all_hostnames), zone.status, now)
    for listener in _zone_listeners:
        listener(session, change)


@dataclass(frozen=True, slots=True)
class ZoneChange:
    """A zone's status or hostnames changed (what other domains follow, e.g. certificates)."""

    zone_id: int
    customer_id: int
    hostnames: tuple[str, ...]
    status: ZoneStatus
    at: datetime


ZoneListener = Callable[[Session, ZoneChange], None]
_zone_listeners: list[ZoneListener] = []


def on_zone_change(listener: ZoneListener) -> None:
    """Call ``listener`` in the unit of work of every zone status change (the assembly wires it)."""
    if listener not in _zone_listeners:
        _zone_listeners.append(listener)


def _publish_zone(session: Session, zone: Zone, *, now: datetime) -> None:
    payload: dict[str, Any] = {
        "zone_id": zone.id,
        "customer_id": zone.customer_id,
        "hostnames": [zone.hostname] if zone.status is ZoneStatus.terminated else zone.all_hostnames,
        "origin": zone.origin,
        "status": zone.status.value,
        "reason": zone.status_reason,
    }
    if zone.rate_per_second:
        payload["rate_per_second"] = zone.rate_per_second
        payload["rate_burst"] = zone.rate_burst or zone.rate_per_second
    if zone.https_redirect:
        payload["https_redirect"] = True
    if zone.hsts_max_age is not None:
        payload["hsts_max_age"] = zone.hsts_max_age
    enforcement.append(session, FeedKind.zone, at=now, payload=payload, zone_id=zone.id)


def set_https(
    session: Session,
    zone: Zone,
    *,
    https_redirect: bool,
    hsts_max_age: int | None,
    now: datetime,
    actor: str,
) -> Zone:
    """Set whether plain HTTP is redirected to HTTPS and the HSTS max-age, and tell the edges."""
    if zone.status is ZoneStatus.terminated:
        raise AccountError("zone_terminated", f"zone {zone.id} is terminated")
    zone.https_redirect = https_redirect
    zone.hsts_max_age = hsts_max_age
    audit.record(
        session,
        at=now,
        actor=actor,
        action="zone.https_set",
        entity=("zone", zone.id),
        data={"https_redirect": https_redirect, "hsts_max_age": hsts_max_age},
    )
    _publish_zone(session, zone, now=now)
    return zone


def set_rate_limit(
    session: Session,
    zone: Zone,
    *,
    per_second: float | None,
    burst: float | None,
    now: datetime,
    actor: str,
) -> Zone:
    """Set (or clear) the zone's per-client rate limit and send it to every edge."""
    if per_second is not None and burst is not None and burst < 1:
        raise AccountError("invalid_rate_limit", "a burst below one request admits nothing", status=422)
    zone.rate_per_second = per_second
    zone.rate_burst = (burst or per_second) if per_second is not None else None
    audit.record(
        session,
        at=now,
        actor=actor,
        action="zone.rate_limit_set",
        entity=("zone", zone.id),
        data={"per_second": zone.rate_per_second, "burst": zone.rate_burst},
    )
    _publish_zone(session, zone, now=now)
    return zone


def set_service_type(
    session: Session, zone: Zone, service_type: ServiceType, *, reason: str, now: datetime, actor: str
) -> Zone:
    """Reclassify a zone (caching, hosting, platform); later decisions follow its new duties."""
    previous = zone.service_type
    zone.service_type = service_type
    audit.record(
        session,
        at=now,
        actor=actor,
        action="zone.service_type_set",
        entity=("zone", zone.id),
        data={"from": previous.value, "to": service_type.value, "reason": reason},
    )
    return zone


def update_origin(
    session: Session, zone: Zone, origin: str, *, now: datetime, actor: str, guard: OriginGuard
) -> Zone:
    """Point ``zone`` at another origin (which must pass ``guard``) and send it to every edge."""
    if zone.status is ZoneStatus.terminated:
        raise AccountError("zone_terminated", f"zone {zone.id} is terminated")
    previous, zone.origin = zone.origin, allowed_origin(origin, guard=guard)
    audit.record(
        session,
        at=now,
        actor=actor,
        action="zone.origin_changed",
        entity=("zone", zone.id),
        data={"from": previous, "to": zone.origin},
    )
    _publish_zone(session, zone, now=now)
    return zone


def set_standing(
    session: Session,
    customer: Customer,
    standing: Standing,
    *,
    now: datetime,
    actor: str,
    reason: str,
) -> None:
    """Change a customer's standing; suspension and termination reach every zone of it."""
    previous = customer.standing
    customer.standing = standing
    customer.standing_changed_at = now
    audit.record(
        session,
        at=now,
        actor=actor,
        action="customer.standing_changed",
        entity=("customer", customer.id),
        data={"from": previous.value, "to": standing.value, "reason": reason},
    )
    event = {
        Standing.suspended: ZoneEvent.suspend,
        Standing.terminated: ZoneEvent.terminate,
    }.get(standing)
    for zone in customer.zones:
        if event is not None and (zone.status, event) in ZONE_TRANSITIONS:
            change_zone_status(session, zone, event, now=now, actor=actor, reason=reason)
        elif standing in (Standing.good, Standing.warned) and zone.status is ZoneStatus.suspended:
            change_zone_status(session, zone, ZoneEvent.reinstate, now=now, actor=actor, reason=reason)


def list_zones(session: Session, *, customer_id: int | None = None) -> Sequence[Zone]:
    stmt = select(Zone).options(selectinload(Zone.hostnames), selectinload(Zone.customer)).order_by(Zone.id)
    if customer_id is not None:
        stmt = stmt.where(Zone.customer_id == customer_id)
    return session.scalars(stmt).all()
