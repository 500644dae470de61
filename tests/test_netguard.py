"""The guarded connector over real sockets on 127.0.0.1: a name is resolved once, only a checked
address is connected to, and a refused address never sees a connection attempt."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator

import httpx
import pytest

from staydown.netguard import NameNotFound, OriginAccess, OriginGuard, OriginRefused, Resolver
from staydown.netpolicy import OriginPolicy, parse_networks
from tests.dnsserver import LocalDnsServer

NAME = "origin.guard.example"


class Listener:
    """A listening socket on 127.0.0.1 that never accepts: a connection attempt stays queued."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])

    def was_connected(self) -> bool:
        self.sock.setblocking(False)
        try:
            connection, _ = self.sock.accept()
        except BlockingIOError:
            return False
        connection.close()
        return True


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.sock.close()


def guard(dns: LocalDnsServer, *allow: str) -> OriginGuard:
    policy = OriginPolicy(allow=parse_networks(allow))
    return OriginGuard(OriginAccess(policy, nameservers=(dns.nameserver,), timeout=2.0))


def test_a_name_is_resolved_once_and_only_a_checked_address_is_connected(
    dns: LocalDnsServer, listener: Listener
) -> None:
    dns.set_addresses(NAME, "10.0.0.9", "127.0.0.1")  # the private one is skipped, not tried

    async def connect() -> str:
        _reader, writer = await guard(dns, "127.0.0.0/8").open_connection(NAME, listener.port)
        peer = str(writer.get_extra_info("peername")[0])
        writer.close()
        return peer

    assert asyncio.run(connect()) == "127.0.0.1"
    assert sorted(q for q in dns.queries if q[0] == NAME) == [(NAME, "A"), (NAME, "AAAA")]
    assert listener.was_connected()


def test_a_refused_name_never_opens_a_socket(dns: LocalDnsServer, listener: Listener) -> None:
    dns.set_addresses(NAME, "127.0.0.1")
    strict = guard(dns)
    with pytest.raises(
        OriginRefused, match=re.escape("resolves only to addresses that are not allowed (a loopback address)")
    ):
        asyncio.run(strict.open_connection(NAME, listener.port))
    with pytest.raises(OriginRefused), strict.client(timeout=2) as client:
        client.get(f"http://{NAME}:{listener.port}/")
    with (
        pytest.raises(OriginRefused, match=re.escape("the origin 127.0.0.1 is a loopback address")),
        strict.client(timeout=2) as client,
    ):
        client.get(f"http://2130706433:{listener.port}/")
    assert not listener.was_connected()


def test_the_service_listening_on_every_address_is_refused_on_its_port(
    dns: LocalDnsServer, listener: Listener
) -> None:
    allowed = guard(dns, "127.0.0.0/8")
    allowed.serving("0.0.0.0", listener.port)
    for host in ("127.0.0.1", "127.0.0.2"):  # addresses of this host
        with pytest.raises(OriginRefused, match="an address of the staydown service itself"):
            allowed.addresses(host, listener.port)
    assert [str(a) for a in allowed.addresses("127.0.0.1", listener.port + 1)] == ["127.0.0.1"]
    with pytest.raises(OriginRefused), allowed.client(timeout=2) as client:
        client.get(f"http://127.0.0.1:{listener.port}/")
    assert not listener.was_connected()


def test_answers_are_kept_no_longer_than_their_ttl_or_the_setting(dns: LocalDnsServer) -> None:
    now = [0.0]
    resolver = Resolver([dns.nameserver], timeout=2.0, cache_seconds=30, clock=lambda: now[0])
    dns.address_ttl = 60
    dns.set_addresses(NAME, "127.0.0.1")
    assert [str(a) for a in resolver.resolve(NAME)] == ["127.0.0.1"]
    dns.set_addresses(NAME, "127.0.0.2")
    now[0] = 29.0
    assert [str(a) for a in resolver.resolve(NAME)] == ["127.0.0.1"]  # within the 30 s setting
    now[0] = 31.0
    assert [str(a) for a in resolver.resolve(NAME)] == ["127.0.0.2"]
    dns.address_ttl = 5
    dns.set_addresses(NAME, "127.0.0.3")
    now[0] = 62.0
    assert [str(a) for a in resolver.resolve(NAME)] == ["127.0.0.3"]
    dns.set_addresses(NAME, "127.0.0.4")
    now[0] = 68.0  # past the answer's own 5 s
    assert [str(a) for a in asyncio.run(resolver.aresolve(NAME))] == ["127.0.0.4"]


def test_a_name_that_does_not_resolve_is_accepted_but_never_connected(dns: LocalDnsServer) -> None:
    strict = guard(dns)
    strict.check_origin(f"http://nowhere.{NAME}")  # accepted: checked again at every connection
    with pytest.raises(NameNotFound):
        strict.addresses(f"nowhere.{NAME}", 80)
    with pytest.raises(httpx.ConnectError), strict.client(timeout=2) as client:
        client.get(f"http://nowhere.{NAME}/")


def test_concurrent_lookups_of_one_name_share_one_query(dns: LocalDnsServer) -> None:
    dns.set_addresses(NAME, "127.0.0.1")
    resolver = Resolver([dns.nameserver], timeout=2.0, cache_seconds=0)  # nothing cached: only shared

    async def burst() -> set[tuple[str, ...]]:
        answers = await asyncio.gather(*(resolver.aresolve(NAME) for _ in range(50)))
        return {tuple(str(a) for a in answer) for answer in answers}

    assert asyncio.run(burst()) == {("127.0.0.1",)}
    assert sorted(q for q in dns.queries if q[0] == NAME) == [(NAME, "A"), (NAME, "AAAA")]
