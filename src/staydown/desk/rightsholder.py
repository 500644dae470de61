"""The rightsholder portal: a notice form that explains every legal element and names the missing
ones before submitting, a CSV bulk upload, and the status of each notice and item.

Submissions go through the API's own schema (``NoticeCreate``) and intake (``notices.submit``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from staydown.desk import labels, present
from staydown.desk.agent import visible_notice
from staydown.desk.queries import item_status_counts, notice_page
from staydown.desk.service import DeskError, DeskPrincipal
from staydown.desk.web import (
    PREFIX,
    DeskRoute,
    Pager,
    Submitter,
    csrf_protect,
    database_of,
    environment_for,
    locale_of,
    now_of,
    redirect,
    render,
    settings_of,
)
from staydown.i18n import Message, _
from staydown.notices import service as notices
from staydown.notices.flows import NoticeStatus
from staydown.notices.models import Notice
from staydown.notices.schemas import NoticeCreate, NoticeSupplement
from staydown.notices.service import NoticeError
from staydown.types import Regime, Role

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])

FIELDS = (
    "regime",
    "name",
    "email",
    "address",
    "phone",
    "organization",
    "on_behalf_of",
    "works",
    "reference_urls",
    "urls",
    "explanation",
    "good_faith",
    "accurate",
    "authorized",
    "signature",
)
MAX_CSV_BYTES = 16 * 1024 * 1024


async def form_fields(request: Request) -> AsyncIterator[dict[str, str]]:
    """The notice form's text fields; an uploaded file is closed once the request is answered."""
    form = await request.form()
    try:
        yield {name: value for name in FIELDS if isinstance(value := form.get(name), str)}
    finally:
        await form.close()


Fields = Annotated[dict[str, str], Depends(form_fields)]


def _guide(locale: str) -> dict[str, list[dict[str, str]]]:
    return {regime.value: present.elements_of(regime, locale) for regime in Regime}


def _form_page(
    request: Request,
    form: dict[str, str],
    *,
    bulk: bool = False,
    errors: Sequence[str | Message] | None = None,
    checked: bool = False,
    status: int = 200,
) -> Response:
    urls = present.form_urls(form.get("urls", "")) if not bulk else ["(from the file)"]
    return render(
        request,
        "submit.html",
        {
            "form": form,
            "bulk": bulk,
            "errors": errors or [],
            "missing": present.missing_before_submit(form, urls, locale_of(request)),
            "checked": checked,
            "guide": _guide(locale_of(request)),
            "regimes": notices.all_regime_rules(),
            "title": _("Bulk upload") if bulk else _("Submit a notice"),
        },
        status=status,
    )


@router.get("/submit", include_in_schema=False)
def submit_page(request: Request, who: Submitter) -> Response:
    return _form_page(request, {"regime": notices.DEFAULT_REGIME.value})


@router.get("/submit/bulk", include_in_schema=False)
def bulk_page(request: Request, who: Submitter) -> Response:
    return _form_page(request, {"regime": notices.DEFAULT_REGIME.value}, bulk=True)


@router.post("/submit/check", include_in_schema=False)
def check(
    request: Request, who: Submitter, form: Fields, fragment: Annotated[bool, Query()] = False
) -> Response:
    """Name the missing elements without submitting (the page's script asks for the fragment)."""
    bulk = form.get("urls") is None and request.query_params.get("bulk") == "1"
    urls = ["(from the file)"] if bulk else present.form_urls(form.get("urls", ""))
    missing = present.missing_before_submit(form, urls, locale_of(request))
    if fragment:
        html = environment_for(request).get_template("_missing.html").render(missing=missing, checked=True)
        return HTMLResponse(html, headers={"cache-control": "no-store"})
    return _form_page(request, form, checked=True, bulk=bulk)


def _submit(request: Request, who: DeskPrincipal, form: dict[str, str], urls: list[str]) -> int | list[str]:
    """Submit through the intake; return the notice id, or the errors to show on the form."""
    try:
        data = NoticeCreate.model_validate(present.notice_document(form, urls))
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:20]]
    by = notices.Submitter(
        key_id=who.key_id,
        trusted=who.trusted,
        actor=who.actor,
        source_ip=request.client.host if request.client else None,
    )
    with database_of(request).writer() as session:
        try:
            notice = notices.submit(session, data, by=by, now=now_of(request), settings=settings_of(request))
        except NoticeError as exc:
            session.rollback()
            details = exc.details if isinstance(exc.details, list) else []
            return [exc.message] + [
                f"line {d['index'] + 1}: {d['url']}: {d['message']}" for d in details[:20] if "index" in d
            ]
        if notice.rejected_items:
            # A person at the form fixes the lines instead: nothing is submitted until every URL is valid.
            rejected = list(notice.rejected_items)
            session.rollback()
            return [f"{len(rejected)} of {len(urls)} URL(s) are not valid; the notice was not submitted"] + [
                f"line {r['index'] + 1}: {r['url']}: {r['message']}" for r in rejected[:20]
            ]
        session.commit()
        return notice.id


def _outcome(request: Request, notice_id: int) -> Response:
    return redirect(
        request, f"{PREFIX}/notices/{notice_id}", _("Notice %(notice_id)s received.", notice_id=notice_id)
    )


@router.post("/submit", include_in_schema=False)
def submit(request: Request, who: Submitter, form: Fields) -> Response:
    urls = present.form_urls(form.get("urls", ""))
    if len(urls) > present.MAX_FORM_URLS:
        return _form_page(
            request,
            form,
            errors=[
                _(
                    "the form takes at most %(limit)s URLs; use the bulk upload for more",
                    limit=present.MAX_FORM_URLS,
                )
            ],
            status=422,
        )
    result = _submit(request, who, form, urls)
    if isinstance(result, list):
        return _form_page(request, form, errors=result, status=422)
    return _outcome(request, result)


@router.post("/submit/bulk", include_in_schema=False)
async def submit_bulk(request: Request, who: Submitter, form: Fields) -> Response:
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _form_page(request, form, bulk=True, errors=[_("choose a CSV file of URLs")], status=422)
    data = await upload.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        return _form_page(
            request,
            form,
            bulk=True,
            errors=[_("the file is over %(limit)s bytes", limit=MAX_CSV_BYTES)],
            status=413,
        )
    try:
        urls = present.csv_urls(data)
    except present.CsvError as exc:
        return _form_page(
            request,
            form,
            bulk=True,
            errors=[_("%(file)s: %(error)s", file=upload.filename, error=exc.args[0])],
            status=422,
        )
    result = await run_in_threadpool(_submit, request, who, form, urls)
    if isinstance(result, list):
        return _form_page(request, form, bulk=True, errors=result, status=422)
    return _outcome(request, result)


@router.get("/my/notices", include_in_schema=False)
def my_notices(request: Request, who: Submitter, page: Annotated[int, Query(ge=1)] = 1) -> Response:
    now = now_of(request)
    with database_of(request).reader() as session:
        rows, total, _more = notice_page(
            session, submitter_key_id=who.key_id, offset=(page - 1) * 50, limit=50
        )
        counts = item_status_counts(session, [n.id for n in rows])
    entries: list[dict[str, Any]] = [
        {
            "notice": n,
            "sla": present.sla(status=n.status, deadline_at=n.deadline_at, decided_at=n.decided_at, now=now),
            "counts": counts.get(n.id, {}),
        }
        for n in rows
    ]
    return render(
        request,
        "my_notices.html",
        {"entries": entries, "pager": Pager(page=page, per_page=50, total=total), "title": _("My notices")},
    )


SUPPLEMENT_FIELDS = (
    "name",
    "email",
    "address",
    "phone",
    "works",
    "explanation",
    "good_faith",
    "accurate",
    "authorized",
    "signature",
)


def _incomplete(request: Request, who: DeskPrincipal, notice_id: int) -> Notice:
    with database_of(request).reader() as session:
        notice = visible_notice(session, notice_id, who)
    if who.role is not Role.submitter or notice.submitter_key_id != who.key_id:
        raise DeskError(403, _("only the notifier who sent the notice completes it"))
    if notice.status is not NoticeStatus.incomplete:
        raise DeskError(
            409,
            _(
                "notice %(notice_id)s is %(value)s: nothing is missing from it",
                notice_id=notice_id,
                value=labels.LABELS[notice.status.value],
            ),
        )
    return notice


def _supplement_page(
    request: Request, notice: Notice, errors: list[str] | None = None, *, status: int = 200
) -> Response:
    return render(
        request,
        "supplement.html",
        {
            "notice": notice,
            "explanations": notices.explanations(notice, locale_of(request)),
            "errors": errors or [],
            "title": _("Complete notice %(id)s", id=notice.id),
        },
        status=status,
    )


def supplement_document(form: dict[str, str], notice: Notice) -> dict[str, Any]:
    """The API's supplement body from the desk form: only what was filled in replaces the old."""
    document: dict[str, Any] = {}
    contact = {f: form.get(f, "").strip() or None for f in ("name", "email", "address", "phone")}
    if any(contact.values()):
        document["submitter"] = contact
    if works := form.get("works", "").strip():
        document["works"] = [{"description": works}]
    if explanation := form.get("explanation", "").strip():
        document["explanation"] = explanation
    ticked = {s: form.get(s) == "on" for s in ("good_faith", "accurate", "authorized")}
    if any(ticked.values()):  # a statement made before stays made
        document["statements"] = {s: ticked[s] or bool(getattr(notice, f"statement_{s}")) for s in ticked}
    if signature := form.get("signature", "").strip():
        document["signature"] = signature
    return document


@router.get("/notices/{notice_id}/supplement", include_in_schema=False)
def supplement_page(request: Request, notice_id: int, who: Submitter) -> Response:
    return _supplement_page(request, _incomplete(request, who, notice_id))


@router.post("/notices/{notice_id}/supplement", include_in_schema=False)
async def supplement(request: Request, notice_id: int, who: Submitter) -> Response:
    form_data = await request.form()
    form = {name: value for name in SUPPLEMENT_FIELDS if isinstance(value := form_data.get(name), str)}
    return await run_in_threadpool(_supplement, request, notice_id, who, form)


def _supplement(request: Request, notice_id: int, who: DeskPrincipal, form: dict[str, str]) -> Response:
    notice = _incomplete(request, who, notice_id)
    try:
        data = NoticeSupplement.model_validate(supplement_document(form, notice))
    except ValidationError as exc:
        errors = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:20]]
        return _supplement_page(request, notice, errors, status=422)
    by = notices.Submitter(
        key_id=who.key_id,
        trusted=notice.trusted,
        actor=who.actor,
        source_ip=request.client.host if request.client else None,
    )
    with database_of(request).writer() as session:
        current = notices.get(session, notice_id)
        assert current is not None
        notices.supplement(session, current, data, by=by, now=now_of(request), settings=settings_of(request))
        session.commit()
        still = list(current.missing_elements or [])
        status = current.status.value
    message = (
        _("Notice %(id)s is complete and is now %(status)s.", id=notice_id, status=labels.LABELS[status])
        if not still
        else _("Notice %(id)s still lacks: %(missing)s.", id=notice_id, missing=", ".join(still))
    )
    return redirect(request, f"{PREFIX}/notices/{notice_id}", message)
