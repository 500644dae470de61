"""Routes for the dossier, serial-infringer reviews and customer links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from staydown.accounts import service as accounts
from staydown.api.deps import NowDep, Principal, Reader, SettingsDep, Writer, require
from staydown.api.errors import ApiError
from staydown.serial import service
from staydown.serial.models import ReviewStatus
from staydown.serial.schemas import (
    Dossier,
    LinkRead,
    LinkReviewCreate,
    ReviewDecisionCreate,
    ReviewRead,
    ServedReportCreate,
    ServedReportResult,
)
from staydown.types import Role

router = APIRouter(tags=["serial"])

Staff = Annotated[Principal, Depends(require(Role.agent))]
StaffOrLegal = Annotated[Principal, Depends(require(Role.agent, Role.legal))]
EdgeKey = Annotated[Principal, Depends(require(Role.edge))]


@router.post("/v1/edge/served", response_model=ServedReportResult)
def served(report: ServedReportCreate, who: EdgeKey, session: Writer, now: NowDep) -> ServedReportResult:
    """An edge worker's served-request counts since its last report, per zone and resource; a
    (reporter, seq) already counted is answered ``counted: false`` and changes nothing."""
    try:
        result = service.record_served(session, report, key_id=who.key_id, now=now)
    except service.SerialError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    session.commit()
    return result


@router.get("/v1/customers/{customer_id}/dossier", response_model=Dossier)
def dossier(customer_id: int, _who: StaffOrLegal, session: Reader, now: NowDep) -> Dossier:
    """What the provider knows of the customer and each of its zones, and since when."""
    customer = accounts.get_customer(session, customer_id)
    if customer is None:
        raise ApiError(404, "not_found", f"customer {customer_id} does not exist")
    return service.build_dossier(session, customer, as_of=now)


@router.get("/v1/serial-reviews", response_model=list[ReviewRead])
def reviews(
    _who: StaffOrLegal, session: Reader, status: ReviewStatus | None = None, customer_id: int | None = None
) -> list[ReviewRead]:
    """Serial-infringer reviews, newest first."""
    return [
        ReviewRead.model_validate(r)
        for r in service.list_reviews(session, customer_id=customer_id, status=status)
    ]


@router.get("/v1/serial-reviews/{review_id}", response_model=ReviewRead)
def review(review_id: int, _who: StaffOrLegal, session: Reader) -> ReviewRead:
    found = service.get_review(session, review_id)
    if found is None:
        raise ApiError(404, "not_found", f"review {review_id} does not exist")
    return ReviewRead.model_validate(found)


@router.post("/v1/serial-reviews/{review_id}/decision", response_model=ReviewRead)
def decide(
    review_id: int,
    body: ReviewDecisionCreate,
    who: Staff,
    session: Writer,
    now: NowDep,
    settings: SettingsDep,
) -> ReviewRead:
    """Decide a review (agent): terminate, suspend or keep, with reasons; a policy step."""
    found = service.get_review(session, review_id)
    if found is None:
        raise ApiError(404, "not_found", f"review {review_id} does not exist")
    try:
        service.decide(
            session, found, body.decision, reason=body.reason, now=now, actor=who.actor, settings=settings
        )
    except service.SerialError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    session.commit()
    return ReviewRead.model_validate(found)


@router.get("/v1/customers/{customer_id}/links", response_model=list[LinkRead])
def links(customer_id: int, _who: StaffOrLegal, session: Reader) -> list[LinkRead]:
    """The suspended or terminated customers this one is linked to, with the evidence."""
    return [LinkRead.model_validate(link) for link in service.links_of(session, customer_id)]


@router.post("/v1/customer-links/{link_id}/review", response_model=LinkRead)
def review_link(
    link_id: int, body: LinkReviewCreate, who: Staff, session: Writer, now: NowDep, settings: SettingsDep
) -> LinkRead:
    """Review a link (agent): ``clear`` lets the customer's zones go live, ``confirm`` terminates it."""
    try:
        link = service.review_link(
            session,
            link_id,
            decision=body.decision,
            reason=body.reason,
            now=now,
            actor=who.actor,
            settings=settings,
        )
    except service.SerialError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    session.commit()
    return LinkRead.model_validate(link)
