"""Response heads built from values, without sockets: how a streamed response is framed for each
client, interim responses, and the edge's own answers for the server and refused methods."""

from __future__ import annotations

import pytest

from staydown.edge.core import Decision, Outcome, Request
from staydown.edge.responses import enforcement_response, interim_head, stream_head


def client(method: str = "GET", *, http_11: bool = True, keep_alive: bool = True) -> Request:
    return Request(method, "/", {"host": "h.test"}, keep_alive, "127.0.0.1", http_11)


@pytest.mark.parametrize(
    ("status", "length", "codings", "request_", "framing", "chunked", "close"),
    [
        (200, 5, (), client(), b"Content-Length: 5", False, False),
        (200, None, (), client(), b"Transfer-Encoding: chunked", True, False),
        (200, None, ("gzip",), client(), b"Transfer-Encoding: gzip, chunked", True, False),
        (200, None, (), client(http_11=False), b"Connection: close", False, True),
        (200, None, ("gzip",), client(http_11=False), b"Connection: close", False, True),
        (200, 5, (), client("HEAD"), b"Content-Length: 5", False, False),
        (204, None, (), client(), b"Staydown-Cache: bypass", False, False),
    ],
    ids=["length", "chunked", "coding-kept", "http-1.0", "http-1.0-coded", "head", "no-content"],
)
def test_a_streamed_response_is_framed_for_its_client(
    status: int,
    length: int | None,
    codings: tuple[str, ...],
    request_: Request,
    framing: bytes,
    chunked: bool,
    close: bool,
) -> None:
    fields = [("Content-Length", "999"), ("X-Kept", "1")]
    head, is_chunked, closes = stream_head(
        status, fields, length=length, codings=codings, request=request_, state="bypass"
    )
    assert head.endswith(framing + b"\r\n\r\n")
    assert (is_chunked, closes) == (chunked, close)
    assert b"X-Kept: 1\r\n" in head and b"999" not in head
    if not request_.http_11:
        assert b"Transfer-Encoding" not in head


def test_an_interim_response_carries_the_fields_given() -> None:
    head = interim_head(103, [("Link", "</a.css>; rel=preload")])
    assert head == b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"


def test_the_server_options_and_refused_methods_name_what_is_allowed() -> None:
    allowed = b"Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n"
    options = enforcement_response(
        Decision(Outcome.server_options), legal_url="", provider="", accept="", head=False
    )
    assert options.startswith(b"HTTP/1.1 200 OK\r\n") and allowed in options
    connect = Decision(Outcome.method_not_allowed, detail="CONNECT")
    refused = enforcement_response(connect, legal_url="", provider="", accept="", head=False)
    assert refused.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n") and allowed in refused
    assert b"Connection: close\r\n" in refused


def test_a_stay_down_block_says_what_it_is_and_how_to_contest_it() -> None:
    from staydown.edge.responses import blocked_response
    from staydown.urls import canonicalize_url

    url = canonicalize_url("http://shop.example/copy.jpg")
    page = blocked_response(
        url=url, notice_id=None, legal_url="https://cdn.example/legal", provider="Example CDN",
        want_json=False, head=False,
    ).decode()  # fmt: skip
    assert "copy of content it was notified of" in page and "list of restrictions" in page
    assert "notice (stay-down match)" not in page and "notice #" not in page
    noticed = blocked_response(
        url=url, notice_id=7, legal_url="https://cdn.example/legal", provider="Example CDN",
        want_json=False, head=False,
    ).decode()  # fmt: skip
    assert "in response to notice #7" in noticed and "counter-notice" in noticed
