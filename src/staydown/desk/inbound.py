"""Agent pages for mail that could not be read automatically: the triage queue, and each message
with a notice form pre-filled from what was read, or an answer to its sender.

Both ways out call the inbound domain's service (``make_notice``, ``answer``), which the API calls
too, so a notice made here goes through the same intake, elements check and workflow.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from staydown.desk import present
from staydown.desk.rightsholder import Fields
from staydown.desk.service import DeskError
from staydown.desk.web import (
    PREFIX,
    DeskRoute,
    Pager,
    Staff,
    csrf_protect,
    database_of,
    now_of,
    redirect,
    render,
    settings_of,
)
from staydown.i18n import _
from staydown.inbound import service as inbound
from staydown.notices import service as notices
from staydown.notices.schemas import NoticeCreate
from staydown.types import Regime

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])

PER_PAGE = 50


@router.get("/inbound", include_in_schema=False)
def triage(request: Request, who: Staff, page: Annotated[int, Query(ge=1)] = 1) -> Response:
    """Mail a person must read, oldest unanswered first on the last page, newest first here."""
    with database_of(request).reader() as session:
        rows, total = inbound.triage_queue(session, page=page, per_page=PER_PAGE)
    return render(
        request,
        "inbound.html",
        {
            "messages": rows,
            "pager": Pager(page=page, per_page=PER_PAGE, total=total),
            "title": _("Mail triage"),
        },
    )


def _prefilled(extracted: dict[str, Any]) -> dict[str, str]:
    """The notice form's fields, filled with what was read from the message."""
    draft = extracted.get("draft") or {}
    form = {
        "regime": draft.get("regime") or notices.DEFAULT_REGIME.value,
        "name": draft.get("name") or extracted.get("from_name") or "",
        "email": draft.get("email") or extracted.get("from") or "",
        "address": draft.get("address") or "",
        "phone": draft.get("phone") or "",
        "organization": draft.get("organization") or "",
        "on_behalf_of": draft.get("on_behalf_of") or "",
        "works": "; ".join(draft.get("works") or []),
        "urls": "\n".join(draft.get("urls") or []),
        "explanation": draft.get("explanation") or extracted.get("text", "")[:5000],
        "signature": draft.get("signature") or "",
    }
    for statement in ("good_faith", "accurate", "authorized"):
        if draft.get(statement):
            form[statement] = "on"
    return form


def _message_page(
    request: Request, message_id: int, form: dict[str, str] | None, errors: list[str]
) -> Response:
    with database_of(request).reader() as session:
        row = inbound.get(session, message_id)
        if row is None:
            raise DeskError(404, _("inbound message %(message_id)s does not exist", message_id=message_id))
        return render(
            request,
            "inbound_message.html",
            {
                "message": row,
                "form": form or _prefilled(row.extracted),
                "errors": errors,
                "regimes": list(Regime),
                "open": inbound.is_open(row),
                "title": _("Inbound message %(id)s", id=row.id),
            },
            status=422 if errors else 200,
        )


@router.get("/inbound/{message_id}", include_in_schema=False)
def message(request: Request, message_id: int, who: Staff) -> Response:
    """One message: what it says, why it is here, and the two ways to take it up."""
    return _message_page(request, message_id, None, [])


@router.post("/inbound/{message_id}/notice", include_in_schema=False)
def make_notice(request: Request, message_id: int, who: Staff, form: Fields) -> Response:
    """Make a notice of the message from the completed form."""
    urls = present.form_urls(form.get("urls", ""))
    try:
        data = NoticeCreate.model_validate(present.notice_document(form, urls))
    except ValidationError as exc:
        errors = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:20]]
        return _message_page(request, message_id, form, errors)
    with database_of(request).writer() as session:
        try:
            row = inbound.make_notice(
                session, message_id, data, actor=who.actor, now=now_of(request), settings=settings_of(request)
            )
        except inbound.InboundError as exc:
            raise DeskError(exc.status, exc.message) from None
        session.commit()
        notice_id = row.notice_id
    return redirect(
        request,
        f"{PREFIX}/notices/{notice_id}",
        _(
            "Notice %(notice_id)s made from inbound message %(message_id)s.",
            notice_id=notice_id,
            message_id=message_id,
        ),
    )


@router.post("/inbound/{message_id}/answer", include_in_schema=False)
def answer(request: Request, message_id: int, who: Staff, text: Annotated[str, Form()] = "") -> Response:
    """Answer the sender instead of making a notice."""
    text = text.strip()
    if not text:
        raise DeskError(422, _("write the answer to send"))
    with database_of(request).writer() as session:
        try:
            inbound.answer(
                session, message_id, text, actor=who.actor, now=now_of(request), settings=settings_of(request)
            )
        except inbound.InboundError as exc:
            raise DeskError(exc.status, exc.message) from None
        session.commit()
    return redirect(
        request, f"{PREFIX}/inbound", _("Inbound message %(message_id)s answered.", message_id=message_id)
    )
