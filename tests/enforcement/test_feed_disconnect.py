"""A long-poll whose edge has gone is released at once: it holds neither a server task nor the
server's graceful shutdown until its wait runs out."""

from __future__ import annotations

import socket
import time

from staydown.api.app import create_app
from staydown.config import Settings
from staydown.db.engine import Database
from tests.conftest import Clock, ServerThread, make_keys


def test_a_departed_long_poll_does_not_hold_the_server(
    database: Database, clock: Clock, settings: Settings
) -> None:
    app = create_app(settings, database, clock=clock)
    key = make_keys(database, clock)["edge"]
    server = ServerThread(app).__enter__()
    try:
        port = server.sock.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as edge:
            edge.sendall(
                f"GET /v1/edge/feed?after=0&wait=60 HTTP/1.1\r\nHost: api.test\r\n"
                f"Authorization: Bearer {key}\r\n\r\n".encode()
            )
            time.sleep(0.5)  # the request is waiting for records by now
        time.sleep(0.2)
        server.server.should_exit = True
        server.thread.join(5)  # far less than the 60 s the poll asked to wait
        assert not server.thread.is_alive(), "shutdown waited for a long-poll nobody reads"
    finally:
        server.__exit__()
