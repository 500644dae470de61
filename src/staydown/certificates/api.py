"""Routes for zones' certificates: upload a customer's own, see what a zone is served with, and the
operator's list with expiry alerts. No answer ever carries a private key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.api.deps import NowDep, Principal, Reader, SettingsDep, Writer, require
from staydown.api.errors import ApiError
from staydown.certificates import service
from staydown.certificates.schemas import CertificateRead, CertificateUpload, ZoneCertificates
from staydown.types import Role

router = APIRouter(tags=["certificates"])

Staff = Annotated[Principal, Depends(require(Role.agent))]
StaffOrCustomer = Annotated[Principal, Depends(require(Role.agent, Role.legal, Role.customer))]
AgentOrCustomer = Annotated[Principal, Depends(require(Role.agent, Role.customer))]


def _zone_id(session: Session, zone_id: int, who: Principal) -> int:
    zone = accounts.get_zone(session, zone_id)
    if zone is None or (who.role is Role.customer and who.customer_id != zone.customer_id):
        raise ApiError(404, "not_found", f"zone {zone_id} does not exist")
    return zone.id


@router.post("/v1/zones/{zone_id}/certificate", status_code=201, response_model=ZoneCertificates)
def upload_certificate(
    zone_id: int,
    body: CertificateUpload,
    who: AgentOrCustomer,
    session: Writer,
    now: NowDep,
    settings: SettingsDep,
) -> ZoneCertificates:
    """Serve the zone with the customer's own certificate chain and key (PEM) instead of one from
    ACME. Refused with ``422 certificate_refused`` and every reason (chain order and issuers, key
    match, names covering the zone's hostnames, validity)."""
    zone_id = _zone_id(session, zone_id, who)
    try:
        service.upload(
            session,
            zone_id,
            chain_pem=body.certificate,
            key_pem=body.private_key,
            now=now,
            actor=who.actor,
            secret=settings.cert_seal_secret(),
        )
    except service.CertificateRefused as exc:
        raise ApiError(
            422, "certificate_refused", "the certificate cannot be served", {"reasons": exc.reasons}
        ) from None
    except service.CertificateError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    session.commit()
    return service.zone_certificates(session, zone_id, now=now, settings=settings)


@router.get("/v1/zones/{zone_id}/certificate", response_model=ZoneCertificates)
def get_certificate(
    zone_id: int, who: StaffOrCustomer, session: Reader, now: NowDep, settings: SettingsDep
) -> ZoneCertificates:
    """The certificate the zone is served with (or was, while suspended) and any pending ACME order."""
    zone_id = _zone_id(session, zone_id, who)
    return service.zone_certificates(session, zone_id, now=now, settings=settings)


@router.get("/v1/certificates", response_model=list[CertificateRead])
def list_certificates(
    _who: Staff, session: Reader, now: NowDep, settings: SettingsDep
) -> list[CertificateRead]:
    """Every zone's certificate, soonest expiry first, with its alerts (``expiring``, ``expired``,
    ``renewal_failing``)."""
    return service.overview(session, now=now, settings=settings)
