"""OCSP responses for the zones' certificates, fetched by the control plane and stapled by the edges.

A certificate whose Authority Information Access names an OCSP responder gets a response fetched
for it by the worker (a timer per certificate, ``TIMER``). The request is built and the answer read
with ``cryptography.x509.ocsp``; it is POSTed (``application/ocsp-request``) through the origin
guard (``netguard``), so a customer's uploaded certificate cannot aim the control plane at an
internal address. A response is used only once :func:`verify_response` accepts it: signed by the
certificate's issuer or by a responder certificate the issuer issued for OCSP signing, about this
certificate, ``good``, ``thisUpdate`` not in the future (beyond ``SKEW``) and ``nextUpdate`` present
and still to come. A good response reaches the edges as the ``ocsp_der_b64`` of a new ``cert_set``
record of the certificate (snapshots and NATS carry it as they carry any certificate record); it is
fetched again half-way through its validity, and after a failure with back-off, doubling from
``ocsp_retry_base_seconds`` up to ``ocsp_retry_cap_seconds`` (never later than half-way to the
current staple's ``nextUpdate`` minus that, so the edges keep a fresh one while the responder
recovers). A ``revoked`` answer is never published: the certificate's staple is withdrawn (a
``cert_set`` without one) and the certificate carries the ``revoked`` alert.

Each certificate's state (its responder, the current staple's times, failures and the last error)
is the payload of its pending timer: the API, the desk and the metrics read it from there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from staydown.certificates.models import Certificate, CertificateStatus
from staydown.config import Settings
from staydown.enforcement.models import Timer, TimerStatus
from staydown.netguard import OriginGuard, OriginRefused

log = logging.getLogger("staydown.certificates.ocsp")

TIMER = "certificate_ocsp"
SUBJECT = "certificate"
SKEW = timedelta(minutes=5)  # how far in the future a responder's clock may put thisUpdate
MIN_REFRESH = timedelta(minutes=1)  # the soonest a good response is fetched again
MAX_RESPONSE = 64 * 1024  # bytes; an OCSP response is a few hundred to a few thousand


class StapleRefused(Exception):
    """A response that cannot be stapled; the message says why (shown to operators)."""


@dataclass(frozen=True, slots=True)
class Good:
    """A verified ``good`` response, as the edges staple it."""

    der: bytes
    this_update: datetime
    next_update: datetime


@dataclass(frozen=True, slots=True)
class Revoked:
    """A verified ``revoked`` response: never stapled, an alert."""

    revoked_at: datetime
    reason: str | None


# --- pure decisions ---------------------------------------------------------------------------


def responder_url(leaf: x509.Certificate) -> str | None:
    """The first http(s) OCSP responder the certificate's Authority Information Access names."""
    try:
        aia = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for description in aia:
        location = description.access_location
        if (
            description.access_method == AuthorityInformationAccessOID.OCSP
            and isinstance(location, x509.UniformResourceIdentifier)
            and location.value.lower().startswith(("http://", "https://"))
        ):
            return location.value
    return None


def leaf_and_issuer(chain_pem: str) -> tuple[x509.Certificate, x509.Certificate] | None:
    """The leaf of a served chain and its issuer (the next certificate), or None without one."""
    certificates = x509.load_pem_x509_certificates(chain_pem.encode("ascii"))
    if len(certificates) < 2:
        return None
    return certificates[0], certificates[1]


def build_request(leaf: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """The DER OCSP request for ``leaf`` (SHA-1 CertID, as every responder understands)."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1())  # noqa: S303 -- an identifier, not a signature
    return builder.build().public_bytes(serialization.Encoding.DER)


def _verify_signature(signer: x509.Certificate, response: ocsp.OCSPResponse) -> None:
    key = signer.public_key()
    algorithm = response.signature_hash_algorithm
    signature, data = response.signature, response.tbs_response_bytes
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, dsa.DSAPublicKey) and algorithm is not None:
            key.verify(signature, data, algorithm)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            raise StapleRefused(f"the response's signature algorithm is not supported ({type(key).__name__})")
    except InvalidSignature:
        raise StapleRefused("the response's signature does not verify") from None


def _names_signer(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    """Whether the response's ResponderID names ``cert`` (by name or by SHA-1 of its key)."""
    if response.responder_name is not None:
        return response.responder_name == cert.subject
    key_hash = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    return response.responder_key_hash == key_hash


def _signer(response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime) -> x509.Certificate:
    """The certificate the response must verify with: the issuer, or a delegated responder
    certificate it carries that the issuer issued with id-kp-OCSPSigning (RFC 6960 4.2.2.2)."""
    if _names_signer(response, issuer):
        return issuer
    for candidate in response.certificates:
        if not _names_signer(response, candidate):
            continue
        if candidate.issuer != issuer.subject:
            raise StapleRefused("the responder's certificate was not issued by the certificate's issuer")
        try:
            candidate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise StapleRefused("the responder's certificate does not verify with the issuer's key") from None
        try:
            usages = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            usages = x509.ExtendedKeyUsage([])
        if ExtendedKeyUsageOID.OCSP_SIGNING not in usages:
            raise StapleRefused("the responder's certificate is not for OCSP signing")
        if not candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc:
            raise StapleRefused("the responder's certificate is not valid now")
        return candidate
    raise StapleRefused("the response is signed by neither the issuer nor a responder it delegated to")


def _about(single: ocsp.OCSPSingleResponse, leaf: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether a single response's CertID is that of ``leaf`` under ``issuer``."""
    if single.serial_number != leaf.serial_number:
        return False
    expected = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, single.hash_algorithm).build()
    return (
        single.issuer_name_hash == expected.issuer_name_hash
        and single.issuer_key_hash == expected.issuer_key_hash
    )


def verify_response(
    der: bytes,
    *,
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    now: datetime,
    skew: timedelta = SKEW,
) -> Good | Revoked:
    """Check a responder's answer about ``leaf``; ``StapleRefused`` says why it is unusable."""
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError:
        raise StapleRefused("the responder's answer is not an OCSP response") from None
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise StapleRefused(f"the responder answered {response.response_status.name.lower()}")
    _verify_signature(_signer(response, issuer, now), response)
    single = next((s for s in response.responses if _about(s, leaf, issuer)), None)
    if single is None:
        raise StapleRefused("the response is not about this certificate")
    if single.this_update_utc > now + skew:
        raise StapleRefused(
            f"the response's thisUpdate ({single.this_update_utc:%Y-%m-%d %H:%M:%S}) is in the future"
        )
    if single.certificate_status is ocsp.OCSPCertStatus.REVOKED:
        assert single.revocation_time_utc is not None
        reason = single.revocation_reason.value if single.revocation_reason is not None else None
        return Revoked(single.revocation_time_utc, reason)
    if single.certificate_status is not ocsp.OCSPCertStatus.GOOD:
        raise StapleRefused("the responder does not know this certificate (status unknown)")
    if single.next_update_utc is None:
        raise StapleRefused("the response has no nextUpdate")
    if single.next_update_utc <= now:
        raise StapleRefused(
            f"the response's nextUpdate ({single.next_update_utc:%Y-%m-%d %H:%M:%S}) has passed"
        )
    return Good(der, single.this_update_utc, single.next_update_utc)


def refresh_at(this_update: datetime, next_update: datetime, *, now: datetime) -> datetime:
    """When a good response is fetched again: half-way through its validity, not before
    ``MIN_REFRESH`` from now, and not after its ``nextUpdate``."""
    half = this_update + (next_update - this_update) / 2
    return min(max(half, now + MIN_REFRESH), next_update)


def retry_at(
    now: datetime, *, failures: int, base: float, cap: float, next_update: datetime | None
) -> datetime:
    """When a failed fetch is tried again: ``base`` seconds doubled per failure, at most ``cap``,
    and while a staple is still served, at most half-way to its ``nextUpdate``."""
    delay = timedelta(seconds=min(cap, base * 2 ** max(0, failures - 1)))
    if next_update is not None and next_update > now:
        delay = min(delay, max((next_update - now) / 2, timedelta(seconds=base)))
    return now + delay


class StapleAlert:
    expiring = "staple_expiring"  # the edges' staple has under a quarter of its validity (at most the
    # alert window) left, or there is none and fetching fails
    failing = "staple_failing"  # fetching a response has failed at least once since the last good one
    revoked = "revoked"  # the responder says the certificate is revoked


def staple_alerts(state: dict[str, Any], *, now: datetime, window: timedelta) -> list[str]:
    """The alerts of a certificate's OCSP state (a timer payload, :func:`state_of`)."""
    found = []
    if state.get("status") == "revoked":
        found.append(StapleAlert.revoked)
    this_update, next_update = _time(state.get("this_update")), _time(state.get("next_update"))
    failures = int(state.get("failures") or 0)
    if next_update is not None:
        # A response is fetched again half-way: one with less than a quarter of its validity (or
        # less than ``window``) left has missed that.
        validity = next_update - this_update if this_update is not None else window * 4
        if next_update - now <= min(window, validity / 4):
            found.append(StapleAlert.expiring)
    elif failures:
        found.append(StapleAlert.expiring)
    if failures:
        found.append(StapleAlert.failing)
    return found


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- the I/O shell ----------------------------------------------------------------------------


def fetch(url: str, request: bytes, *, guard: OriginGuard, timeout: float) -> bytes:
    """POST ``request`` to the responder at ``url`` through ``guard``; raise ``StapleRefused``."""
    try:
        with guard.client(timeout=timeout) as client:
            answer = client.post(
                url,
                content=request,
                headers={"content-type": "application/ocsp-request", "accept": "application/ocsp-response"},
            )
    except OriginRefused as exc:
        raise StapleRefused(f"the responder may not be reached: {exc.reason}") from None
    except (httpx.HTTPError, OSError) as exc:
        raise StapleRefused(f"the responder could not be reached: {type(exc).__name__}: {exc}") from None
    if answer.status_code != 200:
        raise StapleRefused(f"the responder answered HTTP {answer.status_code}")
    if len(answer.content) > MAX_RESPONSE:
        raise StapleRefused("the responder's answer is too large")
    return answer.content


def state_of(session: Session, cert_ids: list[int] | None = None) -> dict[int, dict[str, Any]]:
    """The OCSP state of certificates (all with a pending timer, or those of ``cert_ids``): the
    pending timer's payload, with ``refresh_at`` its due time."""
    query = select(Timer).where(
        Timer.kind == TIMER, Timer.status == TimerStatus.pending, Timer.subject_type == SUBJECT
    )
    if cert_ids is not None:
        query = query.where(Timer.subject_id.in_(cert_ids))
    states = {}
    for timer in session.scalars(query.order_by(Timer.id)):
        states[timer.subject_id] = {**timer.payload, "refresh_at": timer.due_at.isoformat()}
    return states


def duplicate(session: Session, timer: Timer) -> bool:
    """Whether another fetch is pending for ``timer``'s certificate (two workers queued a first
    one at once): this one then ends, so each certificate keeps one chain of fetches. Should both
    end, the worker's hourly pass queues a new one."""
    others = select(Timer.id).where(
        Timer.kind == TIMER,
        Timer.status == TimerStatus.pending,
        Timer.subject_type == SUBJECT,
        Timer.subject_id == timer.subject_id,
        Timer.id != timer.id,
    )
    return session.scalar(others.limit(1)) is not None


def schedule(
    session: Session, cert: Certificate, *, due_at: datetime, now: datetime, state: dict[str, Any]
) -> Timer:
    """Queue the certificate's next fetch (its state in the timer's payload)."""
    timer = Timer(
        kind=TIMER,
        due_at=due_at,
        subject_type=SUBJECT,
        subject_id=cert.id,
        payload=state,
        status=TimerStatus.pending,
        created_at=now,
        attempts=0,
    )
    session.add(timer)
    return timer


def start(session: Session, cert: Certificate, *, now: datetime) -> bool:
    """Queue the first fetch of a certificate whose leaf names a responder; whether it does.
    A certificate that already has a pending fetch keeps it."""
    pair = leaf_and_issuer(cert.chain_pem)
    url = responder_url(pair[0]) if pair is not None else None
    if url is None:
        return False
    if cert.id is not None and state_of(session, [cert.id]):
        return True
    schedule(
        session,
        cert,
        due_at=now,
        now=now,
        state={"zone_id": cert.zone_id, "url": url, "status": "pending", "failures": 0},
    )
    return True


def _responder(cert: Certificate) -> tuple[x509.Certificate, x509.Certificate, str] | None:
    """A served certificate's leaf, issuer and responder URL; None if it is not one to staple."""
    if cert.status is not CertificateStatus.active:
        return None
    pair = leaf_and_issuer(cert.chain_pem)
    url = responder_url(pair[0]) if pair is not None else None
    if pair is None or url is None:
        return None
    return pair[0], pair[1], url


def fetch_for(cert: Certificate, *, settings: Settings, guard: OriginGuard) -> bytes | StapleRefused | None:
    """The responder's answer for a certificate, or why there is none (None: not one to staple).
    Network I/O: called outside any transaction."""
    found = _responder(cert)
    if found is None:
        return None
    leaf, issuer, url = found
    try:
        return fetch(url, build_request(leaf, issuer), guard=guard, timeout=settings.ocsp_timeout_seconds)
    except StapleRefused as exc:
        return exc


def refresh(
    session: Session,
    cert: Certificate,
    previous: dict[str, Any],
    answer: bytes | StapleRefused | None,
    *,
    now: datetime,
    settings: Settings,
    publish: Callable[[bytes | None], None],
) -> dict[str, Any] | None:
    """Check and publish one certificate's response, ``answer`` as :func:`fetch_for` brought it;
    return its next state and schedule it (None: the certificate is no longer served, nothing more
    is fetched). ``publish(der)`` sends the certificate to the edges with that staple (None:
    without one)."""
    found = _responder(cert)
    if found is None:
        return None
    leaf, issuer, url = found
    if answer is None:  # it was not one to staple when fetched, and became one since: fetch again
        answer = StapleRefused("the certificate changed while its response was fetched")
    state: dict[str, Any] = {
        "zone_id": cert.zone_id,
        "url": url,
        "status": previous.get("status", "pending"),
        "this_update": previous.get("this_update"),
        "next_update": previous.get("next_update"),
        "failures": int(previous.get("failures") or 0),
        "checked_at": now.isoformat(),
    }
    try:
        if isinstance(answer, StapleRefused):
            raise answer
        verdict = verify_response(answer, leaf=leaf, issuer=issuer, now=now)
    except StapleRefused as exc:
        log.warning("OCSP response for certificate %s (zone %s) not stapled: %s", cert.id, cert.zone_id, exc)
        state["failures"] += 1
        state["last_error"] = str(exc)[:1000]
        if state["status"] == "revoked":  # still revoked, as far as anyone knows
            state.update(
                revoked_at=previous.get("revoked_at"), revocation_reason=previous.get("revocation_reason")
            )
        else:
            state["status"] = "failing"
        served_until = _time(state["next_update"])
        due = retry_at(
            now,
            failures=state["failures"],
            base=settings.ocsp_retry_base_seconds,
            cap=settings.ocsp_retry_cap_seconds,
            next_update=served_until,
        )
        schedule(session, cert, due_at=due, now=now, state=state)
        return state
    if isinstance(verdict, Revoked):
        log.error(
            "certificate %s of zone %s is revoked (OCSP): its staple is withdrawn", cert.id, cert.zone_id
        )
        if previous.get("status") != "revoked" and previous.get("next_update"):
            publish(None)  # the edges stop stapling the earlier good response
        state.update(
            status="revoked",
            this_update=None,
            next_update=None,
            failures=0,
            last_error=None,
            revoked_at=verdict.revoked_at.isoformat(),
            revocation_reason=verdict.reason,
        )
        due = now + timedelta(seconds=settings.ocsp_retry_cap_seconds)
        schedule(session, cert, due_at=due, now=now, state=state)
        return state
    publish(verdict.der)
    state.update(
        status="good",
        this_update=verdict.this_update.isoformat(),
        next_update=verdict.next_update.isoformat(),
        failures=0,
        last_error=None,
    )
    due = refresh_at(verdict.this_update, verdict.next_update, now=now)
    schedule(session, cert, due_at=due, now=now, state=state)
    return state
