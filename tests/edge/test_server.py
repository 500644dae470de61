"""The edge's connection protocol without sockets: cached answers to one read leave in one write,
in request order, and a connection stays under its timeouts after a cached answer."""

from __future__ import annotations

import asyncio
import re
import time
from types import SimpleNamespace
from typing import Any, cast

import pytest

from staydown.edge.freshness import parse_cache_control
from staydown.edge.origin import OriginResponse
from staydown.edge.server import Edge, EdgeConfig, EdgeProtocol, Request, _entry
from staydown.edge.state import EnforcementState

HOST = "cached.example.test"


class Transport:
    """Records what the protocol writes, one item per write call."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def writelines(self, items: list[bytes]) -> None:
        self.writes.append(b"".join(items))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def cached_edge(clock: list[float]) -> Edge:
    """An edge holding /page, stored 5.5 s before ``clock[0]``, fresh for 600 s; ``clock[0]`` is its now."""
    now = clock[0]
    state = EnforcementState()
    state.apply(
        {"seq": 1, "kind": "zone", "zone_id": 1, "customer_id": 1, "hostnames": [HOST],
         "origin": "http://127.0.0.1:9", "status": "active"}
    )  # fmt: skip
    edge = Edge(state, EdgeConfig(idle_timeout=30.0), clock=lambda: clock[0])
    headers = [("Cache-Control", "public, max-age=600"), ("ETag", '"v1"'), ("Content-Length", "4")]
    response = cast(OriginResponse, SimpleNamespace(status=200, headers=headers, content_length=4))
    request = Request("GET", "/page", {"host": HOST}, True, "127.0.0.1")
    cc = parse_cache_control(["public, max-age=600"])
    edge.cache.put((1, "/page"), _entry(response, b"page", request, cc, now - 5.5, now - 5.5))
    return edge


def get(target: str = "/page", *fields: str) -> bytes:
    return "\r\n".join([f"GET {target} HTTP/1.1", f"Host: {HOST}", *fields, "", ""]).encode()


def statuses(data: bytes) -> list[str]:
    return [status.decode() for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]


@pytest.fixture
def connection() -> Any:
    async def open_() -> tuple[Edge, EdgeProtocol, Transport]:
        edge = cached_edge(clock)
        protocol = EdgeProtocol(edge)
        transport = Transport()
        protocol.connection_made(cast(asyncio.Transport, transport))
        return edge, protocol, transport

    clock = [time.time()]
    loop = asyncio.new_event_loop()
    opened = loop.run_until_complete(open_())
    yield (*opened, clock)
    opened[1].connection_lost(None)  # cancels an origin fetch the test started
    loop.run_until_complete(asyncio.sleep(0.01))
    opened[0].hasher.shutdown(wait=False)
    loop.close()


def test_cached_answers_to_one_read_leave_in_one_write(connection: Any) -> None:
    edge, protocol, transport, _ = connection
    protocol.data_received(get())  # decides and serves the full way, then the same bytes each time
    assert statuses(transport.writes[-1]) == ["200"]
    transport.writes.clear()
    protocol.data_received(get() * 3)
    assert len(transport.writes) == 1
    assert statuses(transport.writes[0]) == ["200", "200", "200"]
    assert transport.writes[0].count(b"\r\n\r\npage") == 3
    assert edge.counters["hit"] == 4


def test_a_request_the_full_path_answers_keeps_its_place(connection: Any) -> None:
    _, protocol, transport, _ = connection
    protocol.data_received(get())
    transport.writes.clear()
    protocol.data_received(
        get() + get("/page", 'If-None-Match: "v1"') + get() + get("/page", "Range: bytes=1-2")
    )
    sent = b"".join(transport.writes)
    assert statuses(sent) == ["200", "304", "200", "206"]
    assert len(transport.writes) == 4  # what came before a full-path answer is sent before it


def test_a_block_reaches_a_request_answered_from_the_cache_before(connection: Any) -> None:
    edge, protocol, transport, _ = connection
    protocol.data_received(get() * 2)
    edge.apply([{"seq": 2, "kind": "block", "zone_id": 1, "target": "/page", "notice_id": 7}])
    transport.writes.clear()
    protocol.data_received(get())
    assert statuses(b"".join(transport.writes)) == ["451"]
    assert (1, "/page") not in edge.cache


def test_a_cached_answer_leaves_the_connection_under_the_idle_timeout(connection: Any) -> None:
    _, protocol, transport, _ = connection
    protocol.data_received(get() * 2)
    assert statuses(b"".join(transport.writes)) == ["200", "200"]
    remaining = protocol.deadline - protocol.loop.time()
    assert 29 < remaining <= 30


def test_a_repeated_hit_carries_the_age_the_full_path_would_give(connection: Any) -> None:
    edge, protocol, transport, clock = connection
    start = clock[0]
    for offset, age in ((0.0, 5), (0.45, 5), (0.55, 6), (1.2, 6), (1.55, 7), (594.4, 599)):
        clock[0] = start + offset
        protocol.data_received(get())
        assert re.findall(rb"\r\nAge: (\d+)\r\n", transport.writes[-1]) == [str(age).encode()], offset
    hits = edge.counters["hit"]
    clock[0] = start + 594.6  # no longer fresh: the origin is asked, nothing is answered from the cache
    protocol.data_received(get())
    assert edge.counters["hit"] == hits
    assert statuses(b"".join(transport.writes)).count("200") == 6
