"""The edge over real sockets: enforcement before everything, a cache that never leaks, and a
feed that survives restarts."""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from staydown.edge.server import EdgeConfig
from tests.conftest import Api
from tests.edge.harness import (
    HOST,
    EdgeThread,
    Route,
    ScriptedOrigin,
    eventually,
    free_port,
    get,
    live_zone,
    raw_request,
)
from tests.support import notice_body


def test_blocked_resource_is_451_under_every_spelling(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    live_zone(api, origin)
    origin.routes["/chapter-1/page-01.jpg"] = Route(
        b"JPEGDATA", headers={"Cache-Control": "public, max-age=600"}
    )
    edge = edge_factory()
    eventually(lambda: get(edge, "/chapter-1/page-01.jpg").status_code == 200)
    assert get(edge, "/chapter-1/page-01.jpg").headers["staydown-cache"] == "hit"
    notice = (
        api.as_("trusted_flagger")
        .post("/v1/notices", json=notice_body([f"http://{HOST}/chapter-1/page-01.jpg"]))
        .json()
    )
    eventually(lambda: get(edge, "/chapter-1/page-01.jpg").status_code == 451)
    response = get(edge, "/chapter-1/page-01.jpg")
    assert response.headers["link"] == '<https://cdn.example/legal>; rel="blocked-by"'
    assert response.headers["cache-control"] == "no-store"
    assert f"#{notice['id']}" in response.text and "counter-notice" in response.text
    as_json = get(edge, "/chapter-1/page-01.jpg", accept="application/json").json()
    assert as_json["notice_id"] == notice["id"]
    hits_before = origin.hits("/chapter-1/page-01.jpg")
    spellings = [
        "/chapter-1/./page-01.jpg",
        "/chapter-1/x/../page-01.jpg",
        "/%63hapter-1/page-01.jpg",
        "/chapter-1/page%2d01.jpg",
        "//chapter-1//page-01.jpg",
        "/chapter-1/%2e/page-01.jpg",
        "/chapter-1/page-01.jpg?size=large",
        "/chapter-1/page-01.jpg#frag",
        # What origins decode before they look a file up: escaped slashes, sub-delimiters, and a
        # trailing slash.
        "/chapter-1%2Fpage-01.jpg",
        "/chapter-1/x%2F..%2Fpage-01.jpg",
        "/chapter-1/x%5C..%5Cpage-01.jpg",
        "/chapter-1/page-01.jpg/",
        "/chapter-1/page-01.jpg%2F",
    ]
    for path in spellings:
        assert get(edge, path).status_code == 451, path
    for host in (HOST.upper(), f"{HOST}:80", f"{HOST}."):
        assert get(edge, "/chapter-1/page-01.jpg", host=host).status_code == 451, host
    absolute = raw_request(
        edge.port,
        f"GET http://{HOST}/chapter-1/page-01.jpg HTTP/1.1\r\nHost: {HOST}\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    assert absolute.startswith(b"HTTP/1.1 451")
    head = httpx.head(edge.url + "/chapter-1/page-01.jpg", headers={"host": HOST})
    assert head.status_code == 451
    assert origin.hits("/chapter-1/page-01.jpg") == hits_before  # the origin never heard of any of it


def test_unknown_and_suspended_zones_never_reach_the_origin(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    zone = live_zone(api, origin)
    origin.routes["/a"] = Route(b"a")
    edge = edge_factory()
    assert get(edge, "/a", host="nobody.example.test").status_code == 421
    eventually(lambda: get(edge, "/a").status_code == 200)
    api.as_("agent").post(f"/v1/zones/{zone['zone_id']}/suspend", json={"reason": "abuse"})
    eventually(lambda: get(edge, "/a").status_code == 403)
    response = get(edge, "/a")
    assert response.headers["staydown-reason"] == "zone-suspended"
    before = len(origin.seen)
    assert get(edge, "/b").status_code == 403
    assert len(origin.seen) == before
    api.as_("agent").post(f"/v1/zones/{zone['zone_id']}/terminate", json={"reason": "repeat infringer"})
    eventually(lambda: get(edge, "/a").headers.get("staydown-reason") == "zone-terminated")


def test_restart_with_the_control_plane_down_still_enforces(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    live_zone(api, origin)
    origin.routes["/keep.jpg"] = Route(b"keep")
    origin.routes["/gone.jpg"] = Route(b"gone")
    edge = edge_factory()
    api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/gone.jpg"]))
    eventually(lambda: get(edge, "/gone.jpg").status_code == 451)
    edge.__exit__()
    dead_control_plane = f"http://127.0.0.1:{free_port()}"
    again = edge_factory(control_plane=dead_control_plane)
    assert get(again, "/gone.jpg").status_code == 451  # from the local store, before any feed contact
    assert get(again, "/keep.jpg").status_code == 200


def test_private_responses_are_never_shared(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    live_zone(api, origin)
    origin.routes["/account"] = Route(b"alice's page", headers={"Cache-Control": "private, max-age=600"})
    origin.routes["/cookie"] = Route(
        b"set", headers={"Cache-Control": "max-age=600", "Set-Cookie": "sid=alice"}
    )
    origin.routes["/plain"] = Route(b"plain", headers={"Cache-Control": "max-age=600"})
    edge = edge_factory()
    eventually(lambda: get(edge, "/plain").status_code == 200)
    for path in ("/account", "/cookie"):
        first = get(edge, path, cookie="sid=alice")
        second = get(edge, path)
        assert first.headers["staydown-cache"] == "bypass"
        assert second.headers["staydown-cache"] == "bypass"
        assert origin.hits(path) == 2
    alice = get(edge, "/plain", authorization="Bearer alice")
    assert alice.headers["staydown-cache"] in ("bypass", "miss")
    assert get(edge, "/plain").headers["staydown-cache"] == "hit"  # stored from the anonymous request
    with_cookie = get(edge, "/plain", cookie="sid=bob")
    assert with_cookie.headers["staydown-cache"] != "hit"  # credentialed requests never read shared copies


def test_conditional_range_and_revalidation(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    live_zone(api, origin)
    origin.routes["/doc"] = Route(
        b"0123456789", headers={"Cache-Control": "max-age=0, must-revalidate", "ETag": '"v1"'}
    )
    origin.routes["/img"] = Route(b"abcdefghij", headers={"Cache-Control": "max-age=600", "ETag": '"i1"'})
    edge = edge_factory()
    eventually(lambda: get(edge, "/img").status_code == 200)
    assert get(edge, "/img", **{"if-none-match": '"i1"'}).status_code == 304
    part = get(edge, "/img", range="bytes=2-4")
    assert (part.status_code, part.content, part.headers["content-range"]) == (206, b"cde", "bytes 2-4/10")
    assert get(edge, "/img", range="bytes=-3").content == b"hij"
    assert get(edge, "/img", range="bytes=50-").status_code == 416
    assert get(edge, "/doc").content == b"0123456789"
    again = get(edge, "/doc")
    assert again.headers["staydown-cache"] == "revalidated"
    assert origin.seen[-1][1].get("if-none-match") == '"v1"'


def test_one_origin_fetch_for_concurrent_misses(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    live_zone(api, origin)
    origin.routes["/slow.jpg"] = Route(b"slow", delay=0.5)
    origin.routes["/warm"] = Route(b"w")
    edge = edge_factory()
    eventually(lambda: get(edge, "/warm").status_code == 200)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda _: get(edge, "/slow.jpg").status_code, range(10)))
    assert statuses == [200] * 10
    assert origin.hits("/slow.jpg") == 1


SMUGGLING = [
    b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
    b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  folded\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
]


@pytest.mark.parametrize("payload", SMUGGLING, ids=range(len(SMUGGLING)))
def test_smuggling_shapes_are_refused_and_others_still_served(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread], payload: bytes
) -> None:
    live_zone(api, origin)
    origin.routes["/ok"] = Route(b"ok")
    edge = edge_factory()
    eventually(lambda: get(edge, "/ok").status_code == 200)
    answer = raw_request(edge.port, payload.replace(b"Host: h", f"Host: {HOST}".encode()))
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert answer.count(b"HTTP/1.1") == 1  # nothing after it: the connection was closed
    assert all(path == "/ok" for path, _ in origin.seen)
    assert get(edge, "/ok").status_code == 200


def test_flood_from_one_address_is_limited_while_another_is_served(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    live_zone(api, origin)
    origin.routes["/r"] = Route(b"r")
    edge = edge_factory(
        config=EdgeConfig(legal_url="https://cdn.example/legal", rate_per_second=5, rate_burst=10)
    )
    eventually(lambda: get(edge, "/r").status_code in (200, 429))
    request = f"GET /r HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode() * 40
    flood = raw_request(edge.port, request, source="127.0.0.1", timeout=1.0)
    assert flood.count(b"HTTP/1.1 429") >= 25
    assert b"Retry-After: " in flood
    other = raw_request(
        edge.port,
        f"GET /r HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode(),
        source="127.0.0.2",
    )
    assert other.startswith(b"HTTP/1.1 200")


def test_a_zone_can_have_its_own_rate_limit(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    limited = live_zone(api, origin)
    live_zone(api, origin, "calm.example.test")
    origin.routes["/r"] = Route(b"r")
    edge = edge_factory()
    agent = api.as_("agent")
    assert agent.post(f"/v1/zones/{limited['zone_id']}/rate-limit", json={"per_second": 0}).status_code == 422
    zone = agent.post(f"/v1/zones/{limited['zone_id']}/rate-limit", json={"per_second": 5, "burst": 10})
    assert zone.json()["rate_limit"] == {"per_second": 5.0, "burst": 10.0}
    flood = f"GET /r HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode() * 40
    eventually(lambda: raw_request(edge.port, flood, timeout=1.0).count(b"HTTP/1.1 429") >= 25)
    calm = b"GET /r HTTP/1.1\r\nHost: calm.example.test\r\n\r\n" * 40
    assert raw_request(edge.port, calm, timeout=1.0).count(b"HTTP/1.1 200") == 40
    cleared = agent.post(f"/v1/zones/{limited['zone_id']}/rate-limit", json={"per_second": None})
    assert cleared.json()["rate_limit"] is None
    eventually(lambda: raw_request(edge.port, flood, timeout=1.0).count(b"HTTP/1.1 200") == 40)


def test_pipelined_requests_are_answered_in_order(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    live_zone(api, origin)
    for name in ("one", "two", "three"):
        origin.routes[f"/{name}"] = Route(name.encode(), delay=0.2 if name == "one" else 0)
    edge = edge_factory()
    eventually(lambda: get(edge, "/two").status_code == 200)
    pipeline = b"".join(
        f"GET /{n} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode() for n in ("one", "two", "three")
    )
    answer = raw_request(
        edge.port, pipeline + f"GET /two HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
    )
    bodies = [chunk.rsplit(b"\r\n\r\n", 1)[-1][:5] for chunk in answer.split(b"HTTP/1.1 200 OK")[1:]]
    assert bodies == [b"one", b"two", b"three", b"two"]


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_client_that_asks_without_reading_is_not_buffered_without_bound(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    """3,000 pipelined range requests over a cached 100 KB object are 300 MB of answers, each its
    own bytes: the edge stops reading while the client does not take them, and still answers every
    one, in order, once it reads."""
    live_zone(api, origin)
    body = bytes(range(256)) * 400  # 102,400 bytes
    origin.routes["/p"] = Route(body, headers={"Cache-Control": "max-age=600"})
    edge = edge_factory()
    eventually(lambda: get(edge, "/p").headers.get("staydown-cache") == "hit")
    count = 3000
    request = f"GET /p HTTP/1.1\r\nHost: {HOST}\r\nRange: bytes=1-\r\n\r\n".encode()
    before = _rss()
    with socket.create_connection(("127.0.0.1", edge.port), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sender = threading.Thread(target=sock.sendall, args=(request * count,), daemon=True)
        sender.start()
        time.sleep(1.5)  # the edge answers what its buffers hold, then waits for the client
        grown = _rss() - before
        assert grown < 64 * 1024 * 1024, f"the edge buffered {grown / 2**20:.0f} MiB for one client"
        received = 0
        buffer = b""
        while received < count:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                chunk = sock.recv(1 << 20)
                assert chunk, f"connection closed after {received} answers"
                buffer += chunk
                continue
            head = buffer[:head_end]
            assert head.startswith(b"HTTP/1.1 206"), head[:100]
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            while len(buffer) < head_end + 4 + length:
                chunk = sock.recv(1 << 20)
                assert chunk, f"connection closed inside answer {received + 1}"
                buffer += chunk
            assert buffer[head_end + 4 : head_end + 4 + length] == body[1:]
            buffer = buffer[head_end + 4 + length :]
            received += 1
        sender.join(10)
    assert received == count and not buffer


def test_a_slow_client_slows_the_origin_read_of_a_streamed_response(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    """A 128 MB response that may not be stored streams through: while the client does not read,
    the edge stops reading from the origin instead of holding the body, and the client still gets
    every byte once it reads."""
    live_zone(api, origin)
    size = 128 * 1024 * 1024
    body = bytes(range(256)) * (size // 256)
    origin.routes["/big"] = Route(body, headers={"Cache-Control": "no-store"})
    edge = edge_factory()
    eventually(lambda: get(edge, "/missing").status_code == 404)
    before = _rss()
    with socket.create_connection(("127.0.0.1", edge.port), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(f"GET /big HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        time.sleep(1.5)  # the origin could send it all by now; the edge must not take it all in
        grown = _rss() - before
        assert grown < 48 * 1024 * 1024, f"the edge buffered {grown / 2**20:.0f} MiB for one client"
        received = bytearray()
        while chunk := sock.recv(1 << 20):
            received += chunk
    head, _, rest = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"staydown-cache: bypass" in head.lower(), head[:300]
    assert len(rest) == size and rest == body


def _established(port: int) -> int:
    """Open TCP connections (either side's count) whose local end is 127.0.0.1:``port``."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if local == f"0100007F:{port:04X}" and state == "01":
            count += 1
    return count


def test_a_client_leaving_mid_stream_frees_the_origin_connection(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    """The rest of a streamed body is not read into a connection kept for reuse: the origin
    connection is closed, so the origin stops sending."""
    live_zone(api, origin)
    origin.routes["/big"] = Route(bytes(64 * 1024 * 1024), headers={"Cache-Control": "no-store"})
    edge = edge_factory()
    eventually(lambda: get(edge, "/missing").status_code == 404)
    port = int(origin.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", edge.port), timeout=10) as sock:
        sock.sendall(f"GET /big HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        eventually(lambda: _established(port) == 1)  # the origin is still sending
    eventually(lambda: _established(port) == 0)


def test_fields_the_connection_header_names_stay_on_this_hop(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    live_zone(api, origin)
    origin.routes["/hop"] = Route(b"hop", headers={"Cache-Control": "no-store"})
    edge = edge_factory()
    eventually(lambda: get(edge, "/missing").status_code == 404)
    answer = raw_request(
        edge.port,
        f"GET /hop HTTP/1.1\r\nHost: {HOST}\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\n"
        "X-Kept: 2\r\n\r\n".encode(),
    )
    assert answer.startswith(b"HTTP/1.1 200")
    [(_, seen)] = [(path, headers) for path, headers in origin.seen if path == "/hop"]
    assert "x-secret" not in seen and seen["x-kept"] == "2"


def test_metrics_on_the_edge(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    live_zone(api, origin)
    origin.routes["/m"] = Route(b"m")
    edge = edge_factory()
    eventually(lambda: get(edge, "/m").status_code == 200)
    get(edge, "/m")
    metrics = httpx.get(edge.metrics_url).text
    assert 'staydown_edge_responses_total{outcome="hit",worker="0"} 1.0' in metrics
    seq = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["head"]
    assert f'staydown_edge_feed_seq{{worker="0"}} {float(seq)}' in metrics
    assert 'staydown_edge_feed_lag{worker="0"} 0.0' in metrics
    zone_metrics = get(edge, "/metrics")  # addressed to a zone: the origin's /metrics, not the edge's
    assert zone_metrics.status_code == 404 and zone_metrics.text == "missing"
    # Addressed to the edge's own IP on the public port: no zone is named so, and nothing is told.
    for host in ("127.0.0.1", f"127.0.0.1:{edge.port}", "[::1]"):
        public = httpx.get(edge.url + "/metrics", headers={"host": host})
        assert public.status_code == 421 and "staydown_edge" not in public.text


def test_vary_keeps_variants_apart(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    live_zone(api, origin)
    origin.routes["/v"] = Route(b"variant", headers={"Cache-Control": "max-age=600", "Vary": "X-Device"})
    edge = edge_factory()
    eventually(lambda: get(edge, "/v", **{"x-device": "mobile"}).status_code == 200)
    assert get(edge, "/v", **{"x-device": "mobile"}).headers["staydown-cache"] == "hit"
    assert get(edge, "/v", **{"x-device": "desktop"}).headers["staydown-cache"] == "miss"
    assert get(edge, "/v").headers["staydown-cache"] == "miss"
    assert get(edge, "/v", **{"x-device": "desktop"}).headers["staydown-cache"] == "hit"
    assert [h.get("x-device") for p, h in origin.seen if p == "/v"] == ["mobile", "desktop", None]


def test_large_and_uncacheable_bodies_stream_through(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    live_zone(api, origin)
    big = bytes(range(256)) * 8192  # 2 MiB
    origin.routes["/big"] = Route(big, headers={"Cache-Control": "max-age=600"})
    origin.routes["/nostore"] = Route(b"fresh each time", headers={"Cache-Control": "no-store"})
    config = EdgeConfig(legal_url="https://cdn.example/legal", max_object=1024 * 1024)
    edge = edge_factory(config=config)
    eventually(lambda: get(edge, "/nostore").status_code == 200)
    first = get(edge, "/big")
    assert first.content == big and first.headers["staydown-cache"] == "bypass"
    assert get(edge, "/big").headers["staydown-cache"] == "bypass"  # larger than the per-object limit
    assert origin.hits("/big") == 2
    get(edge, "/nostore")
    assert origin.hits("/nostore") == 2
    head = httpx.head(edge.url + "/big", headers={"host": HOST})
    assert head.status_code == 200 and head.content == b""


def test_head_is_answered_from_the_cache(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    live_zone(api, origin)
    origin.routes["/h"] = Route(b"0123456789")
    edge = edge_factory()
    eventually(lambda: get(edge, "/h").status_code == 200)
    head = httpx.head(edge.url + "/h", headers={"host": HOST})
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "10", b"")
    assert head.headers["staydown-cache"] == "hit"
    assert origin.hits("/h") == 1


def test_slow_headers_are_cut_off(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    live_zone(api, origin)
    origin.routes["/s"] = Route(b"s")
    config = EdgeConfig(legal_url="https://cdn.example/legal", header_timeout=0.5, idle_timeout=1.0)
    edge = edge_factory(config=config)
    eventually(lambda: get(edge, "/s").status_code == 200)
    import socket as sockets

    with sockets.create_connection(("127.0.0.1", edge.port), timeout=5) as slow:
        slow.sendall(b"GET /s HTTP/1.1\r\nHost: ")
        started = time.monotonic()
        assert slow.recv(100) == b""  # closed without an answer
        assert time.monotonic() - started < 3
    with sockets.create_connection(("127.0.0.1", edge.port), timeout=5) as idle:
        started = time.monotonic()
        assert idle.recv(100) == b""
        assert 0.5 < time.monotonic() - started < 4
    assert get(edge, "/s").status_code == 200


def test_access_log_names_each_status_and_size(
    api: Api,
    origin: ScriptedOrigin,
    edge_factory: Callable[..., EdgeThread],
    caplog: pytest.LogCaptureFixture,
) -> None:
    live_zone(api, origin)
    origin.routes["/logged"] = Route(b"x" * 1000)
    edge = edge_factory()
    eventually(lambda: get(edge, "/probe").status_code != 421)  # the zone has arrived
    caplog.set_level(logging.INFO, logger="staydown.edge.access")
    assert get(edge, "/logged").status_code == 200  # from the origin
    get(edge, "/logged")  # a hit
    get(edge, "/nothing-here")  # the origin's 404
    lines = [r.getMessage() for r in caplog.records if r.name == "staydown.edge.access"]
    assert re.search(r'^127\.0\.0\.1 - - \[[^]]+\] "GET /logged HTTP/1\.1" 200 \d{4}$', lines[0]), lines
    assert re.search(r'"GET /logged HTTP/1\.1" 200 \d{4}$', lines[1]), lines
    assert re.search(r'"GET /nothing-here HTTP/1\.1" 404 \d+$', lines[-1]), lines
