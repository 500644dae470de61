"""HTTP/2's side of the sans-io core: fields to the request HTTP/1.1 gives, refusals, response
heads to HTTP/2 fields, and the header-block budget however the bytes are split."""

from __future__ import annotations

import pytest
from hpack import Decoder, Encoder
from hyperframe.frame import ContinuationFrame, DataFrame, HeadersFrame
from hypothesis import given, settings
from hypothesis import strategies as st

from staydown.edge import h2map
from staydown.edge.core import Request

BASE = [
    (b":method", b"GET"),
    (b":scheme", b"https"),
    (b":authority", b"Wire.Example.Test:443"),
    (b":path", b"/a?b"),
]


def test_fields_map_to_the_request_http_1_1_gives() -> None:
    fields = [*BASE, (b"cookie", b"a=1; b=2"), (b"accept", b"*/*"), (b"accept", b"text/html")]
    mapped = h2map.request_from_fields(fields, client="192.0.2.1")
    assert mapped == Request(
        "GET", "/a?b", {"cookie": "a=1; b=2", "accept": "text/html", "host": "Wire.Example.Test:443"},
        True, "192.0.2.1", http_2=True, scheme="https",  # HTTP/2 is served over TLS only
    )  # fmt: skip
    assert isinstance(
        h2map.request_from_fields([*BASE, (b"host", b"wire.example.test")], client="-"), Request
    )
    no_authority = [f for f in BASE if f[0] != b":authority"] + [(b"host", b"wire.example.test")]
    assert h2map.request_from_fields(no_authority, client="-").headers["host"] == "wire.example.test"  # type: ignore[union-attr]
    connect = [(b":method", b"CONNECT"), (b":authority", b"example.test:443")]
    assert h2map.request_from_fields(connect, client="-").target == "example.test:443"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ([*BASE, (b"host", b"evil.test")], 400),
        ([*BASE, (b"X-Upper", b"1")], 400),
        ([*BASE, (b"connection", b"close")], 400),
        ([*BASE, (b"te", b"gzip")], 400),
        ([*BASE, (b"content-length", b"5"), (b"content-length", b"6")], 400),
        ([*BASE, (b"content-length", b"-1")], 400),
        ([*BASE[:3], (b":path", b"http://other.test/")], 400),
        ([*BASE[:3], (b":path", b"/" + b"a" * 9000)], 414),
        ([*BASE[:1], (b":scheme", b"ftp"), *BASE[2:]], 400),
        ([*BASE, (b":protocol", b"websocket")], 400),
        ([*BASE[:2], (b":authority", b"user@host.test"), BASE[3]], 400),
        ([*BASE, (b"accept", b"*/*"), (b":x", b"1")], 400),
        ([*BASE, *[(f"x-{i}".encode(), b"v") for i in range(101)]], 431),
        ([*BASE, (b"x-big", b"v" * 17_000)], 431),
        ([(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/")], 400),
    ],
)
def test_requests_http_1_1_would_refuse_are_refused(fields: list[tuple[bytes, bytes]], status: int) -> None:
    refused = h2map.request_from_fields(fields, client="-")
    assert isinstance(refused, h2map.Refusal) and refused.status == status


def test_response_heads_map_to_lowered_fields_without_connection_ones() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    head += b"Transfer-Encoding: chunked\r\nAge: 3"
    status, fields = h2map.response_fields(head)
    assert status == 200
    assert fields == [(b":status", b"200"), (b"content-type", b"text/plain"), (b"age", b"3")]
    mapped = h2map.mapped_head(b"HTTP/1.1 404 Not Found\r\nContent-Length: 7")
    assert (mapped.status, mapped.fields, mapped.declared) == (
        404,
        ((b":status", b"404"), (b"content-length", b"7")),
        7,
    )
    assert Decoder().decode(mapped.block, raw=True) == list(mapped.fields)


def test_a_kept_header_block_neither_uses_nor_changes_the_hpack_table() -> None:
    fields = (
        (b":status", b"200"),  # a whole static entry
        (b"content-type", b"image/jpeg"),  # a static name
        (b"x-cache", b"HIT"),  # neither
        (b"x-long", bytes(range(32, 127)) * 3),  # longer than Huffman makes it: sent as it is
        (b"content-length", b"102400"),
    )
    block = h2map.stateless_block(fields)
    assert block[0] == 0x88  # :status 200 is static entry 8
    fresh, used = Decoder(), Decoder()
    used.decode(Encoder().encode([(b"x-cache", b"MISS"), (b"server", b"other")]), raw=True)
    table = list(used.header_table.dynamic_entries)
    for decoder in (fresh, used):
        assert decoder.decode(block, raw=True) == list(fields)
    assert not fresh.header_table.dynamic_entries and list(used.header_table.dynamic_entries) == table


def _flood(frames: int, size: int) -> bytes:
    head = HeadersFrame(1, data=b"\x82")
    rest = [ContinuationFrame(1, data=b"\x00" * size) for _ in range(frames)]
    return h2map.PREFACE_SIZE * b"P" + head.serialize() + b"".join(f.serialize() for f in rest)


@settings(max_examples=50, deadline=2000)
@given(st.lists(st.integers(min_value=1, max_value=4096), min_size=1, max_size=40))
def test_the_header_block_budget_holds_however_the_bytes_are_split(cuts: list[int]) -> None:
    data = _flood(10, 1000)  # 10 KB in 11 frames: within 16 KB and 12 frames, not within 8 KB
    for budget, expected in ((16_000, True), (8_000, False)):
        watch = h2map.HeaderBlockWatch(budget=budget, frames=12)
        pos, ok = 0, True
        for cut in [*cuts, len(data)]:
            ok = watch.feed(data[pos : pos + cut]) and ok
            pos += cut
            if pos >= len(data):
                break
        if pos < len(data):
            ok = watch.feed(data[pos:]) and ok
        assert ok is expected


def test_a_block_ends_at_end_headers_and_data_is_not_counted() -> None:
    watch = h2map.HeaderBlockWatch(budget=100, frames=4)
    ended = HeadersFrame(1, data=b"\x82" * 90, flags=["END_HEADERS"]).serialize()
    body = DataFrame(1, data=b"x" * 10_000).serialize()
    assert watch.feed(b"P" * h2map.PREFACE_SIZE + ended + body + ended)
    assert not h2map.HeaderBlockWatch(budget=100, frames=4).feed(_flood(5, 0))  # empty CONTINUATIONs
