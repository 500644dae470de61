"""The edge's shared cache over real sockets, against the MUSTs of RFC 9111 (HTTP caching), RFC
9213 (CDN-Cache-Control) and RFC 5861 (stale-while-revalidate, stale-if-error).

A real edge worker (on uvloop, in a thread) serves one zone from a small origin written here on
plain sockets, so a response can carry what a stdlib server will not send: repeated field lines,
invalid dates, lists where a single value belongs. The edge runs on a clock the test moves, so
staleness needs no sleeping; the origin dates its answers by the same clock.
"""

from __future__ import annotations

import asyncio
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate

import httpx
import pytest
import uvloop

from staydown.edge.server import Edge, EdgeConfig, close, serve
from staydown.edge.state import EnforcementState
from staydown.netguard import OriginAccess, OriginGuard
from staydown.netpolicy import OriginPolicy, parse_networks

HOST = "conformance.example.test"


class Clock:
    """Shared by the edge and the origin; ``advance`` moves both."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Answer:
    """What the origin sends for a path: field lines in order (repeats allowed), as given."""

    headers: list[tuple[str, str]] = field(default_factory=lambda: [("Cache-Control", "max-age=60")])
    body: bytes = b"body"
    status: int = 200
    etag: str | None = None  # answer 304 to an If-None-Match naming it
    date: bool = True  # add a Date from the shared clock
    fail: bool = False  # close the connection without answering
    gate: threading.Event | None = None  # wait for it before answering (at most 10 s)
    echo: str | None = None  # answer with the value of this request field as the body


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class RawOrigin:
    """An HTTP/1.1 origin on 127.0.0.1 over plain sockets, keep-alive, answering ``answers``."""

    def __init__(self, clock: Clock) -> None:
        self.answers: dict[str, Answer] = {}
        self.seen: list[Seen] = []
        origin = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while True:
                    request_line = self.rfile.readline(65536)
                    if not request_line:
                        return
                    headers: dict[str, str] = {}
                    while True:
                        line = self.rfile.readline(65536)
                        if line in (b"\r\n", b"\n", b""):
                            break
                        name, _, value = line.decode("latin-1").partition(":")
                        headers[name.strip().lower()] = value.strip()
                    path = request_line.split(b" ")[1].decode("latin-1")
                    origin.seen.append(Seen(path, headers))
                    answer = origin.answers.get(path, Answer([("Cache-Control", "no-store")], b"", 404))
                    if answer.gate is not None:
                        answer.gate.wait(10)
                    if answer.fail:
                        return
                    self.wfile.write(origin.render(answer, headers, clock()))

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @staticmethod
    def render(answer: Answer, request: dict[str, str], now: float) -> bytes:
        fields = list(answer.headers)
        if answer.date:
            fields.insert(0, ("Date", formatdate(now, usegmt=True)))
        if answer.etag is not None:
            fields.append(("ETag", answer.etag))
        if answer.etag is not None and request.get("if-none-match") == answer.etag:
            status, body = 304, b""
        else:
            status, body = answer.status, answer.body
            if answer.echo is not None:
                body = request.get(answer.echo, "-").encode("latin-1")
            fields.append(("Content-Length", str(len(body))))
        head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields) + "\r\n"
        return head.encode("latin-1") + body

    def hits(self, path: str) -> int:
        return sum(1 for seen in self.seen if seen.path == path)

    def __enter__(self) -> RawOrigin:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class LocalEdge:
    """One edge worker for one zone on ``origin``, without a control plane, on ``clock``."""

    def __init__(self, origin: str, clock: Clock) -> None:
        state = EnforcementState()
        state.apply(
            {"seq": 1, "kind": "zone", "zone_id": 1, "customer_id": 1, "hostnames": [HOST],
             "origin": origin, "status": "active"}
        )  # fmt: skip
        self.edge = Edge(state, EdgeConfig(), clock=clock)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        # The origin listens on loopback: allowed as an operator allows private origins; the edge's
        # own address never is.
        guard = OriginGuard(OriginAccess(OriginPolicy(allow=parse_networks(["127.0.0.0/8"]))))
        guard.serving("127.0.0.1", self.sock.getsockname()[1])
        self.edge.pool.guard = guard
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: uvloop.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        server = await serve(self.edge, self.sock)
        self.ready.set()
        await self.stop.wait()
        await close(server, self.edge)

    def __enter__(self) -> LocalEdge:
        self.thread.start()
        assert self.ready.wait(10), "edge did not start"
        return self

    def apply(self, *records: dict[str, object]) -> None:
        """Apply feed records on the edge's own loop, and return once they are applied."""
        assert self.loop is not None
        done = threading.Event()

        def apply() -> None:
            self.edge.apply(list(records))
            done.set()

        self.loop.call_soon_threadsafe(apply)
        assert done.wait(5)

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None and self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)
        self.sock.close()


@dataclass
class Setup:
    clock: Clock
    origin: RawOrigin
    edge: LocalEdge
    client: httpx.Client

    def get(self, path: str, **headers: str) -> httpx.Response:
        return self.client.get(self.edge.url + path, headers={"host": HOST, **headers})


@pytest.fixture
def cdn() -> Iterator[Setup]:
    clock = Clock()
    with RawOrigin(clock) as origin, LocalEdge(origin.url, clock) as edge, httpx.Client(timeout=10) as client:
        yield Setup(clock, origin, edge, client)


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def reused(cdn: Setup, path: str, **headers: str) -> bool:
    """Fetch ``path`` twice; whether the second answer came from the cache without the origin."""
    before = cdn.origin.hits(path)
    first = cdn.get(path, **headers)
    assert first.status_code == 200, first.text
    second = cdn.get(path, **headers)
    assert second.content == first.content
    return cdn.origin.hits(path) == before + 1


# --- Expires (RFC 9111 section 5.3) ---------------------------------------------------------------


def test_a_valid_expires_gives_freshness(cdn: Setup) -> None:
    cdn.origin.answers["/valid"] = Answer([("Expires", formatdate(cdn.clock() + 600, usegmt=True))])
    assert reused(cdn, "/valid")


@pytest.mark.parametrize(
    "expires",
    [
        [("Expires", "0")],
        [("Expires", "Thu, 01 Jan 2099 00:00:00 UTC")],
        [("Expires", "Thu, 01 Jan 2099 00:00:00 +0000")],
        [("Expires", "2099-01-01T00:00:00Z")],
        [("Expires", "Thu, 1 Jan 2099 00:00:00 GMT")],
        # several field lines, or a list: invalid, whatever each says
        [("Expires", "Thu, 01 Jan 2099 00:00:00 GMT"), ("Expires", "Thu, 01 Jan 2099 00:00:00 GMT")],
        [("Expires", "Thu, 01 Jan 2099 00:00:00 GMT, Fri, 02 Jan 2099 00:00:00 GMT")],
    ],
    ids=["zero", "utc", "offset", "iso", "one-digit-day", "two-lines", "list"],
)
def test_an_invalid_expires_is_already_expired(cdn: Setup, expires: list[tuple[str, str]]) -> None:
    modified = formatdate(cdn.clock() - 100_000, usegmt=True)  # heuristics must not step in
    cdn.origin.answers["/x"] = Answer([*expires, ("Last-Modified", modified)])
    assert not reused(cdn, "/x")


def test_expires_without_date_counts_from_when_it_arrived(cdn: Setup) -> None:
    cdn.origin.answers["/nodate"] = Answer(
        [("Expires", formatdate(cdn.clock() + 600, usegmt=True))], date=False
    )
    assert reused(cdn, "/nodate")
    # dated on receipt, as a cache with a clock must (RFC 9110 section 6.6.1)
    assert cdn.get("/nodate").headers["date"] == formatdate(cdn.clock(), usegmt=True)
    cdn.clock.advance(601)
    cdn.get("/nodate")
    assert cdn.origin.hits("/nodate") == 2


def test_max_age_overrides_an_invalid_expires(cdn: Setup) -> None:
    cdn.origin.answers["/both"] = Answer([("Cache-Control", "max-age=600"), ("Expires", "0")])
    assert reused(cdn, "/both")


# --- Age (RFC 9111 section 5.1) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "age",
    [[("Age", "7200, 0")], [("Age", "7200"), ("Age", "0")]],
    ids=["list", "two-lines"],
)
def test_the_first_age_counts(cdn: Setup, age: list[tuple[str, str]]) -> None:
    cdn.origin.answers["/aged"] = Answer([("Cache-Control", "max-age=3600"), *age])
    response = cdn.get("/aged")
    assert int(response.headers["age"]) >= 7200
    assert not reused(cdn, "/aged")  # 7200 s old with a lifetime of 3600 s: stale on arrival


@pytest.mark.parametrize("age", ["bogus", "-5", "1.5", "\xb2"])
def test_an_invalid_age_is_ignored(cdn: Setup, age: str) -> None:
    cdn.origin.answers["/aged"] = Answer([("Cache-Control", "max-age=3600"), ("Age", age)])
    assert reused(cdn, "/aged")
    assert int(cdn.get("/aged").headers["age"]) < 3600


def test_a_huge_age_saturates(cdn: Setup) -> None:
    cdn.origin.answers["/old"] = Answer([("Cache-Control", "max-age=3600"), ("Age", "9" * 5000)])
    response = cdn.get("/old")
    assert response.status_code == 200 and int(response.headers["age"]) >= 2**31
    assert not reused(cdn, "/old")


@pytest.mark.parametrize("method", ["GET", "DELETE", "OPTIONS"])
def test_an_undated_response_is_dated_when_it_arrives(cdn: Setup, method: str) -> None:
    # A recipient with a clock dates a response that came without a Date before forwarding it,
    # whether or not it is cached (RFC 9110 section 6.6.1).
    cdn.origin.answers["/undated"] = Answer([("Cache-Control", "no-store")], date=False)
    response = cdn.client.request(method, cdn.edge.url + "/undated", headers={"host": HOST})
    assert response.status_code == 200
    assert response.headers.get_list("date") == [formatdate(cdn.clock(), usegmt=True)]


def test_fields_named_by_connection_are_neither_stored_nor_passed_on(cdn: Setup) -> None:
    cdn.origin.answers["/hop"] = Answer(
        [
            ("Cache-Control", "max-age=600"),
            ("Connection", "X-Hop, keep-alive"),
            ("X-Hop", "secret"),
            ("Keep-Alive", "timeout=5"),
            ("X-End", "kept"),
        ]
    )
    for _ in range(2):  # the miss, then the hit
        response = cdn.get("/hop")
        assert "x-hop" not in response.headers and "keep-alive" not in response.headers
        assert response.headers["x-end"] == "kept"
    assert cdn.origin.hits("/hop") == 1


# --- Vary (RFC 9111 section 4.1) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "vary",
    [
        [("Vary", "*")],
        [("Vary", "*, Accept")],
        [("Vary", "Accept, *")],
        [("Vary", "Accept"), ("Vary", "*")],
        [("Vary", "*"), ("Vary", "Accept")],
    ],
    ids=["star", "star-first", "star-last", "second-line", "first-line"],
)
def test_vary_with_a_star_member_is_never_reused(cdn: Setup, vary: list[tuple[str, str]]) -> None:
    cdn.origin.answers["/v"] = Answer([("Cache-Control", "public, max-age=600"), *vary])
    assert not reused(cdn, "/v", accept="text/html")


def test_vary_without_a_star_is_reused_for_the_same_request(cdn: Setup) -> None:
    cdn.origin.answers["/v"] = Answer([("Cache-Control", "max-age=600"), ("Vary", "Accept")])
    assert reused(cdn, "/v", accept="text/html")
    cdn.get("/v", accept="image/webp")
    assert cdn.origin.hits("/v") == 2


def test_a_request_waiting_for_a_fill_gets_only_its_own_variant(cdn: Setup) -> None:
    gate = threading.Event()
    cdn.origin.answers["/v"] = Answer(
        [("Cache-Control", "max-age=600"), ("Vary", "Accept")], echo="accept", gate=gate
    )
    answers: dict[str, bytes] = {}

    def fetch(accept: str) -> None:
        with httpx.Client(timeout=10) as client:
            answers[accept] = client.get(
                cdn.edge.url + "/v", headers={"host": HOST, "accept": accept}
            ).content

    first = threading.Thread(target=fetch, args=("image/webp",))
    second = threading.Thread(target=fetch, args=("text/html",))
    try:
        first.start()
        eventually(lambda: cdn.origin.hits("/v") == 1)
        second.start()  # while the first fill is in flight: it waits for it
        time.sleep(0.2)
    finally:
        gate.set()
        first.join(10)
        second.join(10)
    assert answers == {"image/webp": b"image/webp", "text/html": b"text/html"}
    assert cdn.origin.hits("/v") == 2


def test_an_absent_vary_field_matches_only_an_absent_one(cdn: Setup) -> None:
    cdn.origin.answers["/v"] = Answer([("Cache-Control", "max-age=600"), ("Vary", "X-Variant")])
    assert reused(cdn, "/v")  # absent both times
    cdn.get("/v", **{"x-variant": ""})
    assert cdn.origin.hits("/v") == 2
    cdn.get("/v", **{"x-variant": ""})
    assert cdn.origin.hits("/v") == 2  # and the empty one is its own variant


# --- Cache-Control (RFC 9111 section 5.2) ---------------------------------------------------------


def test_s_maxage_overrides_max_age(cdn: Setup) -> None:
    cdn.origin.answers["/s"] = Answer([("Cache-Control", "max-age=600, s-maxage=10")])
    assert reused(cdn, "/s")
    cdn.clock.advance(11)
    cdn.get("/s")
    assert cdn.origin.hits("/s") == 2


@pytest.mark.parametrize(
    "directives",
    [
        'private="Set-Cookie", max-age=600',
        "private, max-age=600",
        "no-store, max-age=600",
        'no-cache="X-Token", max-age=600',
        "no-cache, max-age=600",
        "max-age=abc",
        'max-age="abc"',
        "max-age=600, max-age=60",
        "max-age=\xb2",
    ],
)
def test_directives_that_forbid_reuse_without_the_origin(cdn: Setup, directives: str) -> None:
    cdn.origin.answers["/d"] = Answer([("Cache-Control", directives)])
    assert not reused(cdn, "/d")


def test_a_quoted_max_age_is_a_max_age(cdn: Setup) -> None:
    cdn.origin.answers["/q"] = Answer([("Cache-Control", 'max-age="600"')])
    assert reused(cdn, "/q")


@pytest.mark.parametrize("directive", ["must-revalidate", "proxy-revalidate", "s-maxage=60"])
def test_never_stale_when_the_origin_requires_revalidation(cdn: Setup, directive: str) -> None:
    cdn.origin.answers["/m"] = Answer(
        [("Cache-Control", f"max-age=60, {directive}, stale-while-revalidate=600, stale-if-error=600")],
        etag='"m1"',
    )
    cdn.get("/m")
    cdn.clock.advance(120)
    response = cdn.get("/m", **{"cache-control": "max-stale=1000"})
    assert response.headers["staydown-cache"] == "revalidated"
    assert cdn.origin.hits("/m") == 2
    cdn.clock.advance(120)
    cdn.origin.answers["/m"] = Answer(fail=True)
    assert cdn.get("/m").status_code == 502  # and no stale answer when the origin is down


def test_only_if_cached_is_answered_from_the_cache_or_504(cdn: Setup) -> None:
    only = {"cache-control": "only-if-cached"}
    cdn.origin.answers["/o"] = Answer([("Cache-Control", "max-age=60")])
    assert cdn.get("/o", **only).status_code == 504
    assert cdn.origin.hits("/o") == 0
    cdn.get("/o")
    assert cdn.get("/o", **only).status_code == 200
    cdn.clock.advance(100)
    assert cdn.get("/o", **only).status_code == 504
    assert cdn.get("/o", **{"cache-control": "only-if-cached, max-stale"}).status_code == 200
    assert cdn.origin.hits("/o") == 1


def test_heuristic_freshness_only_for_heuristically_cacheable_statuses(cdn: Setup) -> None:
    modified = formatdate(cdn.clock() - 100_000, usegmt=True)
    cdn.origin.answers["/h200"] = Answer([("Last-Modified", modified)])
    cdn.origin.answers["/h302"] = Answer([("Last-Modified", modified), ("Location", "/")], status=302)
    assert reused(cdn, "/h200")
    cdn.get("/h302")
    cdn.get("/h302")
    assert cdn.origin.hits("/h302") == 2


@pytest.mark.parametrize(
    ("directives", "stored"),
    [
        ("max-age=600", False),
        ("public, max-age=600", True),
        ("s-maxage=600", True),
    ],
)
def test_a_request_with_authorization(cdn: Setup, directives: str, stored: bool) -> None:
    cdn.origin.answers["/a"] = Answer([("Cache-Control", directives)])
    cdn.get("/a", authorization="Bearer one")
    cdn.get("/a", authorization="Bearer two")
    cdn.get("/a")
    assert cdn.origin.hits("/a") == (1 if stored else 3)


def test_a_304_for_another_representation_updates_nothing(cdn: Setup) -> None:
    cdn.origin.answers["/r"] = Answer([("Cache-Control", "max-age=60")], body=b"one", etag='"1"')
    cdn.get("/r")
    cdn.clock.advance(100)
    # An origin that answers the edge's If-None-Match "1" with a 304 naming "2": the stored "one"
    # is not updated; the edge asks again without conditions and stores what it gets.
    real_render = RawOrigin.render

    def confused(answer: Answer, request: dict[str, str], now: float) -> bytes:
        if "if-none-match" in request:
            return f'HTTP/1.1 304 X\r\nETag: "2"\r\nDate: {formatdate(now, usegmt=True)}\r\n\r\n'.encode()
        return real_render(answer, request, now)

    cdn.origin.answers["/r"] = Answer([("Cache-Control", "max-age=60")], body=b"two", etag='"2"')
    cdn.origin.render = confused  # type: ignore[method-assign]
    response = cdn.get("/r")
    assert response.content == b"two" and response.headers["etag"] == '"2"'
    assert [seen.headers.get("if-none-match") for seen in cdn.origin.seen[-2:]] == ['"1"', None]


# --- CDN-Cache-Control (RFC 9213) ---------------------------------------------------------------


def test_cdn_cache_control_is_obeyed_over_cache_control_and_forwarded(cdn: Setup) -> None:
    cdn.origin.answers["/c"] = Answer(
        [("Cache-Control", "no-store"), ("Expires", "0"), ("CDN-Cache-Control", "max-age=600")]
    )
    assert reused(cdn, "/c")
    response = cdn.get("/c")
    assert response.headers["staydown-cache"] == "hit"
    # passed on unchanged: downstream caches obey Cache-Control, downstream CDNs CDN-Cache-Control
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["cdn-cache-control"] == "max-age=600"


@pytest.mark.parametrize("targeted", ["no-store", "private", "no-cache", "max-age=0"])
def test_cdn_cache_control_can_forbid_what_cache_control_allows(cdn: Setup, targeted: str) -> None:
    cdn.origin.answers["/c"] = Answer(
        [("Cache-Control", "public, max-age=600"), ("CDN-Cache-Control", targeted)]
    )
    assert not reused(cdn, "/c")


def test_cdn_cache_control_lifetime_and_field_lines(cdn: Setup) -> None:
    cdn.origin.answers["/c"] = Answer(
        [
            ("Cache-Control", "max-age=5"),
            ("CDN-Cache-Control", "max-age=600"),
            ("CDN-Cache-Control", "must-revalidate"),
        ]
    )
    assert reused(cdn, "/c")
    cdn.clock.advance(300)
    cdn.get("/c")
    assert cdn.origin.hits("/c") == 1
    cdn.clock.advance(301)
    cdn.get("/c")
    assert cdn.origin.hits("/c") == 2


@pytest.mark.parametrize("invalid", ["max-age=600,", "Max-Age=600", 'max-age="600', ""])
def test_an_invalid_cdn_cache_control_falls_back_to_cache_control(cdn: Setup, invalid: str) -> None:
    cdn.origin.answers["/c"] = Answer([("Cache-Control", "no-store"), ("CDN-Cache-Control", invalid)])
    assert not reused(cdn, "/c")
    cdn.origin.answers["/d"] = Answer([("Cache-Control", "max-age=600"), ("CDN-Cache-Control", invalid)])
    assert reused(cdn, "/d")


# --- stale-while-revalidate and stale-if-error (RFC 5861) ---------------------------------------


def test_stale_while_revalidate_serves_stale_and_revalidates_once_in_the_background(cdn: Setup) -> None:
    gate = threading.Event()
    cdn.origin.answers["/swr"] = Answer(
        [("Cache-Control", "max-age=60, stale-while-revalidate=600")], body=b"v1", etag='"v1"'
    )
    assert cdn.get("/swr").headers["staydown-cache"] == "miss"
    cdn.origin.answers["/swr"].gate = gate  # the revalidation waits until the test lets it go
    cdn.clock.advance(100)
    try:
        for _ in range(5):
            response = cdn.get("/swr")
            assert response.status_code == 200 and response.content == b"v1"
            assert response.headers["staydown-cache"] == "stale"
            assert int(response.headers["age"]) >= 100
        eventually(lambda: cdn.origin.hits("/swr") == 2)
        time.sleep(0.05)  # nothing else starts meanwhile
        assert cdn.origin.hits("/swr") == 2
        assert cdn.origin.seen[-1].headers.get("if-none-match") == '"v1"'
    finally:
        gate.set()

    def fresh_again() -> bool:
        return cdn.get("/swr").headers["staydown-cache"] == "hit"

    eventually(fresh_again)
    assert int(cdn.get("/swr").headers["age"]) < 60
    assert cdn.origin.hits("/swr") == 2


def test_a_background_revalidation_asks_for_the_variant_it_serves(cdn: Setup) -> None:
    cdn.origin.answers["/swr"] = Answer(
        [("Cache-Control", "max-age=60, stale-while-revalidate=600"), ("Vary", "Accept")], etag='"w"'
    )
    cdn.get("/swr", accept="image/webp")
    cdn.clock.advance(100)
    assert cdn.get("/swr", accept="image/webp").headers["staydown-cache"] == "stale"
    eventually(lambda: cdn.origin.hits("/swr") == 2)
    revalidation = cdn.origin.seen[-1].headers
    assert revalidation["accept"] == "image/webp" and revalidation["if-none-match"] == '"w"'
    eventually(lambda: cdn.get("/swr", accept="image/webp").headers["staydown-cache"] == "hit")


def test_a_block_stops_stale_answers_and_the_revalidation_under_way(cdn: Setup) -> None:
    gate = threading.Event()
    cdn.origin.answers["/swr"] = Answer(
        [("Cache-Control", "max-age=60, stale-while-revalidate=600")], body=b"v1"
    )
    cdn.get("/swr")
    cdn.origin.answers["/swr"].gate = gate
    cdn.clock.advance(100)
    try:
        assert cdn.get("/swr").headers["staydown-cache"] == "stale"
        eventually(lambda: cdn.origin.hits("/swr") == 2)  # the revalidation waits at the origin
        cdn.edge.apply({"seq": 2, "kind": "block", "zone_id": 1, "target": "/swr", "notice_id": 7})
        assert cdn.get("/swr").status_code == 451
    finally:
        gate.set()
    eventually(lambda: (1, "/swr") not in cdn.edge.edge.revalidating)
    assert (1, "/swr") not in cdn.edge.edge.cache  # what the revalidation brought is not stored
    assert cdn.get("/swr").status_code == 451


def test_stale_while_revalidate_window_ends(cdn: Setup) -> None:
    cdn.origin.answers["/swr"] = Answer([("Cache-Control", "max-age=60, stale-while-revalidate=30")])
    cdn.get("/swr")
    cdn.clock.advance(91)
    response = cdn.get("/swr")
    assert response.headers["staydown-cache"] == "miss"
    assert cdn.origin.hits("/swr") == 2


@pytest.mark.parametrize("request_directive", ["no-cache", "max-age=0", "min-fresh=10"])
def test_a_request_that_refuses_stale_waits_for_the_origin(cdn: Setup, request_directive: str) -> None:
    cdn.origin.answers["/swr"] = Answer(
        [("Cache-Control", "max-age=60, stale-while-revalidate=600")], etag='"v1"'
    )
    cdn.get("/swr")
    cdn.clock.advance(100)
    response = cdn.get("/swr", **{"cache-control": request_directive})
    assert response.headers["staydown-cache"] == "revalidated"


def test_cdn_cache_control_carries_stale_while_revalidate(cdn: Setup) -> None:
    # s-maxage would forbid serving stale; a targeted max-age does not
    cdn.origin.answers["/t"] = Answer(
        [("Cache-Control", "s-maxage=60"), ("CDN-Cache-Control", "max-age=60, stale-while-revalidate=600")]
    )
    cdn.get("/t")
    cdn.clock.advance(100)
    assert cdn.get("/t").headers["staydown-cache"] == "stale"
    eventually(lambda: cdn.origin.hits("/t") == 2)


@pytest.mark.parametrize("failure", ["down", "503", "500"])
def test_stale_if_error_serves_stale_when_the_origin_fails(cdn: Setup, failure: str) -> None:
    cdn.origin.answers["/sie"] = Answer([("Cache-Control", "max-age=60, stale-if-error=600")], body=b"old")
    cdn.get("/sie")
    cdn.clock.advance(100)
    if failure == "down":
        cdn.origin.answers["/sie"] = Answer(fail=True)
    else:
        cdn.origin.answers["/sie"] = Answer([("Cache-Control", "no-store")], b"oops", status=int(failure))
    response = cdn.get("/sie")
    assert response.status_code == 200 and response.content == b"old"
    assert response.headers["staydown-cache"] == "stale"
    cdn.clock.advance(600)  # past the window: the failure shows
    assert cdn.get("/sie").status_code in (500, 502, 503)


@pytest.mark.parametrize("failure", ["down", "503"])
def test_a_response_whose_age_reached_its_lifetime_is_stale_when_the_origin_fails(
    cdn: Setup, failure: str
) -> None:
    # Fresh means a lifetime greater than the age (RFC 9111 section 4.2): max-age=0 is stale from
    # the start, and without stale-if-error a stale response does not stand in for a failure.
    cdn.origin.answers["/zero"] = Answer([("Cache-Control", "max-age=0")], body=b"old")
    cdn.get("/zero")
    if failure == "down":
        cdn.origin.answers["/zero"] = Answer(fail=True)
    else:
        cdn.origin.answers["/zero"] = Answer([("Cache-Control", "no-store")], b"oops", status=503)
    assert cdn.get("/zero").status_code == (502 if failure == "down" else 503)


def test_without_stale_if_error_the_failure_shows(cdn: Setup) -> None:
    cdn.origin.answers["/e"] = Answer([("Cache-Control", "max-age=60")], body=b"old")
    cdn.get("/e")
    cdn.clock.advance(100)
    cdn.origin.answers["/e"] = Answer([("Cache-Control", "no-store")], b"oops", status=503)
    assert cdn.get("/e").status_code == 503
    cdn.origin.answers["/e"] = Answer(fail=True)
    assert cdn.get("/e").status_code == 502
