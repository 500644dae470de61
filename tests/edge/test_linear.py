"""Request targets built to make a parser backtrack are answered at once over a real socket, and the
worker keeps serving everyone else meanwhile (one such request used to pin a worker for minutes)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from tests.conftest import Api
from tests.edge.harness import (
    HOST,
    EdgeThread,
    Route,
    ScriptedOrigin,
    eventually,
    get,
    live_zone,
    raw_request,
)
from tests.support import hard_timeout

PATHOLOGICAL = [
    "/test/0d7e4b1c-5a8f-4e4a-9c3b-2f1e6d5c4b3a?x=1",
    "/test/" + "a" * 30 + "?",
    "/test/" + "a" * 8_000 + "?x=1",
    "/" + "a." * 4_000 + "?",
    "/" + "a/" * 4_000 + ".?",
    "/" + "." * 8_000,
    "/" + "%2e%2E/" * 1_100,
    "/" + "a" * 8_000 + "%",
]


def test_pathological_targets_are_answered_while_others_are_served(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    origin.routes["/fine.txt"] = Route(b"fine")
    live_zone(api, origin)
    edge = edge_factory()
    eventually(lambda: get(edge, "/fine.txt").status_code == 200)
    answers: dict[str, bytes] = {}

    def ask(target: str) -> None:
        payload = f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
        answers[target] = raw_request(edge.port, payload, timeout=3.0)

    with hard_timeout(20.0):
        askers = [threading.Thread(target=ask, args=(target,)) for target in PATHOLOGICAL]
        for asker in askers:
            asker.start()
        for _ in range(5):
            response = get(edge, "/fine.txt")
            assert (response.status_code, response.content) == (200, b"fine")
        for asker in askers:
            asker.join()
    for target, answer in answers.items():
        assert answer.startswith(b"HTTP/1.1 "), (target[:40], answer[:80])
        assert int(answer[9:12]) in {200, 400, 404}, (target[:40], answer[:80])
    assert len(answers) == len(PATHOLOGICAL)
