"""The ClientHello reader: what real clients send, and never an exception or a slowdown on any input."""

from __future__ import annotations

import contextlib
import ssl

from hypothesis import given, settings
from hypothesis import strategies as st

from staydown.edge.clienthello import MAX_HELLO, ClientHello, Peek, peek_client_hello
from tests.support import hard_timeout


def real_hello(server_name: str | None, alpn: list[str] | None = None) -> bytes:
    """The first flight Python's own TLS client sends."""
    context = ssl.create_default_context()
    context.check_hostname = False
    if alpn:
        context.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with contextlib.suppress(ssl.SSLWantReadError):  # it waits for the server's answer
        client.do_handshake()
    return outgoing.read()


def test_reads_server_name_and_alpn_of_real_client_hellos() -> None:
    hello = real_hello("zone.example.test", ["acme-tls/1"])
    assert peek_client_hello(hello) == ClientHello("zone.example.test", ("acme-tls/1",))
    assert peek_client_hello(real_hello("a.test", ["h2", "http/1.1"])) == ClientHello(
        "a.test", ("h2", "http/1.1")
    )
    assert peek_client_hello(real_hello(None)) == ClientHello(None, ())


def test_partial_and_foreign_bytes() -> None:
    hello = real_hello("zone.example.test", ["acme-tls/1"])
    for cut in (0, 3, 5, 40, len(hello) - 1):
        assert peek_client_hello(hello[:cut]) is Peek.incomplete
    assert peek_client_hello(b"GET / HTTP/1.1\r\n\r\n") is Peek.malformed
    assert peek_client_hello(b"\x16\x03\x01\xff\xff") is Peek.malformed  # longer than one record may be
    assert peek_client_hello(b"\x16\x03\x01\x00\x04\x02\x00\x00\x00") is Peek.malformed  # a ServerHello
    corrupt = bytearray(hello)
    corrupt[6] = 0x01  # the handshake claims more than its record holds
    assert peek_client_hello(bytes(corrupt)) is Peek.malformed


HELLO = real_hello("zone.example.test", ["h2"])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.integers(min_value=0, max_value=400))
def test_never_raises_on_mutated_hellos(noise: bytes, at: int) -> None:
    hello = bytearray(HELLO)
    hello[at : at + len(noise)] = noise
    assert isinstance(peek_client_hello(bytes(hello)), ClientHello | Peek)


def test_linear_on_adversarial_input() -> None:
    # A record full of empty extensions, and one full of one-byte ALPN names: work per byte only.
    body = b"\x03\x03" + b"\x00" * 32 + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    extensions = b"\x00\x99\x00\x00" * 3000
    alpn = b"\x00\x10" + (2 + 2 * 4000).to_bytes(2, "big") + (2 * 4000).to_bytes(2, "big") + b"\x01a" * 4000
    for payload in (extensions, alpn):
        hello = body + len(payload).to_bytes(2, "big") + payload
        handshake = b"\x01" + len(hello).to_bytes(3, "big") + hello
        record = b"\x16\x03\x01" + len(handshake).to_bytes(2, "big") + handshake
        assert len(record) <= MAX_HELLO
        with hard_timeout(2.0):
            for _ in range(20):
                assert isinstance(peek_client_hello(record), ClientHello)
