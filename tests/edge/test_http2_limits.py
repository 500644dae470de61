"""HTTP/2 abuse at the edge over real sockets (TLS, ALPN h2), each case as an attacker's frames:
rapid reset, CONTINUATION floods, oversized header lists and HPACK tables, too many streams,
SETTINGS and PING floods, zero-window stalls, bad prefaces, idle connections, and malformed
requests (invalid fields, Content-Length against DATA) that never reach the origin."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hpack import Encoder
from hyperframe.frame import DataFrame, HeadersFrame, PingFrame, SettingsFrame

from staydown.edge import http2
from staydown.edge.server import EdgeConfig
from tests.edge.h2peer import H2Edge, RawPeer, client_context
from tests.edge.wire import HOST, Received, WireOrigin

PROTOCOL_ERROR, REFUSED_STREAM, ENHANCE_YOUR_CALM = 0x1, 0x7, 0xB
STREAMED = bytes(range(256)) * 4096 * 8  # 8 MiB the cache does not keep


def answer(received: Received) -> bytes | list[bytes]:
    if received.target == "/streamed":
        return (
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nCache-Control: no-store\r\n\r\n" % len(STREAMED)
            + STREAMED
        )
    if received.target.startswith("/slow"):
        return [b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nCache-Control: no-store\r\n\r\n", b"slow"]
    return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: public, max-age=300\r\n\r\nok"


@pytest.fixture
def origin() -> Iterator[WireOrigin]:
    with WireOrigin(answer) as wire:
        yield wire


@pytest.fixture
def edge(origin: WireOrigin, tmp_path: Path) -> Iterator[H2Edge]:
    config = EdgeConfig(legal_url="https://cdn.example/legal", header_timeout=2.0, idle_timeout=2.0)
    with H2Edge(origin.url, tmp_path / "tls", config) as local:
        yield local


def ended_streams(peer: RawPeer) -> set[int]:
    return {
        f.stream_id
        for f in peer.frames
        if isinstance(f, DataFrame | HeadersFrame) and "END_STREAM" in f.flags
    }


def test_rapid_reset_is_cut_off_with_enhance_your_calm(edge: H2Edge, origin: WireOrigin) -> None:
    with edge.raw() as peer:
        peer.preface()
        for batch in range(20):
            sids = range(1 + batch * 100, 1 + (batch + 1) * 100, 2)
            if not peer.write(
                b"".join(peer.headers(s, peer.block(f"/slow/{s}")) + peer.reset(s) for s in sids)
            ):
                break
        assert peer.closes()
    goaway = peer.goaway()
    assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
    assert edge.counters()["h2_rapid_reset"] == 1
    time.sleep(0.3)
    assert len(origin.received) <= http2.RESET_BUDGET + 1  # the work begun stopped with the streams


@pytest.mark.parametrize(("frames", "size"), [(8, 16_000), (40, 0)])
def test_a_header_block_that_never_ends_is_cut_off(edge: H2Edge, frames: int, size: int) -> None:
    with edge.raw() as peer:
        peer.preface()
        peer.write(peer.headers(1, peer.block("/page"), end_headers=False))
        for _ in range(frames):
            if not peer.write(peer.continuation(1, b"\x00" * size)):
                break
        assert peer.closes()
    goaway = peer.goaway()
    assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
    assert edge.counters()["h2_header_flood"] == 1


def test_header_lists_beyond_the_bounds_are_431_or_refused(edge: H2Edge) -> None:
    with edge.client() as client:
        large = client.get("/page", fields=[(f"x-field-{i}", "v" * 2000) for i in range(10)])
        assert large.status == 431  # beyond the edge's 16 KiB of fields, as over HTTP/1.1
        assert client.get("/page").status == 200  # and the connection goes on
    with edge.raw() as peer:  # an HPACK bomb: a few bytes that decode to 120 KB of fields
        peer.preface()
        bomb = peer.block("/page", *[("x-bomb", "a" * 4000)] * 30)
        assert len(bomb) < 8000
        peer.write(peer.headers(1, bomb))
        assert peer.closes()
    goaway = peer.goaway()
    assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM


def test_the_hpack_tables_stay_bounded_both_ways(edge: H2Edge) -> None:
    with edge.raw() as peer:  # the client's encoder may not use a table larger than the edge allows
        peer.preface()
        peer.encoder.header_table_size = 1 << 20
        peer.write(peer.headers(1, peer.block("/page")))
        assert peer.closes()
    goaway = peer.goaway()  # h2 reports every HPACK decoding error as a PROTOCOL_ERROR
    assert goaway is not None and goaway.error_code == PROTOCOL_ERROR
    with edge.client(settings={SettingsFrame.HEADER_TABLE_SIZE: 1 << 30}) as client:
        assert client.get("/page").status == 200
        assert edge.edge is not None
        (connection,) = edge.edge.retiring
        assert isinstance(connection, http2.Http2Protocol)
        assert connection.h2.encoder.header_table_size == http2.ENCODER_TABLE  # not the client's 1 GiB


def test_streams_beyond_the_concurrent_limit_are_refused(edge: H2Edge, origin: WireOrigin) -> None:
    with edge.raw() as peer:
        peer.preface()  # and 150 requests at once, before the edge's SETTINGS are even read
        sids = list(range(1, 301, 2))
        peer.write(b"".join(peer.headers(s, peer.block(f"/slow/{s}")) for s in sids))
        assert peer.until(lambda: len(ended_streams(peer)) + len(peer.resets()) >= 150, timeout=30)
    refused = {s for s, code in peer.resets().items() if code == REFUSED_STREAM}
    assert refused == set(sids[http2.MAX_STREAMS :])
    assert ended_streams(peer) == set(sids[: http2.MAX_STREAMS])
    assert edge.counters()["h2_refused_stream"] == 50
    assert len(origin.requests(count=100)) == 100


@pytest.mark.parametrize("kind", ["settings", "ping"])
def test_settings_and_ping_floods_are_cut_off(edge: H2Edge, kind: str) -> None:
    frame = SettingsFrame(0) if kind == "settings" else PingFrame(0, opaque_data=b"12345678")
    with edge.raw() as peer:
        peer.preface()
        for _ in range(10):
            if not peer.write(frame.serialize() * 100):
                break
        assert peer.closes()
    goaway = peer.goaway()
    assert goaway is not None and goaway.error_code == ENHANCE_YOUR_CALM
    assert edge.counters()["h2_control_flood"] == 1


def test_a_client_that_opens_no_window_holds_little_and_is_cut_off(edge: H2Edge) -> None:
    with edge.client(settings={SettingsFrame.INITIAL_WINDOW_SIZE: 0}) as client:
        sid = client.send("/streamed")
        assert client.until(lambda: client.answers[sid].status == 200)
        time.sleep(0.5)  # the origin sends 8 MiB; the edge reads only what the stream may hold
        assert edge.edge is not None
        (connection,) = edge.edge.retiring
        assert isinstance(connection, http2.Http2Protocol)
        held = connection.streams[sid].pending_size
        assert held <= http2.STREAM_BUFFER + 256 * 1024
        started = time.monotonic()
        assert client.until(lambda: False, timeout=8) is False and client.closed
        assert time.monotonic() - started < 6  # idle_timeout (2 s) and the sweep's second
    assert client.answers[sid].body == b""
    assert edge.counters()["timeout"] >= 1


def test_a_bad_preface_is_refused_with_goaway(edge: H2Edge) -> None:
    with RawPeer(edge.h2_port, client_context(edge.cert)) as peer:
        peer.write(b"GET / HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\n\r\n")
        assert peer.closes()
    goaway = peer.goaway()
    assert goaway is not None and goaway.error_code == PROTOCOL_ERROR


def test_silent_and_idle_connections_are_closed(edge: H2Edge) -> None:
    with RawPeer(edge.h2_port, client_context(edge.cert)) as silent:  # never sends its preface
        started = time.monotonic()
        assert silent.closes()
        assert time.monotonic() - started < 6
    with edge.client() as client:  # answered, then only PINGs: they do not keep it open
        assert client.get("/page").status == 200
        started = time.monotonic()
        while not client.closed and time.monotonic() - started < 8:
            if client.goaway is None:
                client.conn.ping(b"stayhere")
                client.flush()
            client.read(0.3)
        assert client.closed and time.monotonic() - started < 6


@pytest.mark.parametrize(
    "fields",
    [
        [("X-Upper", "1")],
        [("connection", "keep-alive")],
        [("transfer-encoding", "chunked")],
        [("te", "gzip")],
        [("host", "other.example.test")],
    ],
)
def test_invalid_fields_never_reach_the_origin(
    edge: H2Edge, origin: WireOrigin, fields: list[tuple[str, str]]
) -> None:
    with edge.raw() as peer:
        peer.preface()
        peer.write(peer.headers(1, peer.block("/page", *fields)))
        peer.until(lambda: peer.closed or bool(peer.resets()) or bool(ended_streams(peer)), timeout=5)
    goaway = peer.goaway()
    refused = goaway is not None and goaway.error_code == PROTOCOL_ERROR
    assert refused or peer.resets().get(1) == PROTOCOL_ERROR
    assert origin.requests(timeout=0.3) == []


def test_a_request_without_path_or_with_bad_pseudo_headers_is_refused(
    edge: H2Edge, origin: WireOrigin
) -> None:
    blocks = [
        [(":method", "GET"), (":scheme", "https"), (":authority", HOST)],  # no :path
        [(":method", "GET"), (":scheme", "https"), (":authority", HOST), (":path", "/"), (":x", "y")],
        [(":method", "GET"), ("accept", "*/*"), (":scheme", "https"), (":authority", HOST), (":path", "/")],
    ]
    for fields in blocks:
        with edge.raw() as peer:
            peer.preface()
            peer.write(peer.headers(1, bytes(Encoder().encode(fields))))
            assert peer.closes()
        goaway = peer.goaway()
        assert goaway is not None and goaway.error_code == PROTOCOL_ERROR
    assert origin.requests(timeout=0.3) == []


@pytest.mark.parametrize("sent", [b"0123456789", b"012", None])
def test_data_against_its_content_length_never_reaches_the_origin(
    edge: H2Edge, origin: WireOrigin, sent: bytes | None
) -> None:
    with edge.raw() as peer:
        peer.preface()
        block = bytes(
            peer.encoder.encode(
                [(":method", "POST"), (":scheme", "https"), (":authority", HOST), (":path", "/form"),
                 ("content-length", "5")]
            )
        )  # fmt: skip
        if sent is None:  # five bytes announced, and the stream ended with its HEADERS
            peer.write(peer.headers(1, block, end_stream=True))
            assert peer.until(lambda: 1 in ended_streams(peer))  # answered 400 on its stream
            assert edge.counters()["bad_request"] == 1
        else:
            peer.write(peer.headers(1, block, end_stream=False) + peer.data(1, sent, end=True))
            assert peer.closes()
            goaway = peer.goaway()
            assert goaway is not None and goaway.error_code == PROTOCOL_ERROR
    assert origin.requests(timeout=0.5) == []  # never a request the origin would take


def test_the_edge_refuses_connections_beyond_its_bound(origin: WireOrigin, tmp_path: Path) -> None:
    config = EdgeConfig(legal_url="https://cdn.example/legal", max_connections=1)
    with H2Edge(origin.url, tmp_path / "tls", config) as edge, edge.client() as first:
        assert first.get("/page").status == 200
        with edge.raw() as second:
            second.preface()
            assert second.closes()
        goaway = second.goaway()
        assert goaway is not None and (goaway.error_code, goaway.last_stream_id) == (0, 0)
        assert edge.counters()["connection_refused"] == 1
        assert first.get("/page").status == 200
