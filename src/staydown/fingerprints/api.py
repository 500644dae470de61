"""Routes for stay-down: edges report the copies they find; agents review and decide them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from staydown.api.deps import DatabaseDep, NowDep, Principal, Reader, SettingsDep, Writer, require
from staydown.api.errors import ApiError
from staydown.fingerprints import hygiene, service
from staydown.fingerprints.hashing import Fingerprint, ImageRejected
from staydown.fingerprints.models import BankScope, BankSource, MatchStatus, QuarantineStatus
from staydown.fingerprints.schemas import (
    AllowlistPage,
    AllowlistRemoval,
    BankEntryRead,
    MatchDecision,
    MatchPage,
    MatchRead,
    MatchReport,
    QuarantineDecision,
    QuarantinePage,
    QuarantineRead,
)
from staydown.types import Role

router = APIRouter(tags=["stay-down"])

EdgeKey = Annotated[Principal, Depends(require(Role.edge))]
Staff = Annotated[Principal, Depends(require(Role.agent, Role.admin))]
Deciding = Annotated[Principal, Depends(require(Role.agent))]


def _error(exc: service.StaydownError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message)


@router.post("/v1/edge/matches", response_model=MatchRead | None)
def report_match(
    report: MatchReport, who: EdgeKey, session: Writer, settings: SettingsDep, now: NowDep, response: Response
) -> MatchRead | None:
    """Record a cached copy an edge matched to a bank entry (201 new, 200 already known)."""
    try:
        match, created = service.report_match(session, report, now=now, actor=who.actor, settings=settings)
    except service.StaydownError as exc:
        raise _error(exc) from exc
    session.commit()
    response.status_code = 201 if created else 200
    return MatchRead.model_validate(match) if match is not None else None


@router.get("/v1/staydown/matches", response_model=MatchPage)
def list_matches(
    _who: Staff,
    session: Reader,
    status: MatchStatus | None = None,
    notice_id: int | None = None,
    work_id: int | None = None,
    customer_id: int | None = None,
    entry_id: int | None = None,
    page: int = Query(1, ge=1),
    per_page: int = Query(50, ge=1, le=500),
) -> MatchPage:
    """Stay-down matches, newest first."""
    rows, total = service.list_matches(
        session,
        status=status,
        notice_id=notice_id,
        work_id=work_id,
        customer_id=customer_id,
        entry_id=entry_id,
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    return MatchPage(matches=[MatchRead.model_validate(m) for m in rows], total=total)


@router.get("/v1/staydown/matches/{match_id}", response_model=MatchRead)
def read_match(match_id: int, _who: Staff, session: Reader) -> MatchRead:
    match = service.get_match(session, match_id)
    if match is None:
        raise ApiError(404, "not_found", f"match {match_id} does not exist")
    return MatchRead.model_validate(match)


@router.post("/v1/staydown/matches/{match_id}/decision", response_model=MatchRead)
def decide_match(
    match_id: int, body: MatchDecision, who: Deciding, session: Writer, settings: SettingsDep, now: NowDep
) -> MatchRead:
    """Confirm (block if it was only in review; strike as the policy says) or dismiss (lift, exempt)."""
    try:
        match = service.decide_match(
            session,
            match_id,
            decision=body.decision,
            reason=body.reason,
            now=now,
            actor=who.actor,
            settings=settings,
        )
    except service.StaydownError as exc:
        raise _error(exc) from exc
    session.commit()
    return MatchRead.model_validate(match)


def _quarantine(view: hygiene.QuarantineView) -> QuarantineRead:
    item = view.quarantine
    return QuarantineRead(
        id=item.id,
        status=item.status,
        urls=item.urls,
        window_seconds=item.window_seconds,
        started_at=item.started_at,
        decided_at=item.decided_at,
        decided_by=item.decided_by,
        decision_reason=item.decision_reason,
        entry=BankEntryRead.model_validate(view.entry),
        matches=view.matches,
    )


@router.get("/v1/staydown/hashes", response_class=PlainTextResponse)
def export_hashes(
    _who: Staff, session: Reader, source: BankSource | None = None, work_id: int | None = None
) -> PlainTextResponse:
    """The bank's PDQ hashes as a ThreatExchange hash list (``pdq <hash>`` lines)."""
    text = service.export_hashes(session, source=source, work_id=work_id)
    return PlainTextResponse(text, headers={"content-disposition": 'attachment; filename="staydown-pdq.txt"'})


@router.get("/v1/staydown/quarantines", response_model=QuarantinePage)
def list_quarantines(
    _who: Staff,
    session: Reader,
    status: QuarantineStatus | None = None,
    page: int = Query(1, ge=1),
    per_page: int = Query(50, ge=1, le=500),
) -> QuarantinePage:
    """Bank entries paused for matching too many URLs too fast, newest first."""
    views, total = hygiene.list_quarantines(
        session, status=status, limit=per_page, offset=(page - 1) * per_page
    )
    return QuarantinePage(quarantines=[_quarantine(v) for v in views], total=total)


@router.get("/v1/staydown/quarantines/{quarantine_id}", response_model=QuarantineRead)
def read_quarantine(quarantine_id: int, _who: Staff, session: Reader) -> QuarantineRead:
    view = hygiene.get_quarantine(session, quarantine_id)
    if view is None:
        raise ApiError(404, "not_found", f"quarantine {quarantine_id} does not exist")
    return _quarantine(view)


@router.post("/v1/staydown/quarantines/{quarantine_id}/decision", response_model=QuarantineRead)
def decide_quarantine(
    quarantine_id: int,
    body: QuarantineDecision,
    who: Deciding,
    session: Writer,
    settings: SettingsDep,
    now: NowDep,
) -> QuarantineRead:
    """Release the entry to the edges again, or remove it and lift the blocks it made alone."""
    try:
        view = hygiene.decide_quarantine(
            session,
            quarantine_id,
            decision=body.decision,
            reason=body.reason,
            now=now,
            actor=who.actor,
            settings=settings,
        )
    except service.StaydownError as exc:
        raise _error(exc) from exc
    session.commit()
    return _quarantine(view)


async def _fingerprints(images: list[UploadFile], settings: SettingsDep) -> list[Fingerprint]:
    limit = settings.staydown_max_image_bytes
    prints = []
    for upload in images:
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise ApiError(
                413, "image_too_large", f"{upload.filename} exceeds {limit} bytes", {"limit": limit}
            )
        try:
            prints.append(
                await run_in_threadpool(
                    service.fingerprint_reference, data, limits=service.image_limits(settings)
                )
            )
        except ImageRejected as exc:
            raise ApiError(422, "invalid_image", f"{upload.filename}: {exc.message}") from exc
    return prints


@router.post("/v1/staydown/allowlist", status_code=201, response_model=AllowlistPage)
async def add_to_allowlist(
    who: Staff,
    database: DatabaseDep,
    settings: SettingsDep,
    now: NowDep,
    note: Annotated[str, Form(min_length=3, max_length=5000, description="the licence or why it is free")],
    images: Annotated[list[UploadFile], File(description="the licensed or public-domain images")],
    scope: Annotated[BankScope, Form()] = BankScope.network,
    customer_id: Annotated[int | None, Form()] = None,
) -> AllowlistPage:
    """Allowlist images for the network or one customer: their copies are never blocked automatically."""
    prints = await _fingerprints(images, settings)

    def write() -> AllowlistPage:
        with database.writer() as session:
            entries = [
                hygiene.allow(
                    session, fp, scope=scope, customer_id=customer_id, note=note, now=now, actor=who.actor
                )
                for fp in prints
            ]
            session.commit()
            return AllowlistPage(
                entries=[BankEntryRead.model_validate(e) for e in entries], total=len(entries)
            )

    try:
        return await run_in_threadpool(write)
    except service.StaydownError as exc:
        raise _error(exc) from exc


@router.get("/v1/staydown/allowlist", response_model=AllowlistPage)
def list_allowlist(
    _who: Staff, session: Reader, page: int = Query(1, ge=1), per_page: int = Query(50, ge=1, le=500)
) -> AllowlistPage:
    rows, total = hygiene.allowlist(session, limit=per_page, offset=(page - 1) * per_page)
    return AllowlistPage(entries=[BankEntryRead.model_validate(e) for e in rows], total=total)


@router.post("/v1/staydown/allowlist/{entry_id}/remove", response_model=BankEntryRead)
def remove_from_allowlist(
    entry_id: int, body: AllowlistRemoval, who: Staff, session: Writer, now: NowDep
) -> BankEntryRead:
    """Take an image off the allowlist on every edge."""
    try:
        entry = hygiene.disallow(session, entry_id, reason=body.reason, now=now, actor=who.actor)
    except service.StaydownError as exc:
        raise _error(exc) from exc
    session.commit()
    return BankEntryRead.model_validate(entry)
