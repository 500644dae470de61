"""A request body between the connection and the exchange, without sockets: taken in order, never
beyond its limit, dropped when nobody forwards it, and failing its reader when it cannot end."""

from __future__ import annotations

import asyncio

import pytest

from staydown.edge.body import BUFFERED, BodyError, RequestBody


async def read_all(body: RequestBody) -> bytes:
    return b"".join([piece async for piece in body.chunks()])


def test_a_body_is_taken_in_order_as_it_arrives() -> None:
    async def scenario() -> bytes:
        body = RequestBody(length=None, limit=100)
        reader = asyncio.ensure_future(read_all(body))
        for piece in (b"he", b"llo", b" world"):
            body.feed(piece)
            await asyncio.sleep(0)
        body.finish()
        return await reader

    assert asyncio.run(scenario()) == b"hello world"


def test_a_body_beyond_its_limit_is_refused() -> None:
    body = RequestBody(length=None, limit=10)
    assert body.feed(b"x" * 10)
    assert not body.feed(b"x")


def test_the_reader_is_told_when_the_body_cannot_end() -> None:
    async def scenario() -> None:
        body = RequestBody(length=5, limit=100)
        reader = asyncio.ensure_future(read_all(body))
        body.feed(b"he")
        await asyncio.sleep(0)
        body.fail(BodyError(413, "too large"))
        await reader

    with pytest.raises(BodyError) as refused:
        asyncio.run(scenario())
    assert refused.value.status == 413


def test_a_discarded_body_holds_nothing_and_frees_the_connection() -> None:
    freed: list[bool] = []
    body = RequestBody(length=None, limit=10 * BUFFERED)
    body.on_taken = lambda: freed.append(True)
    body.feed(b"x" * (BUFFERED + 1))
    assert body.waiting
    body.discard()
    assert not body.waiting and freed == [True]
    assert body.feed(b"y" * 100) and body.buffered == 0
    assert asyncio.run(read_all(body)) == b""


def test_the_reader_beginning_is_announced_once() -> None:
    started: list[bool] = []
    body = RequestBody(length=2, limit=10)
    body.on_start = lambda: started.append(True)
    body.feed(b"ok")
    body.finish()
    assert asyncio.run(read_all(body)) == b"ok"
    assert started == [True]
