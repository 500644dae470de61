"""Feed polls are authenticated against the database every time, batched: a revocation written by
anyone is seen by the very next poll, and a thousand polls at once cost a few reads."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from staydown.accounts import service as accounts
from staydown.db.engine import Database
from staydown.enforcement.pollkeys import PollKeys
from staydown.types import Role
from tests.conftest import Clock, make_keys


def test_polls_at_once_share_reads_and_a_revocation_is_seen_by_the_next_poll(
    database: Database, clock: Clock
) -> None:
    keys = make_keys(database, clock)
    polls = PollKeys(database)

    async def at_once() -> list[accounts.LiveKey | None]:
        edges = [polls.live(keys["edge"]) for _ in range(1000)]
        return await asyncio.gather(
            *edges, polls.live("sd_made-up"), polls.live("no prefix"), polls.live(keys["agent"])
        )

    *edges, unknown, malformed, agent = asyncio.run(at_once())
    assert {edge.role for edge in edges if edge is not None} == {Role.edge} and None not in edges
    assert unknown is None and malformed is None
    assert agent is not None and agent.role is Role.agent
    assert polls.reads <= 3  # the first poll's read, then the rest together

    with database.transaction() as session:  # as another process or `staydown keys revoke` would
        [key] = [k for k in accounts.list_keys(session) if k.name == "edge"]
        assert accounts.revoke_key(session, key, now=clock(), actor="test")
    assert asyncio.run(polls.live(keys["edge"])) is None
    assert asyncio.run(polls.live(keys["agent"])) is not None

    if not database.is_sqlite:  # the server drops the key reads' connection: the next read retries
        with database.transaction() as session:
            session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
                )
            )
        assert asyncio.run(polls.live(keys["agent"])) is not None


def test_polls_arriving_one_by_one_share_reads_spaced_apart(database: Database, clock: Clock) -> None:
    keys = make_keys(database, clock)
    polls = PollKeys(database, spacing=0.2)

    async def one_by_one() -> list[accounts.LiveKey | None]:
        async def poll(n: int) -> accounts.LiveKey | None:
            await asyncio.sleep(n * 0.02)  # 40 polls over 0.8 s
            return await polls.live(keys["edge"])

        return await asyncio.gather(*(poll(n) for n in range(40)))

    answers = asyncio.run(one_by_one())
    assert all(answer is not None and answer.role is Role.edge for answer in answers)
    assert polls.reads <= 7  # one read at once, then one every 0.2 s at most; not one per poll
