"""Routes for registered works: rightsholders upload reference images; agents and owners read them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from staydown.api.deps import DatabaseDep, NowDep, Principal, Reader, SettingsDep, require
from staydown.api.errors import ApiError
from staydown.fingerprints import service as fingerprints
from staydown.fingerprints.schemas import BankEntryRead, MatchRead
from staydown.types import Role
from staydown.works import service
from staydown.works.schemas import (
    ConflictPage,
    ConflictRead,
    ConflictWork,
    ReferenceImageRead,
    WorkCreated,
    WorkImported,
    WorkRead,
)

router = APIRouter(prefix="/v1/works", tags=["works"])

Registering = Annotated[Principal, Depends(require(Role.submitter, Role.agent, Role.admin))]
Reading = Annotated[Principal, Depends(require(Role.submitter, Role.agent, Role.admin, Role.legal))]


def _error(exc: service.WorkError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, exc.details)


@router.post("", status_code=201, response_model=WorkCreated)
async def register_work(
    who: Registering,
    database: DatabaseDep,
    settings: SettingsDep,
    now: NowDep,
    description: Annotated[str, Form(max_length=5000)],
    images: Annotated[list[UploadFile], File(description="reference images: JPEG, PNG, WebP, GIF, AVIF")],
    auto_block_distance: Annotated[
        int | None, Form(ge=0, le=256, description="tighter than the global distance (looser: agents only)")
    ] = None,
) -> WorkCreated:
    """Register a work with reference images; each is banked network-wide as stay-down content."""
    try:
        distance = service.auto_block_distance(
            auto_block_distance,
            global_bound=settings.staydown_auto_block_distance,
            review_bound=settings.staydown_review_distance,
            by_agent=who.role in (Role.agent, Role.admin),
        )
    except service.WorkError as exc:
        raise _error(exc) from exc
    limit = settings.staydown_max_image_bytes
    uploads = []
    for upload in images:
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise ApiError(
                413, "image_too_large", f"{upload.filename} exceeds {limit} bytes", {"limit": limit}
            )
        uploads.append(service.Upload(upload.filename, upload.content_type, data))
    try:
        references = await run_in_threadpool(
            service.fingerprint_uploads, uploads, limits=fingerprints.image_limits(settings)
        )
    except service.WorkError as exc:
        raise _error(exc) from exc

    def write() -> WorkCreated:
        with database.writer() as session:
            work = service.register(
                session,
                description=description,
                references=references,
                owner_key_id=who.key_id if who.role is Role.submitter else None,
                now=now,
                actor=who.actor,
                distance=distance,
            )
            session.commit()
            return WorkCreated(
                id=work.id,
                description=work.description,
                fingerprints=len(references),
                hashes=sum(len(r.fingerprint.pdq) for r in references),
                weak=sum(1 for r in references if r.fingerprint.weak),
            )

    try:
        return await run_in_threadpool(write)
    except service.WorkError as exc:
        raise _error(exc) from exc


Staff = Annotated[Principal, Depends(require(Role.agent, Role.admin))]


@router.get("/conflicts", response_model=ConflictPage)
def list_conflicts(_who: Staff, session: Reader, settings: SettingsDep) -> ConflictPage:
    """Works of different rightsholders holding the same image (or one within the automatic-block
    distance of it): an agent settles who holds it before either's copies are fought over."""
    found = service.conflicts(session, radius=settings.staydown_auto_block_distance)
    return ConflictPage(
        conflicts=[
            ConflictRead(
                works=[ConflictWork.model_validate(w) for w in c.works],
                entries=list(c.entries),
                distance=c.distance,
            )
            for c in found
        ],
        total=len(found),
    )


MAX_HASH_LIST = 80 * 1_000_000  # bytes: a million ``pdq <hash>`` lines


@router.post("/import", status_code=201, response_model=WorkImported)
async def import_hashes(
    request: Request,
    who: Registering,
    database: DatabaseDep,
    now: NowDep,
    description: Annotated[str, Query(min_length=3, max_length=5000)],
) -> WorkImported:
    """Register a work by a ThreatExchange PDQ hash list (text body, ``pdq <hash>`` a line)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_HASH_LIST:
            raise ApiError(413, "list_too_large", f"a hash list is at most {MAX_HASH_LIST} bytes")
    hash_list = fingerprints.parse_hash_list(body.decode("utf-8", errors="replace"))

    def write() -> WorkImported:
        with database.writer() as session:
            work = service.import_hashes(
                session,
                description=description,
                hashes=hash_list.hashes,
                owner_key_id=who.key_id if who.role is Role.submitter else None,
                now=now,
                actor=who.actor,
            )
            session.commit()
            return WorkImported(
                id=work.id,
                description=work.description,
                hashes=len(hash_list.hashes),
                skipped=hash_list.skipped,
            )

    try:
        return await run_in_threadpool(write)
    except service.WorkError as exc:
        raise _error(exc) from exc


@router.get("/{work_id}", response_model=WorkRead)
def read_work(work_id: int, who: Reading, session: Reader) -> WorkRead:
    """A work with its reference images, bank entries and the copies found of it."""
    work = service.get(session, work_id)
    if work is None or (who.role is Role.submitter and work.owner_key_id != who.key_id):
        raise ApiError(404, "not_found", f"work {work_id} does not exist")
    matches, _ = fingerprints.list_matches(session, work_id=work.id, limit=500)
    return WorkRead(
        id=work.id,
        description=work.description,
        created_at=work.created_at,
        auto_block_distance=work.auto_block_distance,
        images=[ReferenceImageRead.model_validate(i) for i in service.images_of(session, work.id)],
        entries=[BankEntryRead.model_validate(e) for e in fingerprints.entries_of_work(session, work.id)],
        matches=[MatchRead.model_validate(m) for m in matches],
    )
