"""HTTP/2 at the edge over real sockets (TLS, ALPN h2): the same answers as HTTP/1.1 from the same
edge (cache, 451, 421, 405, 304, 206, rate limits, bodies for every method), many streams on one
connection, large responses under flow control, and GOAWAY when the edge stops."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hyperframe.frame import DataFrame

from staydown.edge.server import EdgeConfig
from tests.edge.h2peer import H2Edge
from tests.edge.wire import HOST, Received, WireOrigin, request

BIG = bytes(range(256)) * 4096 * 3  # 3 MiB


def answer(received: Received) -> bytes | list[bytes]:
    """The origin: /big is 3 MiB, /slow answers after a moment, /echo returns the body it got."""
    if received.target == "/big":
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(BIG)}\r\nCache-Control: public, max-age=300\r\n\r\n"
        return head.encode() + BIG
    if received.target.startswith("/slow"):
        return [b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nCache-Control: no-store\r\n\r\n", b"slow"]
    if received.target == "/coded":  # a transfer coding the edge cannot undo, before chunked
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nCache-Control: no-store\r\n\r\n"
        return head + b"3\r\nzzz\r\n0\r\n\r\n"
    if received.target == "/echo":
        body = received.body
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    fields = b'Content-Length: 5\r\nCache-Control: public, max-age=300\r\nETag: "v1"\r\n'
    return b"HTTP/1.1 200 OK\r\n" + fields + b"\r\nhello"


@pytest.fixture
def origin() -> Iterator[WireOrigin]:
    with WireOrigin(answer) as wire:
        yield wire


@pytest.fixture
def edge(origin: WireOrigin, tmp_path: Path) -> Iterator[H2Edge]:
    config = EdgeConfig(legal_url="https://cdn.example/legal", header_timeout=2.0, max_body=4 * 1024 * 1024)
    with H2Edge(origin.url, tmp_path / "tls", config) as local:
        yield local


def http11(edge: H2Edge, method: str, target: str, *fields: str, host: str = HOST) -> tuple[int, bytes]:
    """Status and body of one HTTP/1.1 exchange with the same edge."""
    head = request(method, target, *fields).replace(f"Host: {HOST}".encode(), f"Host: {host}".encode())
    raw = edge.exchange(head)
    status = int(raw[9:12])
    return status, raw.split(b"\r\n\r\n", 1)[1]


def test_a_cached_hit_over_h2_is_the_same_answer_as_over_http_1_1(edge: H2Edge, origin: WireOrigin) -> None:
    with edge.client() as client:
        first = client.get("/page")
        second = client.get("/page")
    assert (first.status, first.body, first.headers["staydown-cache"]) == (200, b"hello", "miss")
    assert (second.status, second.body, second.headers["staydown-cache"]) == (200, b"hello", "hit")
    assert second.headers["content-length"] == "5" and "age" in second.headers
    assert not {"connection", "transfer-encoding", "keep-alive"} & second.headers.keys()
    assert len(origin.requests()) == 1  # the HTTP/2 fill serves HTTP/1.1 too, and the other way round
    assert http11(edge, "GET", "/page") == (200, b"hello")
    assert len(origin.requests()) == 1
    assert edge.counters()["hit"] == 2


@pytest.mark.parametrize(
    ("method", "path", "fields", "authority"),
    [
        ("GET", "/page", [("if-none-match", '"v1"')], HOST),  # 304 from the cache
        ("GET", "/page", [("range", "bytes=1-2")], HOST),  # 206 from the cache
        ("HEAD", "/page", [], HOST),
        ("GET", "/page", [], "unknown.example.test"),  # 421
        ("TRACE", "/page", [], HOST),  # 405
        ("OPTIONS", "*", [], HOST),
        ("GET", "/%7Euser/../page", [], HOST.upper()),  # the same canonical resource
    ],
)
def test_answers_over_h2_match_http_1_1(
    edge: H2Edge, method: str, path: str, fields: list[tuple[str, str]], authority: str
) -> None:
    with edge.client() as client:
        client.get("/page")  # stored
        got = client.get(path, method=method, fields=fields, authority=authority)
    status, body = http11(edge, method, path, *(f"{n}: {v}" for n, v in fields), host=authority)
    assert (got.status, got.body) == (status, body)
    assert got.ended and got.reset is None


def test_a_transfer_coding_http_2_cannot_carry_is_502(edge: H2Edge) -> None:
    with edge.client() as client:
        coded = client.get("/coded")
        after = client.get("/page")
    assert coded.status == 502 and b"transfer coding" in coded.body
    assert after.status == 200
    raw = edge.exchange(request("GET", "/coded"))  # HTTP/1.1 passes it on, coding named
    assert raw.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: gzip, chunked" in raw


def test_a_blocked_resource_is_451_over_h2_for_every_method_and_the_origin_is_not_asked(
    edge: H2Edge, origin: WireOrigin
) -> None:
    edge.block("/banned.jpg", notice_id=41)
    with edge.client() as client:
        page = client.get("/banned.jpg")
        as_json = client.get("/banned.jpg", fields=[("accept", "application/json")])
        head = client.get("/banned.jpg", method="HEAD")
        post = client.get("/banned.jpg", method="POST", body=b"x" * 70_000)
        spelled = client.get("/%62anned.jpg?", authority=f"{HOST.upper()}:443")
    assert page.status == 451 and b"#41" in page.body
    assert page.headers["link"] == '<https://cdn.example/legal>; rel="blocked-by"'
    assert page.headers["cache-control"] == "no-store"
    assert as_json.status == 451 and b'"notice_id": 41' in as_json.body
    assert head.status == 451 and head.body == b"" and head.ended
    assert post.status == 451
    assert spelled.status == 451
    assert origin.requests(timeout=0.2) == []
    assert edge.counters()["blocked"] == 5


def test_a_request_body_passes_to_the_origin_for_every_method(edge: H2Edge, origin: WireOrigin) -> None:
    payload = bytes(range(256)) * 2000  # beyond one stream window
    with edge.client() as client:
        length = [("content-length", str(len(payload)))]
        sized = client.get("/echo", method="PUT", body=payload, fields=length)
        unsized = client.get("/echo", method="POST", body=b"no length given")
    assert (sized.status, sized.body) == (200, payload)
    assert (unsized.status, unsized.body) == (200, b"no length given")
    put, post = origin.requests(count=2)
    assert put.field("content-length") == str(len(payload)) and put.field("host") == HOST
    assert post.field("transfer-encoding") == "chunked"


def test_a_body_beyond_the_bound_is_413_and_never_reaches_the_origin(
    edge: H2Edge, origin: WireOrigin
) -> None:
    limit = edge.config.max_body
    with edge.client() as client:
        declared = client.get("/echo", method="POST", end=False, fields=[("content-length", str(limit + 1))])
        sent = client.get("/other", method="GET", body=b"y" * (limit + 1))
        after = client.get("/page")
    assert declared.status == 413 and declared.reset == 0  # and the client is asked to stop sending
    assert sent.status == 413
    assert after.status == 200  # the connection goes on
    assert [r.target for r in origin.requests(timeout=0.5)] == ["/page"]


def test_trailers_are_ignored_and_never_reach_the_origin(edge: H2Edge, origin: WireOrigin) -> None:
    with edge.client() as client:
        sid = client.send("/echo", method="POST", body=b"payload", end=False)
        client.conn.send_headers(sid, [(b"x-trailer", b"secret"), (b"host", b"evil.test")], end_stream=True)
        client.flush()
        assert client.until(lambda: client.answers[sid].done)
        got = client.answers[sid]
    assert (got.status, got.body) == (200, b"payload")
    (seen,) = origin.requests()
    assert b"secret" not in seen.raw and b"evil.test" not in seen.raw


def test_many_concurrent_streams_on_one_connection(edge: H2Edge, origin: WireOrigin) -> None:
    with edge.client() as client:
        client.get("/page")
        sids = [client.send("/page" if i % 2 else f"/slow/{i}") for i in range(99)]
        assert client.until(lambda: all(client.answers[s].done for s in sids), timeout=30)
        answers = [client.answers[s] for s in sids]
    assert all(a.status == 200 and a.ended for a in answers)
    assert {a.body for a in answers} == {b"hello", b"slow"}
    assert len(origin.requests(count=51)) == 51  # one fill, and the 50 uncached


def test_a_large_response_is_sent_as_flow_control_allows(edge: H2Edge) -> None:
    small = {4: 16_384}  # SETTINGS_INITIAL_WINDOW_SIZE: the client takes little at a time
    with edge.client(settings=small) as client:
        filled = client.get("/big")
        hit = client.get("/big")
    assert filled.status == 200 and filled.body == BIG and filled.headers["staydown-cache"] == "miss"
    assert hit.body == BIG and hit.headers["staydown-cache"] == "hit"


@pytest.mark.parametrize(
    "settings",
    [{}, {4: 1 << 20, 5: 32_768}],  # the defaults; a larger stream window and frame size
    ids=["default-frames", "larger-frames"],
)
def test_large_hits_on_concurrent_streams_keep_to_frame_size_and_windows(
    edge: H2Edge, settings: dict[int, int]
) -> None:
    """Frames the edge builds past the state machine: a frame above the client's size or a byte
    beyond a window is a protocol error to the client library, which then closes."""
    with edge.client() as warm:
        assert warm.get("/big").status == 200
    with edge.client() as client:
        if settings:  # as a change the client's library applies once acknowledged
            client.conn.update_settings(settings)
            client.flush()
        sids = [client.send("/big") for _ in range(3)]
        assert client.until(lambda: all(client.answers[s].done for s in sids), timeout=30)
        assert not client.closed
        assert all(client.answers[s].body == BIG and client.answers[s].ended for s in sids)
        assert client.get("/big").body == BIG  # the connection's windows still add up


def test_rate_limits_apply_to_h2_streams(origin: WireOrigin, tmp_path: Path) -> None:
    config = EdgeConfig(legal_url="https://cdn.example/legal", rate_per_second=1, rate_burst=3)
    with H2Edge(origin.url, tmp_path / "tls", config) as edge, edge.client() as client:
        answers = [client.get("/page") for _ in range(8)]
    statuses = [a.status for a in answers]
    assert statuses.count(429) >= 4 and statuses[0] == 200
    limited = next(a for a in answers if a.status == 429)
    assert int(limited.headers["retry-after"]) >= 1
    assert edge.counters()["rate_limited"] == statuses.count(429)


def test_the_edge_says_goaway_when_it_stops_and_finishes_the_streams_begun(
    edge: H2Edge, origin: WireOrigin
) -> None:
    with edge.raw() as peer:  # raw: the h2 library takes no frames after a GOAWAY it received
        peer.preface()
        peer.write(peer.headers(1, peer.block("/slow/stopping")))
        origin.requests()  # it is at the origin
        stopping = threading.Thread(target=edge.shutdown)
        stopping.start()
        ended = lambda: any(isinstance(f, DataFrame) and "END_STREAM" in f.flags for f in peer.frames)  # noqa: E731
        assert peer.until(lambda: peer.goaway() is not None and ended())
        goaway = peer.goaway()
        assert goaway is not None and (goaway.error_code, goaway.last_stream_id) == (0, 1)
        body = b"".join(f.data for f in peer.frames if isinstance(f, DataFrame))
        assert body == b"slow"
        assert peer.closes(5)
        stopping.join(10)
        assert edge.stopped
