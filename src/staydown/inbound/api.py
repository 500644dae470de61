"""Routes for received messages: the list and detail for agents, raw intake for mail gateways,
taking a message in triage up as a notice or answering it, and binding senders to keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from staydown.api.deps import DatabaseDep, NowDep, Principal, Reader, SettingsDep, Writer, require
from staydown.api.errors import ApiError
from staydown.db.base import ROW_ID_LIMIT
from staydown.inbound import service
from staydown.inbound.models import InboundMessage, InboundStatus
from staydown.inbound.parsers.base import InboundFormat
from staydown.inbound.schemas import AnswerIn, InboundPage, InboundRead, SenderIn
from staydown.notices.schemas import NoticeCreate
from staydown.types import Role

router = APIRouter(prefix="/v1/inbound", tags=["inbound"])

Reading = Annotated[Principal, Depends(require(Role.agent))]
Gateway = Annotated[Principal, Depends(require(Role.mail_gateway))]
Admin = Annotated[Principal, Depends(require())]


def view(row: InboundMessage, *, extracted: bool = False) -> InboundRead:
    return InboundRead.model_validate(
        {
            "id": row.id,
            "received_at": row.received_at,
            "from": row.from_address,
            "subject": row.subject,
            "format": row.format or InboundFormat.unknown,
            "status": row.status,
            "notice_id": row.notice_id,
            "reason": row.reason,
            "via": row.via,
            "size": row.size,
            "sha256": row.sha256,
            "message_id": row.message_id,
            "external_id": row.external_id,
            "duplicate_of": row.duplicate_of_id,
            "answered_at": row.answered_at,
            "extracted": row.extracted if extracted else None,
        }
    )


def _dump(model: InboundRead) -> dict[str, object]:
    return model.model_dump(mode="json", by_alias=True, exclude_none=False)


def _error(exc: service.InboundError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message)


@router.get("", response_model=InboundPage)
def list_inbound(
    who: Reading,
    session: Reader,
    status: InboundStatus | None = None,
    page: int = Query(1, ge=1, le=1_000_000),
    per_page: int = Query(50, ge=1, le=500),
) -> JSONResponse:
    """Received messages, newest first (``status=triage`` is the queue a person reads)."""
    rows, total = service.list_page(session, status=status, page=page, per_page=per_page)
    return JSONResponse(
        {
            "messages": [_dump(view(row)) for row in rows],
            "page": page,
            "per_page": per_page,
            "total": total,
        }
    )


def _found(row: InboundMessage | None, message_id: int) -> InboundMessage:
    if row is None:
        raise ApiError(404, "not_found", f"inbound message {message_id} does not exist")
    return row


@router.get("/{message_id}", response_model=InboundRead)
def get_inbound(message_id: int, who: Reading, session: Reader) -> JSONResponse:
    """One received message: what it amounted to and what was read from it."""
    if not 0 < message_id < ROW_ID_LIMIT:
        raise ApiError(404, "not_found", f"inbound message {message_id} does not exist")
    row = _found(service.get(session, message_id), message_id)
    return JSONResponse(_dump(view(row, extracted=True)))


RAW_MESSAGE = {
    "required": True,
    "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary", "minLength": 1}}},
}


@router.post("", status_code=202, response_model=InboundRead, openapi_extra={"requestBody": RAW_MESSAGE})
async def post_inbound(
    request: Request, who: Gateway, database: DatabaseDep, settings: SettingsDep, now: NowDep
) -> JSONResponse:
    """Hand over one raw message (``message/rfc822``) as a mail server received it; 202 once stored."""
    raw = await request.body()
    if not raw.strip():
        raise ApiError(400, "empty_message", "the body must be one raw RFC 5322 message")
    try:
        message_id = await run_in_threadpool(
            service.receive, database, raw, via="api", now=now, settings=settings, envelope_from=None
        )
    except service.TooLarge as exc:
        raise ApiError(413, "message_too_large", str(exc), {"limit": exc.limit}) from None
    await run_in_threadpool(service.process_one, database, message_id, now=now, settings=settings)
    with database.reader() as session:
        row = _found(service.get(session, message_id), message_id)
        return JSONResponse(_dump(view(row)), status_code=202)


@router.post("/{message_id}/notice", response_model=InboundRead)
def take_up(
    message_id: int, body: NoticeCreate, who: Reading, session: Writer, now: NowDep, settings: SettingsDep
) -> JSONResponse:
    """Make a notice of a message in triage from the elements an agent completed."""
    try:
        row = service.make_notice(session, message_id, body, actor=who.actor, now=now, settings=settings)
    except service.InboundError as exc:
        raise _error(exc) from None
    session.commit()
    return JSONResponse(_dump(view(row)))


@router.post("/{message_id}/answer", response_model=InboundRead)
def answer(
    message_id: int, body: AnswerIn, who: Reading, session: Writer, now: NowDep, settings: SettingsDep
) -> JSONResponse:
    """Answer a message in triage by e-mail instead of making a notice of it."""
    try:
        row = service.answer(session, message_id, body.text, actor=who.actor, now=now, settings=settings)
    except service.InboundError as exc:
        raise _error(exc) from None
    session.commit()
    return JSONResponse(_dump(view(row)))


@router.post("/senders", status_code=201)
def bind_sender(body: SenderIn, who: Admin, session: Writer, now: NowDep) -> dict[str, object]:
    """Submit the messages of an address as a key's (trusted treatment needs an authenticated From)."""
    try:
        binding = service.bind_sender(session, body.address, body.key_id, actor=who.actor, now=now)
    except service.InboundError as exc:
        raise _error(exc) from None
    session.commit()
    return {"id": binding.id, "address": binding.address, "key_id": binding.key_id}
