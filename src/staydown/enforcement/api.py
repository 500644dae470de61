"""The enforcement feed that edges long-poll, and the outbox the desk shows."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.types import Receive

from staydown.accounts import service as accounts
from staydown.api.deps import BearerCredentials, NowDep, Principal, Reader, SettingsDep, admitted, require
from staydown.api.errors import BEARER_CHALLENGE, ApiError
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.enforcement import service
from staydown.enforcement.feed import FeedAhead, FeedHub
from staydown.enforcement.pollkeys import PollKeys
from staydown.enforcement.registry import (
    Contact,
    EdgeRegistry,
    applied_by,
    edge_id_of,
    list_health,
)
from staydown.enforcement.schemas import EdgeRead, FeedPage, NoticeEdges, OutboxMessageRead
from staydown.enforcement.snapshot import Snapshots
from staydown.types import Role

router = APIRouter(tags=["enforcement"])

Desk = Annotated[Principal, Depends(require(Role.agent))]
Staff = Annotated[Principal, Depends(require(Role.agent, Role.customer))]


class EdgeKeys:
    """The edge-role keys, live and revoked, re-read at most every ``ttl`` seconds with one query.

    Only refusals use it: a refused request whose key is a revoked edge key is recorded in the edge
    registry, so an anonymous caller cannot fill the registry with made-up edges. (Polls themselves
    are authenticated against the database on every request.) A revocation through this process
    calls ``expire``."""

    def __init__(self, database: Database, *, ttl: float = 2.0) -> None:
        self.database, self.ttl = database, ttl
        self._live: dict[str, Principal] = {}
        self._revoked: dict[str, int] = {}
        self._read_at = float("-inf")
        self._reading: asyncio.Future[None] | None = None

    def expire(self) -> None:
        """Read the keys again on the next request (a key was revoked)."""
        self._read_at = float("-inf")
        self._reading = None

    async def revoked(self, secret: str) -> int | None:
        """The id of the revoked edge key ``secret`` is, or None."""
        await self._fresh()
        return self._revoked.get(accounts.hash_key(secret))

    async def _fresh(self) -> None:
        if asyncio.get_running_loop().time() - self._read_at > self.ttl:
            if self._reading is None or self._reading.done():
                self._reading = asyncio.ensure_future(self._read())
            await asyncio.shield(self._reading)

    async def _read(self) -> None:
        self._live, self._revoked = await asyncio.to_thread(self._edge_keys)
        self._read_at = asyncio.get_running_loop().time()

    def _edge_keys(self) -> tuple[dict[str, Principal], dict[str, int]]:
        live: dict[str, Principal] = {}
        revoked: dict[str, int] = {}
        with self.database.reader() as session:
            for key in accounts.list_keys(session):
                if key.role is not Role.edge:
                    continue
                if key.revoked_at is None:
                    live[key.key_hash] = Principal(key.id, key.role, key.trusted, key.customer_id)
                else:
                    revoked[key.key_hash] = key.id
        return live, revoked


@dataclass(frozen=True, slots=True)
class Caller:
    """What a feed request says of its sender: its key and the edge's name and version."""

    authorization: str
    edge: str | None
    version: str

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> Caller:
        return cls(
            headers.get("authorization", ""),
            headers.get("staydown-edge"),
            headers.get("staydown-edge-version", "")[:64],
        )


async def authenticate_edge(state: State, caller: Caller, now: datetime) -> Principal:
    """The edge-role caller, or ApiError 401/403. A refused edge key (revoked, or a key of another
    role) is recorded in the edge registry before the refusal is answered."""
    keys: EdgeKeys = state.edge_keys
    scheme, _, secret = caller.authorization.partition(" ")
    secret = secret.strip() if scheme.lower() == "bearer" else ""
    if not secret:
        raise ApiError(401, "unauthorized", "send an API key as 'Authorization: Bearer KEY'")
    # Every poll is authenticated against the database (batched with the polls arriving with it,
    # see enforcement.pollkeys), so a key revoked in any process, or by `staydown keys revoke`, is
    # refused on its very next request.
    poll_keys: PollKeys = state.poll_keys
    live = await poll_keys.live(secret)
    if live is None:
        key_id = await keys.revoked(secret)
        if key_id is not None:
            await _record_refusal(state, caller, now, 401, key_id)
        raise ApiError(
            401,
            "unauthorized",
            "the API key is not valid or has been revoked",
            headers={"WWW-Authenticate": f'{BEARER_CHALLENGE}, error="invalid_token"'},
        )
    who = Principal(live.key_id, live.role, live.trusted, live.customer_id)
    try:
        return admitted(who, Role.edge)
    except ApiError as exc:
        await _record_refusal(state, caller, now, exc.status, who.key_id)
        raise


async def feed_edge(request: Request, now: NowDep, _credentials: BearerCredentials) -> Principal:
    """The edge-role caller of a documented route (see ``authenticate_edge``)."""
    return await authenticate_edge(request.app.state, Caller.of(request.headers), now)


async def _record_refusal(state: State, caller: Caller, now: datetime, status: int, key_id: int) -> None:
    registry: EdgeRegistry = state.edge_registry
    await registry.refused(
        Contact(
            edge_id_of(caller.edge, key_id=key_id),
            now,
            version=caller.version,
            key_id=key_id,
            refused_status=status,
        )
    )


FeedEdge = Annotated[Principal, Depends(feed_edge)]


async def answer_poll(
    state: State,
    who: Principal,
    caller: Caller,
    now: datetime,
    receive: Receive,
    *,
    after: int,
    wait: float,
    limit: int | None,
) -> bytes | None:
    """The feed page for an authenticated edge; None when the edge left while it waited.

    Waiting requests share one reader per process (see ``enforcement.feed``): they cost nothing
    while the log is idle, and a released one is answered from the page encoded for all of them."""
    settings: Settings = state.settings
    page = min(limit or settings.feed_page_limit, settings.feed_page_limit)
    registry: EdgeRegistry = state.edge_registry
    registry.note(
        Contact(
            edge_id_of(caller.edge, key_id=who.key_id),
            now,
            version=caller.version,
            seq=after,
            key_id=who.key_id,
        )
    )
    hub: FeedHub = state.feed_hub
    if wait > 0:  # (without a wait, the database's head has the last word: see FeedHub.page)
        ready = hub.ready(after=after, limit=page)
        if ready is not None:
            return ready
    reading = asyncio.ensure_future(
        hub.page(after=after, limit=page, wait=min(wait, settings.feed_max_wait_seconds))
    )
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait({reading, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if not reading.done():
        # The edge left while it waited: nobody reads the answer, and the request must not hold
        # its connection (or a server's graceful shutdown) until the wait runs out.
        reading.cancel()
        return None
    try:
        return reading.result()
    except FeedAhead as exc:
        raise ApiError(
            409, "feed_reset", str(exc), {"head": exc.head, "snapshot": "/v1/edge/snapshot"}
        ) from exc


@router.get("/v1/edge/feed", response_model=FeedPage)
async def feed(
    request: Request,
    who: FeedEdge,
    now: NowDep,
    after: int = Query(0, ge=0, description="the last sequence number the edge has applied"),
    wait: float = Query(0, ge=0, le=300, description="seconds to hold the request open when nothing is new"),
    limit: int | None = Query(None, ge=1, le=100_000),
) -> Response:
    """Return enforcement records after ``after``, in order; long-poll up to ``wait`` seconds.

    Waiting requests share one reader per process (see ``enforcement.feed``): they cost nothing
    while the log is idle."""
    # A plainly spelled request never reaches this route: enforcement.feedroute answers it with the
    # same checks and answers. This route documents the operation and answers every other spelling.
    body = await answer_poll(
        request.app.state,
        who,
        Caller.of(request.headers),
        now,
        request.receive,
        after=after,
        wait=wait,
        limit=limit,
    )
    if body is None:
        return Response(status_code=204)
    return Response(body, media_type="application/json")


async def _disconnected(receive: Receive) -> None:
    """Return when the client closes the connection (a GET's empty body is read first)."""
    while (await receive())["type"] != "http.disconnect":
        pass


@router.get(
    "/v1/edge/snapshot",
    response_class=Response,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "gzip-encoded JSON lines"}},
)
async def snapshot(request: Request, _who: FeedEdge) -> Response:
    """The enforcement state as of a sequence, for an edge to load and then follow the feed from.

    JSON lines (``edge.state.snapshot_lines``), always gzip-encoded; ``Staydown-Snapshot-Seq`` names
    the sequence it holds."""
    snapshots: Snapshots = request.app.state.feed_snapshots
    current = await run_in_threadpool(snapshots.current)
    return Response(
        current.gzipped,
        media_type="application/x-ndjson",
        headers={
            "content-encoding": "gzip",
            "staydown-snapshot-seq": str(current.seq),
            "cache-control": "no-store",
        },
    )


@router.get("/v1/edges", response_model=list[EdgeRead])
def edges(_who: Desk, session: Reader, settings: SettingsDep, now: NowDep) -> list[EdgeRead]:
    """Every edge worker the control plane has heard from: applied seq, lag, last contact, state
    (``ok``, ``behind``, ``silent`` or ``refused``), most troubled first."""
    return [
        EdgeRead(
            id=edge.edge_id,
            version=edge.version,
            transport=edge.transport,
            seq=edge.seq,
            head=edge.head,
            lag=edge.lag_seconds,
            lag_records=edge.lag_records,
            last_contact=edge.last_contact,
            state=edge.state.value,
            refused_status=edge.refused_status,
            refused_at=edge.refused_at,
        )
        for edge in list_health(session, now=now, alert_seconds=settings.edge_lag_alert_seconds)
    ]


@router.get("/v1/notices/{notice_id}/edges", response_model=NoticeEdges)
def notice_edges(notice_id: int, _who: Desk, session: Reader) -> NoticeEdges:
    """Which edges have applied this notice's blocks, and which have not yet."""
    seq, applied, pending = applied_by(session, notice_id=notice_id)
    return NoticeEdges(notice_id=notice_id, seq=seq, applied=applied, pending=pending)


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
