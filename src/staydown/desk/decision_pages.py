"""The progress of a long decision: a page that shows it (updated by ``desk.js``, or by reloading),
its figures as JSON for that script, and the way back to the notice once it is over."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from staydown.desk import decisions
from staydown.desk.service import DeskError
from staydown.desk.web import (
    PREFIX,
    DeskRoute,
    Staff,
    csrf_protect,
    database_of,
    redirect,
    render,
    settings_of,
    text_of,
)
from staydown.i18n import _

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])


def _progress(request: Request, job_id: int) -> decisions.Progress:
    database = database_of(request)
    progress = decisions.read(database, job_id)
    if progress is None:
        raise DeskError(404, _("decision %(job_id)s does not exist", job_id=job_id))
    decisions.resume_if_abandoned(
        database, progress, clock=request.app.state.clock, settings=settings_of(request)
    )
    return progress


@router.get("/decisions/{job_id}", include_in_schema=False)
def decision_progress(request: Request, job_id: int, who: Staff) -> Response:
    """Where a long decision stands."""
    progress = _progress(request, job_id)
    return render(
        request,
        "decision_job.html",
        {"job": progress, "title": _("Decision on notice %(notice_id)s", notice_id=progress.notice_id)},
    )


@router.get("/decisions/{job_id}/progress", include_in_schema=False)
def decision_progress_json(request: Request, job_id: int, who: Staff) -> Response:
    """The same as figures, for the page's script."""
    progress = _progress(request, job_id)
    return JSONResponse(
        {
            "status": progress.status,
            "done": progress.done,
            "total": progress.total,
            "percent": progress.percent,
            "summary": text_of(request, progress.summary),
        },
        headers={"cache-control": "no-store"},
    )


@router.get("/decisions/{job_id}/finished", include_in_schema=False)
def decision_finished(request: Request, job_id: int, who: Staff) -> Response:
    """Back to the notice, saying what the decision did (or where it stands, if not over)."""
    progress = _progress(request, job_id)
    if progress.status == decisions.RUNNING:
        return redirect(request, f"{PREFIX}/decisions/{job_id}")
    return redirect(request, f"{PREFIX}/notices/{progress.notice_id}", progress.summary)
