"""Every method over real sockets: bodies framed exactly as RFC 9112 says and re-framed for the
origin, 413 beyond the bound, blocks before everything, CONNECT and TRACE refused, and stored
responses invalidated by an unsafe method's success (RFC 9111 section 4.4)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from staydown.edge.server import EdgeConfig
from tests.edge.wire import HOST, LocalEdge, Received, WireOrigin, ok, read_responses, request, statuses


@pytest.fixture
def origin() -> Iterator[WireOrigin]:
    with WireOrigin() as wire:
        yield wire


@pytest.fixture
def edge(origin: WireOrigin) -> Iterator[LocalEdge]:
    config = EdgeConfig(legal_url="https://cdn.example/legal", header_timeout=2.0, max_body=1000)
    with LocalEdge(origin.url, config) as local:
        yield local


def body_of(response: bytes) -> bytes:
    return response.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_a_method_passes_to_the_origin_with_its_body(
    edge: LocalEdge, origin: WireOrigin, method: str
) -> None:
    answer = edge.exchange(request(method, "/form", "Content-Length: 5", body=b"hello"))
    assert statuses(answer) == [200]
    (seen,) = origin.requests()
    assert (seen.method, seen.target, seen.body) == (method, "/form", b"hello")
    assert seen.field("content-length") == "5"
    assert seen.field("host") == HOST


def test_a_chunked_body_is_reframed_without_its_extensions_and_trailers(
    edge: LocalEdge, origin: WireOrigin
) -> None:
    chunked = b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: secret\r\nHost: evil.test\r\n\r\n"
    answer = edge.exchange(request("POST", "/upload", "Transfer-Encoding: chunked", body=chunked))
    assert statuses(answer) == [200]
    (seen,) = origin.requests()
    assert seen.body == b"hello world"
    assert seen.field("transfer-encoding") == "chunked"
    assert b"name=value" not in seen.raw and b"secret" not in seen.raw and b"evil.test" not in seen.raw
    assert seen.field("host") == HOST


def test_hop_by_hop_fields_are_not_forwarded(edge: LocalEdge, origin: WireOrigin) -> None:
    fields = [
        "Connection: keep-alive, X-Hop",
        "X-Hop: 1",
        "Keep-Alive: timeout=5",
        "TE: trailers",
        "Proxy-Authorization: Basic eA==",
        "Upgrade: h2c",
        "X-End: kept",
        "Content-Length: 2",
    ]
    edge.exchange(request("PUT", "/doc", *fields, body=b"{}"))
    (seen,) = origin.requests()
    assert seen.field("x-end") == "kept"
    for name in ("x-hop", "keep-alive", "te", "proxy-authorization", "upgrade", "connection"):
        assert name not in seen.names(), name
    assert seen.field("via") == "1.1 staydown"


def test_a_bodiless_post_is_sent_an_empty_content_length(edge: LocalEdge, origin: WireOrigin) -> None:
    assert statuses(edge.exchange(request("POST", "/ping"))) == [200]
    (seen,) = origin.requests()
    assert seen.field("content-length") == "0" and seen.body == b""


def test_responses_to_other_methods_are_never_stored(edge: LocalEdge, origin: WireOrigin) -> None:
    edge.exchange(request("OPTIONS", "/thing"))
    edge.exchange(request("OPTIONS", "/thing"))
    assert [r.method for r in origin.requests(count=2)] == ["OPTIONS", "OPTIONS"]


def test_pipelined_requests_after_a_body_start_where_the_body_ended(
    edge: LocalEdge, origin: WireOrigin
) -> None:
    # The body looks like a request: it is the POST's body, and the GET after it is the next request.
    smuggled = b"GET /admin HTTP/1.1\r\nHost: wire.example.test\r\n\r\n"
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled)
    payload = (
        request("POST", "/a", f"Content-Length: {len(smuggled)}", body=smuggled)
        + request("POST", "/b", "Transfer-Encoding: chunked", body=chunked)
        + request("GET", "/c")
    )
    answer = edge.exchange(payload, responses=3)
    assert statuses(answer) == [200, 200, 200]
    seen = origin.requests(count=3)
    assert [(r.method, r.target) for r in seen] == [("POST", "/a"), ("POST", "/b"), ("GET", "/c")]
    assert seen[0].body == smuggled and seen[1].body == smuggled


@pytest.mark.parametrize(
    ("fields", "body"),
    [
        (["Content-Length: 5", "Transfer-Encoding: chunked"], b"0\r\n\r\n"),
        (["Transfer-Encoding: chunked", "Content-Length: 5"], b"0\r\n\r\n"),
        (["Content-Length: 5", "Content-Length: 6"], b"hello!"),
        (["Content-Length: 5", "Content-Length: 5"], b"hello"),
        (["Content-Length: 5, 5"], b"hello"),
        (["Content-Length: +5"], b"hello"),
        (["Content-Length: -5"], b"hello"),
        (["Transfer-Encoding: chunked"], b"0x5\r\nhello\r\n0\r\n\r\n"),
        (["Transfer-Encoding: chunked"], b"-5\r\nhello\r\n0\r\n\r\n"),
        (["Transfer-Encoding: chunked"], b"5 \r\nhello\r\n0\r\n\r\n"),
        (["Transfer-Encoding: chunked"], b"5\nhello\r\n0\r\n\r\n"),
        (["Transfer-Encoding: chunked"], b"5\r\nhelloXX0\r\n\r\n"),
        (["Transfer-Encoding: chunked"], b"fffffffffffffffff1\r\nhello\r\n0\r\n\r\n"),
        (["Transfer-Encoding: chunked"], b"5\r\nhello\r\n0\r\nBad Trailer\r\n\r\n"),
        (["Transfer-Encoding: gzip, chunked"], b"0\r\n\r\n"),
        (["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], b"0\r\n\r\n"),
    ],
    ids=[
        "cl-then-te", "te-then-cl", "differing-cl", "repeated-cl", "cl-list", "cl-plus", "cl-negative",
        "0x-size", "negative-size", "size-space", "size-bare-lf", "data-overrun", "size-overflow",
        "bad-trailer", "te-gzip", "te-twice",
    ],
)  # fmt: skip
def test_ambiguous_or_malformed_bodies_are_refused_and_never_reach_the_origin(
    edge: LocalEdge, origin: WireOrigin, fields: list[str], body: bytes
) -> None:
    payload = request("POST", "/form", *fields, body=body) + request("GET", "/after")
    answer = edge.exchange(payload, responses=2)
    assert statuses(answer) == [400]
    assert b"Connection: close" in answer
    assert not [r for r in origin.requests(timeout=0.3) if r.target in ("/form", "/after")]


def test_transfer_encoding_in_http_1_0_is_refused_with_a_body(edge: LocalEdge, origin: WireOrigin) -> None:
    payload = request(
        "POST", "/form", "Transfer-Encoding: chunked", body=b"5\r\nhello\r\n0\r\n\r\n", version="1.0"
    )
    assert statuses(edge.exchange(payload)) == [400]
    assert not origin.requests(timeout=0.3)


def test_a_content_length_beyond_the_bound_is_413_at_once(edge: LocalEdge, origin: WireOrigin) -> None:
    # Only the head is sent: the answer must not wait for a body the edge will not read.
    answer = edge.exchange(request("POST", "/upload", "Content-Length: 1001"))
    assert statuses(answer) == [413]
    assert not origin.requests(timeout=0.3)


def test_a_chunked_body_crossing_the_bound_is_413(edge: LocalEdge, origin: WireOrigin) -> None:
    chunked = b"".join(b"100\r\n" + b"x" * 256 + b"\r\n" for _ in range(4)) + b"0\r\n\r\n"
    answer = edge.exchange(request("POST", "/upload", "Transfer-Encoding: chunked", body=chunked))
    assert statuses(answer) == [413]
    assert all(len(r.body) <= 1000 for r in origin.requests(timeout=0.3))


def test_a_get_body_beyond_the_bound_is_413(edge: LocalEdge, origin: WireOrigin) -> None:
    chunked = b"400\r\n" + b"x" * 1024 + b"\r\n0\r\n\r\n"
    answer = edge.exchange(request("GET", "/page", "Transfer-Encoding: chunked", body=chunked))
    assert statuses(answer) == [413]


def test_an_overlong_chunk_size_line_is_bounded(edge: LocalEdge, origin: WireOrigin) -> None:
    # Leading zeros are a valid chunk size, but the framing of a body counts toward its bound.
    overlong = b"0" * 1_000_000 + b"5\r\nhello\r\n0\r\n\r\n"
    answer = edge.exchange(request("POST", "/form", "Transfer-Encoding: chunked", body=overlong))
    assert statuses(answer) == [413]


def test_a_blocked_resource_is_451_for_every_method_and_the_origin_is_not_asked(
    edge: LocalEdge, origin: WireOrigin
) -> None:
    edge.block("/secret")
    payload = (
        request("POST", "/secret", "Content-Length: 5", body=b"hello")
        + request("PUT", "/secret", "Transfer-Encoding: chunked", body=b"3\r\nabc\r\n0\r\n\r\n")
        + request("DELETE", "/secret")
        + request("OPTIONS", "/secret")
        + request("TRACE", "/secret")
        + request("GET", "/open")
    )
    answer = edge.exchange(payload, responses=6)
    assert statuses(answer) == [451, 451, 451, 451, 451, 200]
    assert [r.target for r in origin.requests()] == ["/open"]


def test_connect_and_trace_are_refused_with_allow(edge: LocalEdge, origin: WireOrigin) -> None:
    trace = edge.exchange(request("TRACE", "/page") + request("GET", "/page"), responses=2)
    assert statuses(trace) == [405, 200]
    assert b"Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n" in trace
    connect = edge.exchange(b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\nSSH-2.0-x\r\n")
    assert statuses(connect) == [405]
    assert b"Connection: close" in connect
    assert [r.method for r in origin.requests()] == ["GET"]


def test_an_unsafe_success_invalidates_the_target_and_same_host_locations(origin: WireOrigin) -> None:
    def answer(received: Received) -> bytes:
        if received.method == "GET":
            body = received.target.encode()
            return b"HTTP/1.1 200 OK\r\nCache-Control: max-age=300\r\nContent-Length: %d\r\n\r\n%s" % (
                len(body),
                body,
            )
        if received.target == "/fails":
            return b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
        return (
            b"HTTP/1.1 201 Created\r\nLocation: /items/1\r\n"
            b"Content-Location: http://other.example.test/items/2\r\nContent-Length: 0\r\n\r\n"
        )

    origin.answer = answer
    with LocalEdge(origin.url) as edge:
        targets = ["/items", "/items/1", "/items/2", "/fails"]
        for target in targets:
            edge.exchange(request("GET", target))
        assert all(b"Staydown-Cache: hit" in edge.exchange(request("GET", t)) for t in targets)
        assert statuses(edge.exchange(request("POST", "/items", "Content-Length: 2", body=b"{}"))) == [201]
        assert statuses(edge.exchange(request("DELETE", "/fails"))) == [500]
        after = {t: edge.exchange(request("GET", t)) for t in targets}
    assert b"Staydown-Cache: miss" in after["/items"]  # the target
    assert b"Staydown-Cache: miss" in after["/items/1"]  # its Location, on the same host
    assert b"Staydown-Cache: hit" in after["/items/2"]  # Content-Location on another host
    assert b"Staydown-Cache: hit" in after["/fails"]  # an error invalidates nothing


def test_an_expected_100_continue_precedes_a_forwarded_body(edge: LocalEdge, origin: WireOrigin) -> None:
    with socket.create_connection(("127.0.0.1", edge.port), timeout=5) as sock:
        sock.sendall(request("PUT", "/doc", "Content-Length: 5", "Expect: 100-continue"))
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        assert statuses(read_responses(sock, 1)) == [200]
    (seen,) = origin.requests()
    assert seen.body == b"hello" and seen.field("expect") is None


def test_a_body_that_stalls_is_cut_off(edge: LocalEdge, origin: WireOrigin) -> None:
    with socket.create_connection(("127.0.0.1", edge.port), timeout=10) as sock:
        sock.sendall(request("POST", "/form", "Content-Length: 10", body=b"hello"))
        answer = read_responses(sock, 1)  # returns when the edge closes the connection
    assert answer == b""
    assert all(r.body != b"hello" for r in origin.requests(timeout=0.3))


def test_a_request_refused_before_its_body_is_read_drops_the_body_and_the_connection_goes_on(
    origin: WireOrigin,
) -> None:
    config = EdgeConfig(header_timeout=2.0, rate_per_second=0.001, rate_burst=1)
    big = b"x" * 600_000  # more than the edge holds for an exchange before it stops reading
    payload = (
        request("GET", "/blocked")  # answered at once, and the one request the limit lets through
        + request("POST", "/form", f"Content-Length: {len(big)}", body=big)
        + request("GET", "/after")
    )
    with LocalEdge(origin.url, config) as edge:
        edge.block("/blocked")
        answer = edge.exchange(payload, responses=3)
    assert statuses(answer) == [451, 429, 429]
    assert not origin.requests(timeout=0.3)


def test_a_request_asking_for_an_upgrade_is_read_by_its_framing_with_its_body(
    edge: LocalEdge, origin: WireOrigin
) -> None:
    # The parser takes what follows such a head for the new protocol; the edge never upgrades, so
    # the declared body is the body, and what follows it is the next request (as curl's h2c sends).
    inner = b"GET /inner HTTP/1.1\r\nHost: wire.example.test\r\n\r\n"
    fields = [
        "Connection: Upgrade, HTTP2-Settings",
        "Upgrade: h2c",
        "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA",
    ]
    payload = request("POST", "/form", *fields, f"Content-Length: {len(inner)}", body=inner) + request(
        "GET", "/after"
    )
    answer = edge.exchange(payload, responses=2)
    assert statuses(answer) == [200, 200]
    seen = origin.requests(count=2)
    assert [(r.method, r.target, r.body) for r in seen] == [("POST", "/form", inner), ("GET", "/after", b"")]
    assert not {"upgrade", "http2-settings", "connection"} & seen[0].names()


def test_a_request_asking_for_an_upgrade_with_a_chunked_body_is_refused(
    edge: LocalEdge, origin: WireOrigin
) -> None:
    chunked = b"5\r\nhello\r\n0\r\n\r\n"
    fields = ["Connection: Upgrade", "Upgrade: h2c", "Transfer-Encoding: chunked"]
    answer = edge.exchange(
        request("POST", "/form", *fields, body=chunked) + request("GET", "/after"), responses=2
    )
    assert statuses(answer) == [400]
    assert not origin.requests(timeout=0.3)


def test_options_for_the_server_itself_is_answered_by_the_edge(edge: LocalEdge, origin: WireOrigin) -> None:
    answer = edge.exchange(
        b"OPTIONS * HTTP/1.1\r\nHost: wire.example.test\r\n\r\n" + request("GET", "/next"), responses=2
    )
    assert statuses(answer) == [200, 200]
    assert b"Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n" in answer
    assert [r.target for r in origin.requests()] == ["/next"]
    refused = edge.exchange(b"GET * HTTP/1.1\r\nHost: wire.example.test\r\n\r\n")
    assert statuses(refused) == [400]


def test_an_origin_answering_before_the_whole_body_ends_the_upload_not_the_connection() -> None:
    def refuse(received: Received) -> bytes:
        if received.method == "POST":
            return b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\n\r\nfull"
        return ok(received)

    big = b"x" * 8_000_000  # more than the sockets between edge and origin hold unread
    config = EdgeConfig(header_timeout=5.0, max_body=len(big))
    with WireOrigin(refuse, early=True) as origin, LocalEdge(origin.url, config) as edge:
        payload = request("POST", "/upload", f"Content-Length: {len(big)}", body=big) + request(
            "GET", "/next"
        )
        answer = edge.exchange(payload, responses=2, timeout=10)
        assert statuses(answer) == [413, 200]
        assert [r.target for r in origin.requests()] == ["/next"]


def test_a_pipelined_100_continue_is_sent_once_its_request_is_answered(origin: WireOrigin) -> None:
    def slow(received: Received) -> bytes:
        if received.target == "/slow":
            time.sleep(0.3)  # the PUT's head is read while this is still being answered
        return ok(received)

    origin.answer = slow
    with LocalEdge(origin.url) as edge, socket.create_connection(("127.0.0.1", edge.port), timeout=5) as sock:
        sock.sendall(
            request("GET", "/slow") + request("PUT", "/doc", "Content-Length: 5", "Expect: 100-continue")
        )
        received = b""
        while b"100 Continue\r\n\r\n" not in received:  # the body is not sent before it
            received += sock.recv(65536)
        assert statuses(received) == [200, 100]  # not before the GET's answer
        assert received.endswith(b"\r\n\r\nokHTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"hello")
        assert statuses(read_responses(sock, 1)) == [200]
    assert [(r.target, r.body) for r in origin.requests(count=2)] == [("/slow", b""), ("/doc", b"hello")]


def test_a_large_body_of_an_upgrade_request_is_read_across_reads(origin: WireOrigin) -> None:
    big = bytes(range(256)) * 4000  # ~1 MB: many reads, and more than the edge holds untaken
    fields = ["Connection: Upgrade", "Upgrade: h2c", f"Content-Length: {len(big)}"]
    with LocalEdge(origin.url, EdgeConfig(max_body=len(big))) as edge:
        payload = request("PUT", "/blob", *fields, body=big) + request("GET", "/after")
        assert statuses(edge.exchange(payload, responses=2, timeout=10)) == [200, 200]
    seen = origin.requests(count=2)
    assert [(r.target, r.body == big) for r in seen] == [("/blob", True), ("/after", False)]


def test_pipelined_upgrade_requests_with_bodies_are_each_read_by_their_framing(
    edge: LocalEdge, origin: WireOrigin
) -> None:
    fields = ["Connection: Upgrade", "Upgrade: h2c", "Content-Length: 5"]
    payload = (
        request("POST", "/one", *fields, body=b"first")
        + request("POST", "/two", *fields, body=b"again")
        + request("GET", "/after")
    )
    assert statuses(edge.exchange(payload, responses=3)) == [200, 200, 200]
    seen = origin.requests(count=3)
    assert [(r.target, r.body) for r in seen] == [("/one", b"first"), ("/two", b"again"), ("/after", b"")]
