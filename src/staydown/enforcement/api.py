"""The enforcement feed that edges long-poll, and the outbox the desk shows."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from staydown.api.deps import DatabaseDep, Principal, Reader, SettingsDep, require
from staydown.api.errors import ApiError
from staydown.db.engine import Database
from staydown.enforcement import service
from staydown.enforcement.schemas import FeedPage, OutboxMessageRead
from staydown.types import Role

router = APIRouter(tags=["enforcement"])

Edge = Annotated[Principal, Depends(require(Role.edge))]
Staff = Annotated[Principal, Depends(require(Role.agent, Role.customer))]


def _read(database: Database, after: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    with database.reader() as session:
        return service.read_feed(session, after=after, limit=limit)


@router.get("/v1/edge/feed", response_model=FeedPage)
async def feed(
    request: Request,
    _who: Edge,
    database: DatabaseDep,
    settings: SettingsDep,
    after: int = Query(0, ge=0, description="the last sequence number the edge has applied"),
    wait: float = Query(0, ge=0, le=300, description="seconds to hold the request open when nothing is new"),
    limit: int | None = Query(None, ge=1, le=100_000),
) -> FeedPage:
    """Return enforcement records after ``after``, in order; long-poll up to ``wait`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(wait, settings.feed_max_wait_seconds)
    page = min(limit or settings.feed_page_limit, settings.feed_page_limit)
    while True:
        generation = service.feed_signal.generation
        try:
            records, head = await run_in_threadpool(_read, database, after, page)
        except service.FeedHeadTooOld as exc:
            raise ApiError(409, "feed_reset", str(exc), {"head": service_head(database)}) from exc
        remaining = deadline - loop.time()
        if records or remaining <= 0 or await request.is_disconnected():
            last = records[-1]["seq"] if records else after
            return FeedPage(records=records, last=last, head=head)
        await service.feed_signal.wait_past(generation, min(remaining, settings.feed_poll_interval_seconds))


def service_head(database: Database) -> int:
    with database.reader() as session:
        return service.head(session)


@router.get("/v1/outbox", response_model=list[OutboxMessageRead])
def outbox(
    who: Staff,
    session: Reader,
    notice_id: int | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[OutboxMessageRead]:
    """Notifications written by the workflow (a customer sees only its own)."""
    customer_id = who.customer_id if who.role is Role.customer else None
    if who.role is Role.customer and customer_id is None:
        return []
    rows = service.list_messages(session, notice_id=notice_id, customer_id=customer_id, limit=limit)
    return [OutboxMessageRead.model_validate(row, from_attributes=True) for row in rows]
