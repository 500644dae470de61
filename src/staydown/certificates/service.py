"""Certificates of the zones: what is served, ACME orders run by the worker, uploads, the demo CA.

Every certificate reaches the edges as a ``cert_set`` record of the enforcement log, written in the
unit of work that stores it; a suspended or terminated zone's certificate is taken back with a
``cert_remove`` record in the unit of work of the zone's change (``zone_changed``, wired to the
accounts domain by the assembly). Private keys are kept and sent sealed (``certseal``) and appear
in no log line, API answer or desk page.

ACME orders are rows the worker claims like its other work (``db.claims``: ``SKIP LOCKED`` and a
lease), so however many workers run, one of them works an order at a time.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from staydown import certseal
from staydown.accounts import service as accounts
from staydown.accounts.models import ZoneStatus
from staydown.audit import service as audit
from staydown.certificates import democa, flows, ocsp, ordering, validation
from staydown.certificates.flows import CertificateEvent, Serve, Withdraw
from staydown.certificates.models import (
    Certificate,
    CertificateOrder,
    CertificateSource,
    CertificateStatus,
    OrderPurpose,
    OrderStatus,
)
from staydown.certificates.ordering import ChallengeAnswer, OrderFailed
from staydown.certificates.schemas import CertificateRead, OcspRead, OrderRead, ZoneCertificates
from staydown.certificates.validation import CertificateRefused, CheckedCertificate
from staydown.config import Settings
from staydown.db import claims
from staydown.db.engine import Database
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Timer
from staydown.feedrecords import FeedKind
from staydown.netguard import OriginGuard
from staydown.types import Clock, system_clock

log = logging.getLogger("staydown.certificates")

__all__ = ["CertificateRefused", "OrderFailed"]

OCSP_TIMER = ocsp.TIMER

SERVED = (CertificateStatus.active, CertificateStatus.withdrawn)


class CertificateError(Exception):
    """A request about certificates that cannot be carried out; ``code`` names why."""

    def __init__(self, code: str, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


# --- reading ----------------------------------------------------------------------------------


def current(session: Session, zone_id: int) -> Certificate | None:
    """The zone's certificate that is served, or would be again on reinstatement."""
    return session.scalar(
        select(Certificate)
        .where(Certificate.zone_id == zone_id, Certificate.status.in_(SERVED))
        .order_by(Certificate.id.desc())
        .limit(1)
    )


def pending_order(session: Session, zone_id: int) -> CertificateOrder | None:
    return session.scalar(
        select(CertificateOrder)
        .where(CertificateOrder.zone_id == zone_id, CertificateOrder.status == OrderStatus.pending)
        .order_by(CertificateOrder.id)
        .limit(1)
    )


def list_certificates(
    session: Session, *, status: Sequence[CertificateStatus] = SERVED
) -> Sequence[Certificate]:
    return session.scalars(
        select(Certificate).where(Certificate.status.in_(list(status))).order_by(Certificate.not_after)
    ).all()


def _pending_by_zone(session: Session) -> dict[int, CertificateOrder]:
    orders = session.scalars(
        select(CertificateOrder)
        .where(CertificateOrder.status == OrderStatus.pending)
        .order_by(CertificateOrder.id.desc())
    ).all()
    return {order.zone_id: order for order in orders}


def ocsp_read(state: dict[str, Any]) -> OcspRead:
    return OcspRead.model_validate(
        {name: state.get(name) for name in OcspRead.model_fields} | {"failures": state.get("failures") or 0}
    )


def certificate_read(
    cert: Certificate,
    *,
    order: CertificateOrder | None,
    now: datetime,
    settings: Settings,
    staple: dict[str, Any] | None = None,
) -> CertificateRead:
    staple_alerts = (
        ocsp.staple_alerts(staple, now=now, window=timedelta(seconds=settings.ocsp_alert_seconds))
        if staple is not None and cert.status is CertificateStatus.active
        else []
    )
    return CertificateRead(
        id=cert.id,
        zone_id=cert.zone_id,
        source=cert.source,
        status=cert.status,
        hostnames=list(cert.hostnames),
        serial=cert.serial,
        issuer=cert.issuer,
        fingerprint_sha256=cert.fingerprint_sha256,
        not_before=cert.not_before,
        not_after=cert.not_after,
        renew_at=order.due_at if order is not None and order.purpose is OrderPurpose.renew else None,
        alerts=[
            a.value
            for a in flows.alerts(
                status=cert.status,
                not_after=cert.not_after,
                now=now,
                alert_window=timedelta(days=settings.cert_expiry_alert_days),
                failed_attempts=order.attempts if order is not None else 0,
            )
        ]
        + staple_alerts,
        ocsp=ocsp_read(staple) if staple is not None else None,
    )


def order_read(order: CertificateOrder) -> OrderRead:
    return OrderRead(
        id=order.id,
        purpose=order.purpose,
        status=order.status,
        due_at=order.due_at,
        attempts=order.attempts,
        last_error=order.last_error,
    )


def zone_certificates(
    session: Session, zone_id: int, *, now: datetime, settings: Settings
) -> ZoneCertificates:
    """The zone's certificate and pending order, as the API shows them."""
    cert, order = current(session, zone_id), pending_order(session, zone_id)
    staple = ocsp.state_of(session, [cert.id]).get(cert.id) if cert is not None else None
    return ZoneCertificates(
        zone_id=zone_id,
        certificate=certificate_read(cert, order=order, now=now, settings=settings, staple=staple)
        if cert
        else None,
        order=order_read(order) if order else None,
    )


def overview(session: Session, *, now: datetime, settings: Settings) -> list[CertificateRead]:
    """Every served or withdrawn certificate with its alerts, soonest expiry first (desk, metrics)."""
    orders, staples = _pending_by_zone(session), ocsp.state_of(session)
    return [
        certificate_read(
            cert, order=orders.get(cert.zone_id), now=now, settings=settings, staple=staples.get(cert.id)
        )
        for cert in list_certificates(session)
    ]


@dataclass(frozen=True, slots=True)
class FailingOrder:
    zone_id: int
    purpose: OrderPurpose
    attempts: int
    last_error: str | None
    due_at: datetime


def failing_orders(session: Session) -> list[FailingOrder]:
    """Pending orders that failed at least once (alerts, whether or not the zone has a certificate)."""
    rows = session.scalars(
        select(CertificateOrder)
        .where(CertificateOrder.status == OrderStatus.pending, CertificateOrder.attempts > 0)
        .order_by(CertificateOrder.due_at)
    ).all()
    return [FailingOrder(o.zone_id, o.purpose, o.attempts, o.last_error, o.due_at) for o in rows]


# --- the runner of the flows' commands --------------------------------------------------------


def _cert_set_payload(cert: Certificate, *, ocsp_der: bytes | None = None) -> dict[str, Any]:
    payload = {
        "cert_id": cert.id,
        "zone_id": cert.zone_id,
        "hostnames": list(cert.hostnames),
        "chain_pem": cert.chain_pem,
        "key_sealed": cert.key_sealed,
        "not_after": cert.not_after.isoformat(),
        "source": cert.source.value,
    }
    if ocsp_der is not None:
        payload["ocsp_der_b64"] = base64.b64encode(ocsp_der).decode("ascii")
    return payload


def _step(session: Session, cert: Certificate, event: CertificateEvent, *, now: datetime, actor: str) -> None:
    previous = cert.status
    cert.status, commands = flows.transition(previous, event)
    cert.status_changed_at = now
    for command in commands:
        match command:
            case Serve():
                enforcement.append(
                    session, FeedKind.cert_set, at=now, payload=_cert_set_payload(cert), zone_id=cert.zone_id
                )
            case Withdraw():
                enforcement.append(
                    session,
                    FeedKind.cert_remove,
                    at=now,
                    payload={"cert_id": cert.id, "zone_id": cert.zone_id},
                    zone_id=cert.zone_id,
                )
    audit.record(
        session,
        at=now,
        actor=actor,
        action=f"certificate.{event.value}",
        entity=("certificate", cert.id),
        data={"zone_id": cert.zone_id, "from": previous.value, "to": cert.status.value},
    )


def _cancel_orders(session: Session, zone_id: int, *, now: datetime, reason: str) -> None:
    session.execute(
        update(CertificateOrder)
        .where(CertificateOrder.zone_id == zone_id, CertificateOrder.status == OrderStatus.pending)
        .values(status=OrderStatus.cancelled, done_at=now, last_error=reason, lease_until=None)
    )


def _queue_order(
    session: Session,
    zone_id: int,
    *,
    purpose: OrderPurpose,
    due_at: datetime,
    now: datetime,
    renews: int | None,
) -> CertificateOrder:
    order = CertificateOrder(
        zone_id=zone_id,
        purpose=purpose,
        status=OrderStatus.pending,
        due_at=due_at,
        created_at=now,
        attempts=0,
        renews_id=renews,
    )
    session.add(order)
    return order


def _reinstate(session: Session, cert: Certificate, *, now: datetime, actor: str) -> None:
    """Serve a withdrawn certificate again; ACME renews it again if it is ACME's."""
    _step(session, cert, CertificateEvent.zone_reinstated, now=now, actor=actor)
    ocsp.start(session, cert, now=now)
    if flows.renews_by_acme(cert.source) and pending_order(session, cert.zone_id) is None:
        _queue_order(
            session,
            cert.zone_id,
            purpose=OrderPurpose.renew,
            due_at=flows.renew_at(cert.not_before, cert.not_after),
            now=now,
            renews=cert.id,
        )


def zone_changed(session: Session, change: accounts.ZoneChange) -> None:
    """Follow a zone's change: order a certificate for a zone that went live, take it back from a
    suspended or terminated one, serve it again on reinstatement."""
    cert = current(session, change.zone_id)
    actor = "system:certificates"
    if change.status is ZoneStatus.active:
        served = cert.source if cert is not None else None
        if cert is not None and cert.status is CertificateStatus.withdrawn:
            if cert.not_after > change.at:
                _reinstate(session, cert, now=change.at, actor=actor)
                return
            if flows.renews_by_acme(cert.source):
                served = None  # it expired while the zone was suspended: order a new one
        if flows.needs_order(
            zone_active=True, served=served, pending_order=pending_order(session, change.zone_id) is not None
        ):
            _queue_order(
                session,
                change.zone_id,
                purpose=OrderPurpose.issue,
                due_at=change.at,
                now=change.at,
                renews=None,
            )
        return
    event = {
        ZoneStatus.suspended: CertificateEvent.zone_suspended,
        ZoneStatus.terminated: CertificateEvent.zone_terminated,
    }.get(change.status)
    if event is None:
        return
    _cancel_orders(session, change.zone_id, now=change.at, reason=f"the zone is {change.status.value}")
    if cert is not None and (cert.status, event) in flows.TRANSITIONS:
        _step(session, cert, event, now=change.at, actor=actor)


def store(
    session: Session,
    zone_id: int,
    checked: CheckedCertificate,
    *,
    source: CertificateSource,
    hostnames: Sequence[str],
    now: datetime,
    actor: str,
    secret: bytes,
) -> Certificate:
    """Keep a checked certificate as the zone's and send it to the edges; the previous one is
    superseded. ACME renews an ACME certificate at two thirds of its life; any other source stops
    ACME for the zone."""
    previous = current(session, zone_id)
    if previous is not None:
        _step(session, previous, CertificateEvent.superseded, now=now, actor=actor)
    cert = Certificate(
        zone_id=zone_id,
        source=source,
        status=CertificateStatus.active,
        hostnames=list(hostnames),
        chain_pem=checked.chain_pem,
        serial=checked.serial,
        issuer=checked.issuer,
        fingerprint_sha256=checked.fingerprint_sha256,
        not_before=checked.not_before,
        not_after=checked.not_after,
        created_at=now,
        status_changed_at=now,
    )
    session.add(cert)
    session.flush()  # the id is part of the sealed key's associated data
    cert.key_sealed = certseal.seal(checked.key_pem, secret=secret, zone_id=zone_id, cert_id=cert.id)
    enforcement.append(session, FeedKind.cert_set, at=now, payload=_cert_set_payload(cert), zone_id=zone_id)
    ocsp.start(session, cert, now=now)
    _cancel_orders(session, zone_id, now=now, reason=f"replaced by a certificate from {source.value}")
    if flows.renews_by_acme(source):
        _queue_order(
            session,
            zone_id,
            purpose=OrderPurpose.renew,
            due_at=flows.renewal_due(checked.not_before, checked.not_after, now=now),
            now=now,
            renews=cert.id,
        )
    audit.record(
        session,
        at=now,
        actor=actor,
        action="certificate.stored",
        entity=("certificate", cert.id),
        data={
            "zone_id": zone_id,
            "source": source.value,
            "hostnames": list(hostnames),
            "serial": checked.serial,
            "issuer": checked.issuer,
            "not_after": checked.not_after.isoformat(),
            "replaces": previous.id if previous is not None else None,
        },
    )
    return cert


def upload(
    session: Session,
    zone_id: int,
    *,
    chain_pem: str,
    key_pem: str,
    now: datetime,
    actor: str,
    secret: bytes,
) -> Certificate:
    """Serve a customer's own certificate for the zone (``CertificateRefused`` with every reason it
    cannot be); it replaces any ACME certificate, and ACME no longer renews the zone's."""
    zone = accounts.get_zone(session, zone_id)
    if zone is None:
        raise CertificateError("not_found", f"zone {zone_id} does not exist", status=404)
    if zone.status in (ZoneStatus.suspended, ZoneStatus.terminated):
        raise CertificateError("zone_not_served", f"zone {zone_id} is {zone.status.value}")
    hostnames = zone.all_hostnames or [zone.hostname]
    checked = validation.check(chain_pem.encode(), key_pem.encode(), hostnames=hostnames, now=now)
    return store(
        session,
        zone_id,
        checked,
        source=CertificateSource.upload,
        hostnames=hostnames,
        now=now,
        actor=actor,
        secret=secret,
    )


# --- ACME orders, run by the worker -----------------------------------------------------------


def _publish_challenges(
    database: Database, answers: list[ChallengeAnswer], *, now: datetime, secret: bytes
) -> int:
    with database.writer() as session:
        staged = []
        for answer in answers:
            payload: dict[str, Any] = {
                "challenge_type": answer.challenge_type,
                "hostname": answer.hostname,
                "token": answer.token,
                "key_authorization": answer.key_authorization,
            }
            if answer.chain_pem is not None and answer.key_pem is not None:
                payload["chain_pem"] = answer.chain_pem
                payload["key_sealed"] = certseal.seal_challenge_key(answer.key_pem, secret=secret)
            staged.append(enforcement.append(session, FeedKind.challenge_set, at=now, payload=payload))
        session.commit()
    return max(record.seq or 0 for record in staged)


def _withdraw_challenges(database: Database, answers: list[ChallengeAnswer], *, now: datetime) -> None:
    with database.writer() as session:
        for answer in answers:
            enforcement.append(
                session,
                FeedKind.challenge_remove,
                at=now,
                payload={"hostname": answer.hostname, "token": answer.token},
            )
        session.commit()


def wait_for_edges(
    database: Database, seq: int, *, timeout: float, settings: Settings, clock: Clock
) -> list[str]:
    """Wait until every edge in contact has applied ``seq``; return those that have. Raise
    ``OrderFailed`` if none has within ``timeout`` seconds (nobody would answer the challenge)."""
    deadline = time.monotonic() + timeout
    while True:
        with database.reader() as session:
            edges = enforcement.edge_health(
                session, now=clock(), alert_seconds=settings.edge_lag_alert_seconds
            )
        live = [e for e in edges if e.state in (enforcement.EdgeState.ok, enforcement.EdgeState.behind)]
        applied = [e.edge_id for e in live if e.seq >= seq]
        if live and len(applied) == len(live):
            return applied
        if time.monotonic() >= deadline:
            if applied:
                log.warning(
                    "edges %s had not applied challenge record %s",
                    [e.edge_id for e in live if e.seq < seq],
                    seq,
                )
                return applied
            raise OrderFailed(f"no edge applied the challenge (feed record {seq}) within {timeout:.0f} s")
        time.sleep(0.2)


def _settle(
    database: Database,
    order_id: int,
    *,
    claimant: str,
    apply: Callable[[Session, CertificateOrder], None],
) -> bool:
    """Record an order's outcome under a lock on its row, if this worker still holds it."""
    with database.writer() as session:
        order = session.get(CertificateOrder, order_id, with_for_update=True, populate_existing=True)
        if order is None or order.status is not OrderStatus.pending or order.claimed_by != claimant:
            return False
        apply(session, order)
        order.lease_until = None
        session.commit()
    return True


def _work_order(
    database: Database,
    order: CertificateOrder,
    *,
    now: datetime,
    settings: Settings,
    claimant: str,
    clock: Clock,
) -> None:
    with database.reader() as session:
        zone = accounts.get_zone(session, order.zone_id)
        cert = current(session, order.zone_id)
        hostnames = list(zone.all_hostnames) if zone is not None else []
        live = zone is not None and zone.status is ZoneStatus.active and bool(hostnames)
        foreign = cert is not None and not flows.renews_by_acme(cert.source)
    if not live or (cert is not None and foreign):
        reason = "the zone is not served"
        if live and cert is not None:
            reason = f"the zone is served a certificate from {cert.source.value}"

        def cancel(session: Session, row: CertificateOrder) -> None:
            row.status, row.done_at, row.last_error = OrderStatus.cancelled, now, reason

        _settle(database, order.id, claimant=claimant, apply=cancel)
        return
    assert settings.acme_directory is not None
    secret = settings.cert_seal_secret()
    key_pem = ordering.new_certificate_key()
    try:
        acme = ordering.connect(
            settings.acme_directory,
            key=ordering.account_key(settings.data_dir),
            email=settings.acme_email,
            ca_bundle=settings.acme_ca_bundle,
        )

        def publish(answers: list[ChallengeAnswer]) -> None:
            seq = _publish_challenges(database, answers, now=clock(), secret=secret)
            wait_for_edges(
                database, seq, timeout=settings.acme_edge_wait_seconds, settings=settings, clock=clock
            )

        def withdraw(answers: list[ChallengeAnswer]) -> None:
            _withdraw_challenges(database, answers, now=clock())

        fullchain = ordering.obtain(
            acme,
            hostnames=hostnames,
            key_pem=key_pem,
            preference=settings.acme_challenges,
            publish=publish,
            withdraw=withdraw,
            timeout=settings.acme_order_lease_seconds / 2,
        )
        checked = validation.check(fullchain.encode(), key_pem, hostnames=hostnames, now=now)
    except (OrderFailed, CertificateRefused, OSError) as exc:
        _failed(database, order.id, str(exc), now=now, settings=settings, claimant=claimant)
        return
    except Exception as exc:  # the acme library and requests raise many kinds; each is a failed try
        log.exception("certificate order %s for zone %s failed", order.id, order.zone_id)
        _failed(
            database, order.id, f"{type(exc).__name__}: {exc}", now=now, settings=settings, claimant=claimant
        )
        return

    def done(session: Session, row: CertificateOrder) -> None:
        cert = store(
            session,
            row.zone_id,
            checked,
            source=CertificateSource.acme,
            hostnames=hostnames,
            now=now,
            actor="system:acme",
            secret=secret,
        )
        row.status, row.done_at, row.certificate_id, row.last_error = OrderStatus.done, now, cert.id, None
        row.attempts += 1
        row.last_attempt_at = now

    if _settle(database, order.id, claimant=claimant, apply=done):
        log.info("certificate for zone %s (%s) obtained from ACME", order.zone_id, ", ".join(hostnames))


def _failed(
    database: Database, order_id: int, error: str, *, now: datetime, settings: Settings, claimant: str
) -> None:
    log.warning("certificate order %s failed: %s", order_id, error)

    def retry(session: Session, row: CertificateOrder) -> None:
        row.attempts += 1
        row.last_error = error[:2000]
        row.last_attempt_at = now
        row.due_at = flows.retry_at(
            now,
            attempts=row.attempts,
            base=settings.acme_retry_base_seconds,
            cap=settings.acme_retry_cap_seconds,
        )

    _settle(database, order_id, claimant=claimant, apply=retry)


def run_orders(
    database: Database,
    *,
    now: datetime,
    settings: Settings,
    claimant: str,
    clock: Clock = system_clock,
    limit: int = 1,
) -> int:
    """Claim up to ``limit`` ACME orders due by ``now``, one at a time, and work them; return how
    many were worked. One per call by default: a worker's letters and timers wait for one order at
    most, and other workers take the next ones meanwhile.

    Nothing is ordered without an ACME directory (``STAYDOWN_ACME_DIRECTORY``)."""
    if not settings.acme_directory:
        return 0
    lease = timedelta(seconds=settings.acme_order_lease_seconds)
    worked = 0
    while worked < limit:
        claimed = claims.claim(
            database,
            CertificateOrder,
            due=(CertificateOrder.status == OrderStatus.pending) & (CertificateOrder.due_at <= now),
            order_by=[CertificateOrder.due_at, CertificateOrder.id],
            now=max(now, clock()),
            claimant=claimant,
            lease=lease,
            limit=1,
        )
        if not claimed:
            return worked
        _work_order(database, claimed[0], now=now, settings=settings, claimant=claimant, clock=clock)
        worked += 1
    return worked


# --- OCSP staples, fetched by the worker ------------------------------------------------------


def fetch_staple(
    database: Database, timer: Timer, now: datetime, *, settings: Settings, guard: OriginGuard
) -> bytes | ocsp.StapleRefused | None:
    """The fetch of a certificate's OCSP timer, outside any transaction: the responder's answer,
    why there is none, or None when the certificate is not one to staple."""
    with database.reader() as session:
        cert = session.get(Certificate, timer.subject_id)
        if cert is None:
            return None
        session.expunge(cert)
    return ocsp.fetch_for(cert, settings=settings, guard=guard)


def refresh_staple(
    session: Session, timer: Timer, now: datetime, answer: object, *, settings: Settings
) -> None:
    """The step of a certificate's OCSP timer: check and publish the response ``fetch_staple``
    brought, and queue the next fetch (``ocsp.refresh``). The certificate's row is locked for the
    step, so a newer certificate stored meanwhile is not displaced by this one's staple."""
    assert answer is None or isinstance(answer, bytes | ocsp.StapleRefused)
    cert = session.get(Certificate, timer.subject_id, with_for_update=True, populate_existing=True)
    if cert is None or ocsp.duplicate(session, timer):
        return

    def publish(der: bytes | None) -> None:
        payload = _cert_set_payload(cert, ocsp_der=der)
        enforcement.append(session, FeedKind.cert_set, at=now, payload=payload, zone_id=cert.zone_id)

    ocsp.refresh(session, cert, dict(timer.payload), answer, now=now, settings=settings, publish=publish)


def start_staples(database: Database, *, now: datetime) -> int:
    """Queue a first OCSP fetch for every served certificate that names a responder and has none
    pending (certificates stored before stapling existed); return how many were queued."""
    started = 0
    with database.writer() as session:
        pending = set(ocsp.state_of(session))
        for cert in list_certificates(session, status=[CertificateStatus.active]):
            if cert.id not in pending and ocsp.start(session, cert, now=now):
                started += 1
        session.commit()
    return started


# --- the demo CA ------------------------------------------------------------------------------


DEMO_CA_DIRECTORY = "demo-ca"


def issue_demo(database: Database, zone_ids: Sequence[int], *, settings: Settings, now: datetime) -> str:
    """Serve each zone a certificate of the data directory's demo CA (unless it has a demo one that
    still covers it for a month); return the path of the CA's certificate."""
    ca = democa.ensure(settings.data_dir / DEMO_CA_DIRECTORY, now=now)
    secret = settings.cert_seal_secret()
    with database.writer() as session:
        for zone_id in zone_ids:
            zone = accounts.get_zone(session, zone_id)
            if zone is None or zone.status is not ZoneStatus.active:
                continue
            hostnames = zone.all_hostnames
            cert = current(session, zone_id)
            if (
                cert is not None
                and cert.source is CertificateSource.demo
                and cert.status is CertificateStatus.active
                and set(cert.hostnames) == set(hostnames)
                and cert.not_after > now + timedelta(days=30)
                and democa.issued_by(ca, cert.chain_pem.encode("ascii"))
            ):
                continue
            chain, key = democa.issue(ca, hostnames, now=now)
            checked = validation.check(chain, key, hostnames=hostnames, now=now)
            store(
                session,
                zone_id,
                checked,
                source=CertificateSource.demo,
                hostnames=hostnames,
                now=now,
                actor="demo",
                secret=secret,
            )
        session.commit()
    return str(ca.cert_path)
