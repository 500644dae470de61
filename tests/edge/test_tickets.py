"""Session ticket keys shared by the edge's workers: derived alike from one secret, given to
OpenSSL, and a ticket one context issued resumes the session on another with the same secret."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest

from staydown.edge.certs import server_context
from staydown.edge.tickets import (
    TICKET_KEYS_SIZE,
    TICKET_PERIOD,
    TicketKeys,
    current_keys,
    period_of,
    share_tickets,
    ticket_keys,
)
from tests.edge.pki import LocalCA

HOST = "tickets.example.test"


def test_keys_are_derived_alike_per_secret_and_period() -> None:
    secret = b"s" * 32
    assert ticket_keys(secret, 7) == ticket_keys(secret, 7)
    assert len(ticket_keys(secret, 7)) == TICKET_KEYS_SIZE
    assert ticket_keys(secret, 7) != ticket_keys(secret, 8)
    assert ticket_keys(secret, 7) != ticket_keys(b"t" * 32, 7)
    assert period_of(TICKET_PERIOD * 5 + 1) == period_of(TICKET_PERIOD * 6 - 1) == 5
    with pytest.raises(ValueError, match="16 bytes"):
        ticket_keys(b"short", 1)


def test_openssl_takes_the_keys_and_a_new_period_replaces_them() -> None:
    context = server_context(["http/1.1"])
    own = current_keys(context)
    assert own is not None and len(own) == TICKET_KEYS_SIZE
    keys = TicketKeys(context, b"k" * 32)
    keys.refresh(TICKET_PERIOD * 10.5)
    assert keys.shared and current_keys(context) == ticket_keys(b"k" * 32, 10) != own
    keys.refresh(TICKET_PERIOD * 10.9)  # same period: untouched
    assert current_keys(context) == ticket_keys(b"k" * 32, 10)
    keys.refresh(TICKET_PERIOD * 11.0)
    assert current_keys(context) == ticket_keys(b"k" * 32, 11)
    assert context.options & ssl.OP_NO_TICKET == 0  # the probe left the options as they were
    with pytest.raises(ValueError):
        share_tickets(context, b"x" * 10)


def _serve_once(context: ssl.SSLContext, sock: socket.socket) -> None:
    with context.wrap_socket(sock, server_side=True) as tls:
        tls.sendall(b"hello")
        tls.recv(1)


def _connect(
    server: ssl.SSLContext, client: ssl.SSLContext, session: ssl.SSLSession | None
) -> tuple[ssl.SSLSession | None, bool]:
    """A connection's session (its ticket) and whether it resumed ``session``."""
    left, right = socket.socketpair()
    thread = threading.Thread(target=_serve_once, args=(server, right), daemon=True)
    thread.start()
    tls = client.wrap_socket(left, server_hostname=HOST, session=session)
    tls.settimeout(5)
    assert tls.recv(5) == b"hello"  # the TLS 1.3 ticket arrives before this
    tls.sendall(b"x")
    found = tls.session, tls.session_reused
    tls.close()
    thread.join(5)
    return found


def _worker_context(ca: LocalCA, secret: bytes) -> ssl.SSLContext:
    chain, key = ca.issue(HOST)
    path = ca.directory / "server.pem"
    path.write_bytes(key + b"\n" + chain.encode())
    context = server_context(["http/1.1"])
    context.load_cert_chain(path)
    TicketKeys(context, secret).refresh(TICKET_PERIOD * 3)
    return context


@pytest.mark.parametrize(("other_secret", "resumed"), [(b"a" * 32, True), (b"b" * 32, False)])
def test_a_ticket_from_one_worker_resumes_on_another_with_the_same_secret(
    tmp_path: Path, other_secret: bytes, resumed: bool
) -> None:
    ca = LocalCA(tmp_path / "pki")
    first, second = _worker_context(ca, b"a" * 32), _worker_context(ca, other_secret)
    client = ca.client()
    session, reused = _connect(first, client, None)
    assert session is not None and session.has_ticket and not reused
    assert _connect(second, client, session)[1] is resumed
