"""The feed's lean long-poll path answers exactly what the documented route answers, and the fan-out
to waiting edges gives way to notice intake."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from staydown.accounts import service as accounts
from staydown.api.app import create_app
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.enforcement import service
from staydown.enforcement.feed import FeedHub, Foreground
from staydown.enforcement.feedroute import FeedQuery, parse_feed_query
from staydown.feedrecords import FeedKind
from staydown.types import Role
from tests.conftest import Clock, ServerThread, make_keys


def test_plain_queries_are_read_and_every_other_spelling_is_left_to_the_documented_route() -> None:
    assert parse_feed_query(b"") == FeedQuery()
    assert parse_feed_query(b"after=12&wait=25") == FeedQuery(12, 25.0, None)
    assert parse_feed_query(b"wait=0.5&limit=100000&after=0") == FeedQuery(0, 0.5, 100_000)
    for odd in [
        b"after=-1",  # out of bounds: the documented route answers 422
        b"after=+1",
        b"after=1e3",
        b"after=%31",
        b"after=",
        b"after",
        b"after=1&after=2",
        b"after=1&",
        b"wait=300.5",
        b"wait=1e1",
        b"wait=.5",
        b"limit=0",
        b"limit=100001",
        b"after=1&x=2",  # a parameter the route does not take
        b"after=" + b"9" * 19,
    ]:
        assert parse_feed_query(odd) is None, odd


@pytest.fixture
def served(
    database: Database, clock: Clock, settings: Settings
) -> Iterator[tuple[str, dict[str, str], object]]:
    app = create_app(settings, database, clock=clock)
    keys = make_keys(database, clock)
    for n in range(3):
        append_purge(database, f"/{n}")
    with ServerThread(app) as server:
        yield server.url, keys, app


def append_purge(database: Database, target: str) -> None:
    with database.transaction() as session:
        service.append(
            session, FeedKind.purge, at=datetime.now(UTC), payload={"url": target}, zone_id=1, target=target
        )


def test_the_lean_path_answers_as_the_documented_route(
    served: tuple[str, dict[str, str], object], database: Database, clock: Clock
) -> None:
    url, keys, app = served
    poll = app.feed_poll  # type: ignore[attr-defined]
    with database.transaction() as session:  # a revoked edge key
        _key, revoked = accounts.create_key(session, role=Role.edge, now=clock(), name="old")
        accounts.revoke_key(session, _key, now=clock(), actor="test")

    def both(params: str, key: str | None) -> list[httpx.Response]:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        before = poll.served
        lean = httpx.get(f"{url}/v1/edge/feed?{params}", headers=headers, timeout=60)
        assert poll.served == before + 1, "a plainly spelled poll takes the lean path"
        # An extra parameter the route ignores sends the same request through FastAPI.
        documented = httpx.get(f"{url}/v1/edge/feed?{params}&via=documented", headers=headers, timeout=60)
        assert poll.served == before + 1
        return [lean, documented]

    cases = [
        ("after=0&limit=2", keys["edge"]),
        ("after=1&wait=5", keys["edge"]),
        ("after=3&wait=0.2", keys["edge"]),  # times out empty
        ("after=99", keys["edge"]),  # ahead of the log: 409 feed_reset
        ("after=0", None),
        ("after=0", "sd_made-up"),
        ("after=0", revoked),
        ("after=0", keys["agent"]),  # another role: 403
        ("after=0", keys["admin"]),
    ]
    statuses = set()
    for params, key in cases:
        lean, documented = both(params, key)
        statuses.add(lean.status_code)
        assert lean.status_code == documented.status_code, params
        assert lean.content == documented.content, params
        for name in ("content-type", "content-length", "www-authenticate"):
            assert lean.headers.get(name) == documented.headers.get(name), (params, name)
    assert statuses == {200, 401, 403, 409}
    # A malformed query is the documented route's: the same 422 as before.
    assert (
        httpx.get(
            f"{url}/v1/edge/feed?after=-1", headers={"authorization": f"Bearer {keys['edge']}"}, timeout=60
        ).status_code
        == 422
    )


def test_a_release_waits_for_requests_in_flight_then_answers_the_burst_at_once(database: Database) -> None:
    append_purge(database, "/before")

    async def scenario() -> None:
        foreground = Foreground()
        hub = FeedHub(
            database,
            service.feed_signal,
            page_limit=100,
            idle_interval=600,
            safety_interval=600,
            foreground=foreground,
            release_batch=10,
            hold=5.0,
        )
        head = await hub.current_head()
        await asyncio.sleep(0.5)  # PostgreSQL: the LISTEN connection is up
        waiting = [asyncio.create_task(hub.page(after=head, limit=100, wait=30)) for _ in range(50)]
        await asyncio.sleep(0.2)
        foreground.enter()  # a notice is being taken in
        await asyncio.to_thread(append_purge, database, "/first")
        await asyncio.to_thread(append_purge, database, "/second")
        await asyncio.sleep(0.5)
        assert hub.head >= head + 2 and not any(task.done() for task in waiting)
        foreground.leave()
        pages = await asyncio.wait_for(asyncio.gather(*waiting), 5)
        assert {page.count(b'"kind":"purge"') for page in pages} == {2}  # both records, one answer
        # Nothing in flight: a release goes at once; and the hold is bounded.
        released = [asyncio.create_task(hub.page(after=head + 2, limit=100, wait=30)) for _ in range(5)]
        await asyncio.sleep(0.2)
        hub.hold = 0.3
        foreground.enter()
        await asyncio.to_thread(append_purge, database, "/third")
        await asyncio.wait_for(asyncio.gather(*released), 3)
        foreground.leave()
        await hub.close()

    asyncio.run(scenario())
