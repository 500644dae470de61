"""Routes for counter-notices, court actions, internal complaints, notifier measures and statements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from staydown.api.deps import NowDep, Principal, Reader, SettingsDep, Writer, require
from staydown.api.errors import ApiError
from staydown.due_process import service
from staydown.due_process.awards import AwardEvent
from staydown.due_process.flows import Complainant, ComplaintStatus, CounterNoticeStatus
from staydown.due_process.models import Complaint
from staydown.due_process.schemas import (
    AwardChange,
    AwardCreate,
    AwardRead,
    ComplaintCreate,
    ComplaintDecision,
    ComplaintRead,
    CounterNoticeCreate,
    CounterNoticeRead,
    CourtActionCreate,
    CourtActionRead,
    MeasureRead,
    NotifierStanding,
    RestrictionPage,
    StatementRead,
    TrustChange,
    UnfoundedCreate,
    UnfoundedRead,
)
from staydown.types import Role

router = APIRouter(tags=["due process"])

CounterNoticing = Annotated[Principal, Depends(require(Role.customer, Role.agent))]
Complaining = Annotated[Principal, Depends(require(Role.customer, Role.submitter))]
Reporting = Annotated[Principal, Depends(require(Role.submitter, Role.agent, Role.legal))]
Staff = Annotated[Principal, Depends(require(Role.agent))]
Reading = Annotated[Principal, Depends(require(Role.agent, Role.legal, Role.customer, Role.submitter))]
StaffOrLegal = Annotated[Principal, Depends(require(Role.agent, Role.legal))]
Admin = Annotated[Principal, Depends(require())]


@contextmanager
def _answering() -> Iterator[None]:
    """Render a refused due-process step in the common error shape."""
    try:
        yield
    except service.DueProcessError as exc:
        raise ApiError(exc.status, exc.code, exc.message, exc.details) from exc


@router.post("/v1/counter-notices", status_code=201, response_model=CounterNoticeRead)
def file_counter_notice(
    body: CounterNoticeCreate, who: CounterNoticing, session: Writer, now: NowDep, settings: SettingsDep
) -> CounterNoticeRead:
    """File a counter-notice (17 U.S.C. 512(g)(3)) against blocked items of your zones."""
    if who.role is Role.customer and who.customer_id is None:
        raise ApiError(404, "not_found", f"notice {body.notice_id} does not exist")
    with _answering():
        counter = service.file_counter_notice(
            session,
            body,
            customer_id=who.customer_id if who.role is Role.customer else None,
            key_id=who.key_id,
            actor=who.actor,
            now=now,
            settings=settings,
            channel="api" if who.role is Role.customer else "desk",
        )
    session.commit()
    return service.counter_notice_read(session, counter)


@router.get("/v1/counter-notices", response_model=list[CounterNoticeRead])
def list_counter_notices(
    who: Reading,
    session: Reader,
    status: CounterNoticeStatus | None = None,
    notice_id: int | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[CounterNoticeRead]:
    """Counter-notices, next restoration first (a customer sees its own)."""
    if who.role is Role.submitter or (who.role is Role.customer and who.customer_id is None):
        return []
    customer_id = who.customer_id if who.role is Role.customer else None
    rows = service.list_counter_notices(
        session, status=status, notice_id=notice_id, customer_id=customer_id, limit=limit
    )
    return [service.counter_notice_read(session, row) for row in rows]


@router.get("/v1/counter-notices/{counter_notice_id}", response_model=CounterNoticeRead)
def get_counter_notice(counter_notice_id: int, who: Reading, session: Reader) -> CounterNoticeRead:
    counter = service.get_counter_notice(session, counter_notice_id)
    hidden = counter is None or (who.role is Role.customer and who.customer_id != counter.customer_id)
    if counter is None or hidden or who.role is Role.submitter:
        raise ApiError(404, "not_found", f"counter-notice {counter_notice_id} does not exist")
    return service.counter_notice_read(session, counter)


@router.post("/v1/notices/{notice_id}/court-action", response_model=CourtActionRead)
def report_court_action(
    notice_id: int,
    body: CourtActionCreate,
    who: Reporting,
    session: Writer,
    now: NowDep,
    settings: SettingsDep,
) -> CourtActionRead:
    """The complainant reports a court action: pending restorations stop and the items stay blocked."""
    with _answering():
        counters, kept = service.report_court_action(
            session,
            notice_id,
            body,
            submitter_key_id=who.key_id if who.role is Role.submitter else None,
            actor=who.actor,
            now=now,
            settings=settings,
        )
    session.commit()
    return CourtActionRead(
        notice_id=notice_id,
        counter_notices=[service.counter_notice_read(session, counter) for counter in counters],
        items_kept_blocked=kept,
    )


@router.post("/v1/complaints", status_code=201, response_model=ComplaintRead)
def file_complaint(
    body: ComplaintCreate, who: Complaining, session: Writer, now: NowDep, settings: SettingsDep
) -> ComplaintRead:
    """Lodge an internal complaint (DSA Art. 20): a customer against a block, a notifier a rejection."""
    complainant = Complainant.notifier if who.role is Role.submitter else Complainant.customer
    if who.role is Role.admin:
        raise ApiError(403, "forbidden", "complaints are lodged by the customer or the notifier concerned")
    with _answering():
        complaint = service.file_complaint(
            session,
            body,
            complainant=complainant,
            customer_id=who.customer_id,
            key_id=who.key_id,
            actor=who.actor,
            now=now,
            settings=settings,
        )
    session.commit()
    return service.complaint_read(complaint, settings)


@router.get("/v1/complaints", response_model=list[ComplaintRead])
def list_complaints(
    who: Reading,
    session: Reader,
    settings: SettingsDep,
    status: ComplaintStatus | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[ComplaintRead]:
    """Complaints, oldest first (an agent sees every one; a customer or notifier its own)."""
    customer_id = who.customer_id if who.role is Role.customer else None
    key_id = who.key_id if who.role is Role.submitter else None
    if who.role is Role.customer and customer_id is None:
        return []
    rows = service.list_complaints(
        session, status=status, customer_id=customer_id, key_id=key_id, limit=limit
    )
    return [service.complaint_read(row, settings) for row in rows]


def _visible_complaint(session: Reader, complaint_id: int, who: Principal) -> Complaint:
    complaint = service.get_complaint(session, complaint_id)
    if (
        complaint is None
        or (who.role is Role.customer and complaint.customer_id != who.customer_id)
        or (who.role is Role.submitter and complaint.filed_by_key_id != who.key_id)
    ):
        raise ApiError(404, "not_found", f"complaint {complaint_id} does not exist")
    return complaint


@router.get("/v1/complaints/{complaint_id}", response_model=ComplaintRead)
def get_complaint(complaint_id: int, who: Reading, session: Reader, settings: SettingsDep) -> ComplaintRead:
    return service.complaint_read(_visible_complaint(session, complaint_id, who), settings)


@router.post("/v1/complaints/{complaint_id}/decision", response_model=ComplaintRead)
def decide_complaint(
    complaint_id: int,
    body: ComplaintDecision,
    who: Staff,
    session: Writer,
    now: NowDep,
    settings: SettingsDep,
) -> ComplaintRead:
    """Decide a complaint with reasons; an agent who took the contested decision may not."""
    complaint = _visible_complaint(session, complaint_id, who)
    with _answering():
        service.decide_complaint(
            session,
            complaint,
            upheld=body.outcome == "upheld",
            answer=body.reason,
            actor=who.actor,
            now=now,
            settings=settings,
        )
    session.commit()
    return service.complaint_read(complaint, settings)


@router.post("/v1/notices/{notice_id}/manifestly-unfounded", status_code=201, response_model=UnfoundedRead)
def mark_unfounded(
    notice_id: int, body: UnfoundedCreate, who: Staff, session: Writer, now: NowDep, settings: SettingsDep
) -> UnfoundedRead:
    """Find a notice manifestly unfounded; the notifier is warned, then suspended (DSA Art. 23(2))."""
    with _answering():
        finding, measure = service.mark_unfounded(
            session, notice_id, reason=body.reason, actor=who.actor, now=now, settings=settings
        )
    session.commit()
    return UnfoundedRead(
        notice_id=finding.notice_id,
        submitter_key_id=finding.submitter_key_id,
        found_at=finding.found_at,
        reason=finding.reason,
        measure=MeasureRead.model_validate(measure) if measure else None,
    )


@router.get("/v1/notifiers/{key_id}", response_model=NotifierStanding)
def notifier_standing(key_id: int, who: Reading, session: Reader, now: NowDep) -> NotifierStanding:
    """Measures taken against a notifier (a submitter sees its own)."""
    if who.role is Role.customer or (who.role is Role.submitter and who.key_id != key_id):
        raise ApiError(404, "not_found", f"notifier {key_id} does not exist")
    until, revoked = service.standing(session, key_id, now=now)
    return NotifierStanding(
        submitter_key_id=key_id,
        suspended_until=until,
        trust_revoked=revoked,
        unfounded_notices=service.unfounded_count(session, key_id),
        measures=[MeasureRead.model_validate(m) for m in service.list_measures(session, key_id)],
    )


def _trust(revoke: bool) -> Callable[..., MeasureRead]:
    def change(key_id: int, body: TrustChange, who: Staff, session: Writer, now: NowDep) -> MeasureRead:
        with _answering():
            measure = service.change_trust(
                session, key_id, revoke=revoke, reason=body.reason, actor=who.actor, now=now
            )
        session.commit()
        return MeasureRead.model_validate(measure)

    change.__name__ = "revoke_trust" if revoke else "restore_trust"
    return change


router.add_api_route(
    "/v1/notifiers/{key_id}/revoke-trust",
    _trust(True),
    methods=["POST"],
    response_model=MeasureRead,
    summary="Revoke a trusted flagger's trust: its next notices wait for review",
)
router.add_api_route(
    "/v1/notifiers/{key_id}/restore-trust",
    _trust(False),
    methods=["POST"],
    response_model=MeasureRead,
    summary="Restore a notifier's trusted-flagger treatment",
)


@router.post("/v1/notifiers/{key_id}/trusted-flagger-awards", status_code=201, response_model=AwardRead)
def record_award(key_id: int, body: AwardCreate, who: Admin, session: Writer, now: NowDep) -> AwardRead:
    """Record a Digital Services Coordinator's award of trusted-flagger status (DSA Art. 22(2))."""
    with _answering():
        award = service.record_award(session, key_id, body, now=now, actor=who.actor)
    session.commit()
    return service.read_award(award, now=now)


@router.get("/v1/notifiers/{key_id}/trusted-flagger-awards", response_model=list[AwardRead])
def notifier_awards(key_id: int, who: Staff, session: Reader, now: NowDep) -> list[AwardRead]:
    """A notifier's awards, newest first."""
    return [service.read_award(a, now=now) for a in service.list_awards(session, submitter_key_id=key_id)]


@router.get("/v1/trusted-flagger-awards", response_model=list[AwardRead])
def list_awards(who: Staff, session: Reader, now: NowDep) -> list[AwardRead]:
    """Every award recorded, newest first, with whether it gives priority now."""
    return [service.read_award(a, now=now) for a in service.list_awards(session)]


def _award_change(event: AwardEvent) -> Callable[..., AwardRead]:
    def change(award_id: int, body: AwardChange, who: Admin, session: Writer, now: NowDep) -> AwardRead:
        with _answering():
            award = service.change_award(session, award_id, event, body, now=now, actor=who.actor)
        session.commit()
        return service.read_award(award, now=now)

    change.__name__ = f"{event.value}_award"
    return change


for _event, _summary in (
    (AwardEvent.suspend, "Record the coordinator's suspension of the status (DSA Art. 22(6))"),
    (AwardEvent.reinstate, "Record that the coordinator ended the suspension without revoking"),
    (AwardEvent.revoke, "Record the coordinator's revocation of the status (DSA Art. 22(7))"),
):
    router.add_api_route(
        f"/v1/trusted-flagger-awards/{{award_id}}/{_event.value}",
        _award_change(_event),
        methods=["POST"],
        response_model=AwardRead,
        summary=_summary,
    )


@router.get("/v1/statements", response_model=list[StatementRead])
def list_statements(
    who: Reading,
    session: Reader,
    notice_id: int | None = None,
    customer_id: int | None = None,
    zone_id: int | None = None,
    item_id: int | None = None,
    limit: int = Query(1000, ge=1, le=10_000),
) -> list[StatementRead]:
    """Statements of reasons as kept (a customer sees those sent to it)."""
    if who.role is Role.submitter:
        raise ApiError(403, "forbidden", "statements of reasons go to the customers they concern")
    if who.role is Role.customer:
        if who.customer_id is None:
            return []
        customer_id = who.customer_id
    rows = service.find_statements(
        session, customer_id=customer_id, notice_id=notice_id, zone_id=zone_id, item_id=item_id, limit=limit
    )
    return [service.read(row) for row in rows]


@router.get("/v1/statements/{puid}", response_model=StatementRead)
def get_statement(puid: str, who: Reading, session: Reader) -> StatementRead:
    row = service.get_statement(session, puid)
    if (
        row is None
        or who.role is Role.submitter
        or (who.role is Role.customer and row.customer_id != who.customer_id)
    ):
        raise ApiError(404, "not_found", f"statement {puid} does not exist")
    return service.read(row)


Restricted = Annotated[Principal, Depends(require(Role.customer, Role.agent, Role.legal))]


@router.get("/v1/restrictions", response_model=RestrictionPage)
def list_restrictions(
    who: Restricted,
    session: Reader,
    customer_id: int | None = Query(None, ge=1, description="Whose (agents); a customer sees its own."),
    page: int = Query(1, ge=1, le=100_000),
    per_page: int = Query(100, ge=1, le=1000),
) -> RestrictionPage:
    """Every restriction in force on a customer's zones: notice items, stay-down and registered-work
    matches, zone suspensions and terminations, each with its statement of reasons and how to
    contest it."""
    if who.role is Role.customer:
        if who.customer_id is None:
            return RestrictionPage(restrictions=[], total=0, page=page, per_page=per_page)
        customer_id = who.customer_id
    elif customer_id is None:
        raise ApiError(422, "customer_required", "name the customer: ?customer_id=")
    offset = (page - 1) * per_page
    views, total = service.restrictions_in_force(session, customer_id, offset=offset, limit=per_page)
    listed = [service.restriction_read(view) for view in views]
    return RestrictionPage(restrictions=listed, total=total, page=page, per_page=per_page)
