"""Works in the rightsholder portal: register a work with reference images, list one's own works,
and see a work's images, bank entries and the copies found of it.

Registration goes through the ``works`` service exactly as ``POST /v1/works`` does
(``fingerprint_uploads`` then ``register``), so a bad file refuses the whole work with that file
named, and every good image is banked network-wide with the same audit entry.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from staydown.desk.service import DeskError, DeskPrincipal
from staydown.desk.web import (
    PREFIX,
    DeskRoute,
    Pager,
    Submitter,
    csrf_protect,
    database_of,
    now_of,
    redirect,
    render,
    settings_of,
)
from staydown.fingerprints import service as fingerprints
from staydown.i18n import Message, _
from staydown.types import Role
from staydown.works import service as works

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])

PER_PAGE = 50
MAX_DESCRIPTION = 5000


def _owner(who: DeskPrincipal) -> int | None:
    """Whose works a principal registers and lists: a rightsholder's own; staff's are the network's."""
    return who.key_id if who.role is Role.submitter else None


def _page(
    request: Request,
    who: DeskPrincipal,
    *,
    description: str = "",
    problems: list[dict[str, Any]] | None = None,
    error: str | Message | None = None,
    page: int = 1,
    status: int = 200,
) -> Response:
    with database_of(request).reader() as session:
        # One more than a page tells whether another page follows without counting them all.
        rows = list(works.list_for_owner(session, _owner(who), limit=page * PER_PAGE + 1))
    shown = rows[(page - 1) * PER_PAGE : page * PER_PAGE]
    settings = settings_of(request)
    return render(
        request,
        "works.html",
        {
            "works": shown,
            "pager": Pager(page=page, per_page=PER_PAGE, total=None, more=len(rows) > page * PER_PAGE),
            "description": description,
            "problems": problems or [],
            "error": error,
            "max_images": works.MAX_IMAGES,
            "max_bytes": settings.staydown_max_image_bytes,
            "title": _("Works"),
        },
        status=status,
    )


@router.get("/works", include_in_schema=False)
def list_works(request: Request, who: Submitter, page: Annotated[int, Query(ge=1, le=200)] = 1) -> Response:
    """The rightsholder's own works, newest first, and the registration form."""
    return _page(request, who, page=page)


@router.post("/works", include_in_schema=False)
async def register_work(request: Request, who: Submitter) -> Response:
    """Register a work from the form: a description and several reference images."""
    form = await request.form()
    try:
        return await _register(request, who, form)
    finally:
        await form.close()  # the uploaded files' spooled temporary files


async def _register(request: Request, who: DeskPrincipal, form: FormData) -> Response:
    value = form.get("description")
    description = value.strip() if isinstance(value, str) else ""
    if not 3 <= len(description) <= MAX_DESCRIPTION:
        return await run_in_threadpool(
            _page,
            request,
            who,
            description=description[:MAX_DESCRIPTION],
            error=_(
                "describe the work in 3 to %(limit)s characters (title, volume, pages)", limit=MAX_DESCRIPTION
            ),
            status=422,
        )
    files = [f for f in form.getlist("images") if isinstance(f, UploadFile) and f.filename]
    settings = settings_of(request)
    limit = settings.staydown_max_image_bytes
    uploads, too_large = [], []
    for position, upload in enumerate(files):
        data = await upload.read(limit + 1)
        if len(data) > limit:
            too_large.append(
                {
                    "image": position,
                    "filename": upload.filename,
                    "code": "image_too_large",
                    "message": f"the file is over {limit} bytes",
                }
            )
        uploads.append(works.Upload(upload.filename, upload.content_type, data))
    if too_large:
        return await run_in_threadpool(
            _page,
            request,
            who,
            description=description,
            error=_("some files are too large; the work was not registered"),
            problems=too_large,
            status=413,
        )
    try:
        references = await run_in_threadpool(
            works.fingerprint_uploads, uploads, limits=fingerprints.image_limits(settings)
        )
    except works.WorkError as exc:
        details = exc.details if isinstance(exc.details, list) else []
        return await run_in_threadpool(
            _page,
            request,
            who,
            description=description,
            error=exc.message
            if not details
            else _("these files cannot be used; the work was not registered"),
            problems=details,
            status=exc.status,
        )

    def write() -> int:
        with database_of(request).writer() as session:
            work = works.register(
                session,
                description=description,
                references=references,
                owner_key_id=_owner(who),
                now=now_of(request),
                actor=who.actor,
            )
            session.commit()
            return work.id

    work_id = await run_in_threadpool(write)
    return redirect(
        request,
        f"{PREFIX}/works/{work_id}",
        _(
            "Work %(id)s registered with %(count)s reference image(s); edges now keep copies out.",
            id=work_id,
            count=len(references),
        ),
    )


@router.get("/works/{work_id}", include_in_schema=False)
def work_detail(request: Request, work_id: int, who: Submitter) -> Response:
    """A work with its reference images, bank entries and the copies found of it."""
    with database_of(request).reader() as session:
        work = works.get(session, work_id)
        if work is None or (who.role is Role.submitter and work.owner_key_id != who.key_id):
            raise DeskError(404, _("work %(work_id)s does not exist", work_id=work_id))
        images = works.images_of(session, work.id)
        entries = fingerprints.entries_of_work(session, work.id)
        matches, total = fingerprints.list_matches(session, work_id=work.id, limit=500)
    return render(
        request,
        "work.html",
        {
            "work": work,
            "images": images,
            "entries": {e.id: e for e in entries},
            "matches": matches,
            "match_total": total,
            "title": _("Work %(id)s", id=work.id),
        },
    )
