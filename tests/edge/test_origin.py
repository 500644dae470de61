"""The edge reading origins over real sockets (RFC 9110, RFC 9112): an origin that sends exactly
the bytes under test, and what the client then receives."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import httptools
import pytest

from tests.edge.wire import LocalEdge, Received, WireOrigin, request, statuses

CACHEABLE = b"Cache-Control: public, max-age=300\r\n"
CODED = gzip.compress(b"hello", mtime=0)


def answering(payload: bytes | list[bytes], *, close: bool = False) -> Iterator[tuple[WireOrigin, LocalEdge]]:
    with WireOrigin(lambda received: payload, close=close) as origin, LocalEdge(origin.url) as edge:
        yield origin, edge


def dechunked(response: bytes) -> bytes:
    """The body of one chunked response, as a client decodes it."""
    pieces: list[bytes] = []

    class Body:
        def on_body(self, body: bytes) -> None:
            pieces.append(body)

    httptools.HttpResponseParser(Body()).feed_data(response)
    return b"".join(pieces)


@pytest.fixture
def connection_named() -> Iterator[tuple[WireOrigin, LocalEdge]]:
    yield from answering(
        b"HTTP/1.1 200 OK\r\nConnection: X-Internal, keep-alive\r\nX-Internal: secret\r\n"
        b"Keep-Alive: timeout=5\r\nX-Public: yes\r\n" + CACHEABLE + b"Content-Length: 2\r\n\r\nok"
    )


def test_fields_the_origin_connection_names_are_neither_forwarded_nor_stored(
    connection_named: tuple[WireOrigin, LocalEdge],
) -> None:
    _, edge = connection_named
    miss = edge.exchange(request("GET", "/page"))
    hit = edge.exchange(request("GET", "/page"))
    passed = edge.exchange(request("POST", "/page", "Content-Length: 0"))
    assert b"Staydown-Cache: miss" in miss and b"Staydown-Cache: hit" in hit
    for answer in (miss, hit, passed):
        assert statuses(answer) == [200]
        assert b"X-Public: yes" in answer
        assert b"secret" not in answer and b"Keep-Alive" not in answer and b"X-Internal" not in answer


@pytest.fixture
def gzip_coded() -> Iterator[tuple[WireOrigin, LocalEdge]]:
    # No Content-Length and a transfer coding that is not chunked: the body ends with the connection.
    yield from answering(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n" + CACHEABLE + b"\r\n" + CODED,
        close=True,
    )


def test_an_unknown_transfer_coding_is_read_until_the_origin_closes(
    gzip_coded: tuple[WireOrigin, LocalEdge],
) -> None:
    _, edge = gzip_coded
    answer = edge.exchange(request("GET", "/coded"))
    assert statuses(answer) == [200]
    assert b"Transfer-Encoding: gzip, chunked\r\n" in answer  # the coding stays applied, and named
    assert gzip.decompress(dechunked(answer)) == b"hello"
    again = edge.exchange(request("GET", "/coded"))
    assert b"Staydown-Cache: bypass" in again  # never stored with a coding the edge cannot undo


def test_an_unknown_transfer_coding_reaches_an_http_1_0_client_delimited_by_close(
    gzip_coded: tuple[WireOrigin, LocalEdge],
) -> None:
    _, edge = gzip_coded
    answer = edge.exchange(request("GET", "/coded", version="1.0"))
    assert statuses(answer) == [200]
    assert b"Transfer-Encoding" not in answer and b"Connection: close" in answer
    assert answer.endswith(CODED)


@pytest.fixture
def cut_short() -> Iterator[tuple[WireOrigin, LocalEdge]]:
    yield from answering(
        b"HTTP/1.1 200 OK\r\n" + CACHEABLE + b"Content-Length: 100\r\n\r\n0123456789", close=True
    )


def test_a_stored_response_cut_short_is_502_never_500(cut_short: tuple[WireOrigin, LocalEdge]) -> None:
    _, edge = cut_short
    answer = edge.exchange(request("GET", "/short"))
    assert statuses(answer) == [502]
    assert b"Connection: close" in answer
    assert edge.counters().get("origin_error") == 1


def test_a_passed_response_cut_short_ends_the_connection_without_a_second_status(
    cut_short: tuple[WireOrigin, LocalEdge],
) -> None:
    _, edge = cut_short
    answer = edge.exchange(request("POST", "/short", "Content-Length: 0") + request("GET", "/next"))
    assert statuses(answer) == [200]
    assert answer.endswith(b"\r\n\r\n0123456789")  # what the origin sent, then the connection closed


@pytest.fixture
def early_hints() -> Iterator[tuple[WireOrigin, LocalEdge]]:
    yield from answering(
        [
            b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n"
            b"Connection: X-Hop\r\nX-Hop: 1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n" + CACHEABLE + b"Content-Length: 2\r\n\r\nok",
        ]
    )


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_early_hints_reach_an_http_1_1_client_before_the_final_response(
    early_hints: tuple[WireOrigin, LocalEdge], method: str
) -> None:
    _, edge = early_hints
    answer = edge.exchange(
        request(method, "/hinted", "Content-Length: 0") + request("GET", "/next"), responses=2
    )
    assert statuses(answer) == [103, 200, 103, 200]
    hint, final = answer.split(b"\r\n\r\n", 1)
    assert hint == b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload"
    assert final.startswith(b"HTTP/1.1 200 OK\r\n")


def test_early_hints_are_not_sent_to_an_http_1_0_client(early_hints: tuple[WireOrigin, LocalEdge]) -> None:
    _, edge = early_hints
    answer = edge.exchange(request("GET", "/hinted", version="1.0"))
    assert statuses(answer) == [200]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_100_continue_from_the_origin_is_not_taken_for_the_response(method: str) -> None:
    def answer(received: Received) -> list[bytes]:
        return [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone"]

    with WireOrigin(answer) as origin, LocalEdge(origin.url) as edge:
        response = edge.exchange(request(method, "/made", "Content-Length: 3", body=b"abc"))
    assert statuses(response) == [201]
    assert response.endswith(b"\r\n\r\ndone")
