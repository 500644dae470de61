"""The edge's connection protocol without sockets: cached answers to one read leave in one write,
in request order, and a connection stays under its timeouts after a cached answer."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, cast

import pytest

from staydown.edge.cache import CachedResponse
from staydown.edge.server import Edge, EdgeConfig, EdgeProtocol, Request
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
    stored = CachedResponse.from_origin(
        status=200,
        headers=headers,
        body=b"page",
        request_headers={"host": HOST},
        request_time=now - 5.5,
        response_time=now - 5.5,
    )
    edge.cache.put((1, "/page"), stored)
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


# --- requests that must be refused, or answered once -------------------------------------------


def test_an_upgrade_is_ignored_and_the_connection_goes_on_in_http_1_1(connection: Any) -> None:
    _, protocol, transport, _ = connection
    upgrade = get("/page", "Connection: Upgrade", "Upgrade: websocket")
    protocol.data_received(upgrade + get())
    assert statuses(b"".join(transport.writes)) == ["200", "200"]  # one answer each, no 400
    assert not transport.closed


def test_transfer_encoding_in_http_1_0_is_faulty_framing(connection: Any) -> None:
    _, protocol, transport, _ = connection
    smuggled = (
        b"GET /page HTTP/1.0\r\nHost: cached.example.test\r\nConnection: keep-alive\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    protocol.data_received(smuggled + get("/other"))
    assert statuses(b"".join(transport.writes)) == ["400"]
    assert transport.closed


def test_a_body_must_arrive_within_the_header_timeout(connection: Any) -> None:
    _, protocol, transport, _ = connection
    protocol.data_received(get("/page", "Content-Length: 10"))
    assert protocol.deadline <= protocol.edge.tick + protocol.edge.config.header_timeout
    assert not transport.writes
    protocol.data_received(b"0123456789")
    assert statuses(b"".join(transport.writes)) == ["200"]


def test_an_expected_100_continue_is_sent_before_the_body(connection: Any) -> None:
    _, protocol, transport, _ = connection
    protocol.data_received(get("/page", "Content-Length: 5", "Expect: 100-continue"))
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    protocol.data_received(b"hello")
    assert statuses(b"".join(transport.writes)) == ["100", "200"]


@pytest.mark.parametrize(
    ("head", "status"),
    [
        ("GET /" + "a" * 9000 + " HTTP/1.1\r\nHost: cached.example.test\r\n\r\n", "414"),
        ("GET /page HTTP/1.1\r\nHost: cached.example.test\r\n" + "X-A: 1\r\n" * 101 + "\r\n", "431"),
        ("GET /page HTTP/1.1\r\nHost: cached.example.test\r\nX-Big: " + "b" * 17000 + "\r\n\r\n", "431"),
    ],
    ids=["target", "fields", "field bytes"],
)
def test_oversized_heads_get_their_own_status(connection: Any, head: str, status: str) -> None:
    _, protocol, transport, _ = connection
    protocol.data_received(head.encode())
    assert statuses(b"".join(transport.writes)) == [status]
    assert transport.closed


def test_a_head_that_never_ends_is_refused_as_it_arrives(connection: Any) -> None:
    _, protocol, transport, _ = connection
    protocol.data_received(b"GET /page HTTP/1.1\r\nHost: cached.example.test\r\nX-Big: ")
    for _ in range(20):  # 20 reads of 8 KB of one field value that never ends
        if transport.closed:
            break
        protocol.data_received(b"v" * 8192)
    assert statuses(b"".join(transport.writes)) == ["431"]
    assert transport.closed


def test_pipelined_heads_split_across_reads_are_not_mistaken_for_one_long_head(connection: Any) -> None:
    _, protocol, transport, _ = connection
    stream = get() * 2000  # 80 KB of requests, read in pieces that cut heads in two
    for start in range(0, len(stream), 7001):
        protocol.data_received(stream[start : start + 7001])
    assert statuses(b"".join(transport.writes)) == ["200"] * 2000


def test_an_absolute_form_request_in_http_1_0_needs_no_host(connection: Any) -> None:
    _, protocol, transport, _ = connection
    protocol.data_received(b"GET http://cached.example.test/page HTTP/1.0\r\n\r\n")
    assert statuses(b"".join(transport.writes)) == ["200"]


def test_the_request_being_decided_is_told_then_cleared(connection: Any) -> None:
    """A worker's supervisor learns which request a stall happened in (``Edge.answering``)."""
    edge, protocol, transport, _ = connection
    told: list[Request | None] = []
    edge.answering = told.append
    protocol.data_received(get("/page"))
    assert statuses(transport.writes[-1]) == ["200"]
    seen = [(r.method, r.headers["host"], r.target) if r else None for r in told]
    assert seen == [("GET", HOST, "/page"), None]


def test_hsts_is_stamped_once_per_kept_hit_not_copied_for_every_request() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + b"x" * 100_000
    edge = Edge(EnforcementState(), EdgeConfig())
    stamped = edge._stamp(answer, 600)
    assert stamped == answer[:17] + b"Strict-Transport-Security: max-age=600\r\n" + answer[17:]
    assert edge._stamp(answer, 600) is stamped  # the same bytes object: no copy for the next hit
    assert b"max-age=60\r\n" in edge._stamp(answer, 60)
    again = bytes(bytearray(answer))  # the next second's kept answer: equal bytes, stamped alike
    assert edge._stamp(again, 600) == stamped
