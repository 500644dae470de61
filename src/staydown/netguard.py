"""The one way staydown connects to a zone's origin: resolve once, check every address, connect to
the checked address itself.

The policy (``netpolicy``) decides which addresses may be reached; this module is where that
decision meets the network. A host name is resolved here (with the configured nameservers, or the
system's resolver), every address it resolves to is checked, and the connection is opened to a
checked address, never to the name: a second lookup by the socket layer could give another
answer (DNS rebinding). The edge's origin connections, domain-control validation over HTTP, desk
previews and stay-down captures all connect through an :class:`OriginGuard`.

A refusal is reported with the policy's reason and nothing that a refused address answered (it
is never asked), so a refused origin cannot be used to learn which internal ports are open.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar
from urllib.parse import urlsplit

import dns.asyncresolver
import dns.exception
import dns.resolver
import httpcore
import httpx

from staydown.config import Settings
from staydown.netpolicy import OWN, Endpoint, IPAddress, OriginPolicy, describe, literal_address
from staydown.urls import URLError, canonical_host

DEFAULT_PORTS = {"http": 80, "https": 443}
_R = TypeVar("_R", bound=dns.resolver.BaseResolver)


class OriginRefused(Exception):
    """The origin-address policy refuses this origin; ``reason`` is safe to show the customer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ResolveError(OSError):
    """A host name could not be resolved (an ``OSError``: the origin cannot be reached)."""


class NameNotFound(ResolveError):
    """The name does not exist, or has no IPv4 or IPv6 address."""


@dataclass(frozen=True, slots=True)
class OriginAccess:
    """What a process needs to build its guard (a plain value: it crosses to edge worker processes)."""

    policy: OriginPolicy = field(default_factory=OriginPolicy)
    nameservers: tuple[str, ...] = ()
    timeout: float = 5.0
    cache_seconds: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> OriginAccess:
        return cls(
            policy=OriginPolicy(allow=tuple(settings.origin_allow)),
            nameservers=tuple(settings.dns_nameservers),
            timeout=settings.dcv_timeout_seconds,
            cache_seconds=settings.origin_resolve_cache_seconds,
        )


def configure_dns(resolver: _R, nameservers: Sequence[str], timeout: float) -> _R:
    """Point a dnspython resolver at ``nameservers`` (``host``, ``host:port``, ``[v6]:port``)."""
    addresses, ports = [], set()
    for entry in nameservers:
        if entry.startswith("["):
            host, _, port = entry[1:].partition("]:")
        elif entry.count(":") == 1:
            host, _, port = entry.partition(":")
        else:
            host, port = entry, ""
        addresses.append(host.rstrip("]"))
        ports.add(int(port) if port else 53)
    if addresses:
        resolver.nameservers = addresses
        resolver.port = ports.pop() if len(ports) == 1 else 53
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


def dns_resolver(nameservers: Sequence[str], timeout: float) -> dns.resolver.Resolver:
    """A dnspython resolver on ``nameservers``, or on the system's configuration when empty."""
    return configure_dns(dns.resolver.Resolver(configure=not nameservers), nameservers, timeout)


def _address(text: str) -> IPAddress:
    try:
        return ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        raise ResolveError(f"the resolver returned {text!r}, which is not an address") from None


class Resolver:
    """Host name to addresses, with the configured nameservers (dnspython) or, when none are set,
    the system's resolver (which also reads ``/etc/hosts``). Answers are kept ``cache_seconds`` at
    most (and no longer than their DNS TTL), so the edge does not look a name up per connection."""

    def __init__(
        self,
        nameservers: Sequence[str] = (),
        *,
        timeout: float = 5.0,
        cache_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.nameservers, self.timeout, self.cache_seconds = tuple(nameservers), timeout, cache_seconds
        self.clock = clock
        self._cache: dict[str, tuple[float, tuple[IPAddress, ...]]] = {}
        self._lookups: dict[str, asyncio.Task[tuple[IPAddress, ...]]] = {}

    def _cached(self, name: str) -> tuple[IPAddress, ...] | None:
        entry = self._cache.get(name)
        if entry is None or entry[0] <= self.clock():
            return None
        return entry[1]

    def _keep(self, name: str, addresses: tuple[IPAddress, ...], ttl: float) -> tuple[IPAddress, ...]:
        seconds = min(ttl, self.cache_seconds)
        if seconds > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[name] = (self.clock() + seconds, addresses)
        return addresses

    def resolve(self, name: str) -> tuple[IPAddress, ...]:
        """Every IPv4 and IPv6 address of ``name``; raises ``NameNotFound`` or ``ResolveError``."""
        cached = self._cached(name)
        if cached is not None:
            return cached
        if not self.nameservers:
            try:
                infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise _gai_error(name, exc) from None
            return self._keep(name, _unique(str(info[4][0]) for info in infos), self.cache_seconds)
        resolver = dns_resolver(self.nameservers, self.timeout)
        answers = []
        for kind in ("A", "AAAA"):
            try:
                answers.append(resolver.resolve(name, kind))
            except dns.resolver.NXDOMAIN:
                raise NameNotFound(f"no such name {name}") from None
            except dns.resolver.NoAnswer:
                continue
            except (dns.exception.DNSException, ValueError, OSError) as exc:
                raise ResolveError(f"looking up {name} failed: {type(exc).__name__}") from None
        return self._keep(name, *_from_answers(name, answers))

    async def aresolve(self, name: str) -> tuple[IPAddress, ...]:
        """:meth:`resolve` without blocking the event loop; concurrent callers for one name share
        one lookup (a burst of new connections to a cold origin asks the resolver once)."""
        cached = self._cached(name)
        if cached is not None:
            return cached
        loop = asyncio.get_running_loop()
        lookup = self._lookups.get(name)
        if lookup is None or lookup.get_loop() is not loop:
            lookup = loop.create_task(self._alookup(name))
            self._lookups[name] = lookup
            lookup.add_done_callback(partial(self._settled, name))
        # Shielded: a caller that gives up (its connect timeout) leaves the lookup to the others.
        return await asyncio.shield(lookup)

    def _settled(self, name: str, lookup: asyncio.Task[tuple[IPAddress, ...]]) -> None:
        if self._lookups.get(name) is lookup:
            del self._lookups[name]
        if not lookup.cancelled():
            lookup.exception()  # retrieved, even if every caller has gone

    async def _alookup(self, name: str) -> tuple[IPAddress, ...]:
        if not self.nameservers:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(name, None, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise _gai_error(name, exc) from None
            return self._keep(name, _unique(str(info[4][0]) for info in infos), self.cache_seconds)
        resolver = configure_dns(dns.asyncresolver.Resolver(configure=False), self.nameservers, self.timeout)
        answers = []
        for kind in ("A", "AAAA"):
            try:
                answers.append(await resolver.resolve(name, kind))
            except dns.resolver.NXDOMAIN:
                raise NameNotFound(f"no such name {name}") from None
            except dns.resolver.NoAnswer:
                continue
            except (dns.exception.DNSException, ValueError, OSError) as exc:
                raise ResolveError(f"looking up {name} failed: {type(exc).__name__}") from None
        return self._keep(name, *_from_answers(name, answers))


def _gai_error(name: str, exc: socket.gaierror) -> ResolveError:
    if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
        return NameNotFound(f"no such name {name}")
    return ResolveError(f"looking up {name} failed: {exc.strerror}")


def _unique(texts: Iterable[str]) -> tuple[IPAddress, ...]:
    addresses = tuple(dict.fromkeys(_address(text) for text in texts))
    if not addresses:
        raise NameNotFound("the name has no addresses")
    return addresses


def _from_answers(name: str, answers: list[dns.resolver.Answer]) -> tuple[tuple[IPAddress, ...], float]:
    texts = [record.to_text() for answer in answers for record in answer]
    if not texts:
        raise NameNotFound(f"{name} has no IPv4 or IPv6 address")
    ttl = min(answer.rrset.ttl if answer.rrset is not None else 0 for answer in answers)
    return _unique(texts), float(ttl)


class OriginGuard:
    """Resolve, check and connect to origins under one :class:`OriginPolicy`."""

    def __init__(self, access: OriginAccess | None = None, *, resolver: Resolver | None = None) -> None:
        access = access or OriginAccess()
        self.policy = access.policy
        self.resolver = resolver or Resolver(
            access.nameservers, timeout=access.timeout, cache_seconds=access.cache_seconds
        )
        self._local: dict[IPAddress, bool] = {}

    def serving(self, host: str, port: int) -> None:
        """Refuse ``host:port`` from now on: the staydown service listens there. A host name is
        resolved as the service's own clients reach it, with the system's resolver."""
        try:
            literal = literal_address(host)
        except ValueError:
            literal = None
        addresses = (literal,) if literal is not None else Resolver(cache_seconds=0).resolve(host)
        self.policy = self.policy.serving(*(Endpoint(address, port) for address in addresses))

    def _is_local(self, address: IPAddress) -> bool:
        """Whether ``address`` belongs to this host (it can be bound to)."""
        known = self._local.get(address)
        if known is None:
            family = socket.AF_INET if address.version == 4 else socket.AF_INET6
            try:
                with socket.socket(family, socket.SOCK_STREAM) as probe:
                    probe.bind((str(address), 0))
                known = True
            except OSError:
                known = False
            if len(self._local) > 10_000:
                self._local.clear()
            self._local[address] = known
        return known

    def refusal(self, address: IPAddress, port: int) -> str | None:
        """Why ``address:port`` may not be connected to, or None."""
        local = self.policy.own_port(port) and self._is_local(address)
        return self.policy.refusal(address, port, local=local)

    def _literal(self, host: str) -> IPAddress | None:
        try:
            return literal_address(host)
        except ValueError:
            raise OriginRefused(f"the origin host {host!r} is not a valid host") from None

    def _permitted(self, host: str, addresses: Sequence[IPAddress], port: int) -> list[IPAddress]:
        allowed, reasons = [], []
        for address in addresses:
            reason = self.refusal(address, port)
            if reason is None:
                allowed.append(address)
            elif reason not in reasons:
                reasons.append(reason)
        if not allowed:
            # The kinds of address only, not the addresses: what the service's resolver answers
            # for names the customer does not own (split-horizon DNS) is not the customer's to read.
            raise OriginRefused(
                f"the origin host {host} resolves only to addresses that are not allowed "
                f"({'; '.join(reasons)})"
            )
        return allowed

    def _refuse_literal(self, address: IPAddress, port: int) -> list[IPAddress]:
        reason = self.refusal(address, port)
        if reason is not None:
            shown = str(address) if address.version == 4 else f"[{address}]"
            raise OriginRefused(describe(f"{shown}:{port}" if reason == OWN else shown, reason))
        return [address]

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses of ``host`` that may be connected to on ``port``, in the resolver's order;
        raises ``OriginRefused`` if none may, ``ResolveError`` if the name cannot be resolved."""
        literal = self._literal(host)
        if literal is not None:
            return self._refuse_literal(literal, port)
        name = _name(host)
        return self._permitted(name, self.resolver.resolve(name), port)

    async def aaddresses(self, host: str, port: int) -> list[IPAddress]:
        """:meth:`addresses` without blocking the event loop."""
        literal = self._literal(host)
        if literal is not None:
            return self._refuse_literal(literal, port)
        name = _name(host)
        return self._permitted(name, await self.resolver.aresolve(name), port)

    async def open_connection(
        self,
        host: str,
        port: int,
        *,
        ssl: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open a stream to the first checked address of ``host`` that accepts; TLS (when ``ssl``)
        verifies ``server_hostname``, the name the origin was registered with."""
        error: OSError = OSError(f"no address of {host} accepted a connection")
        for address in await self.aaddresses(host, port):
            try:
                return await asyncio.open_connection(
                    str(address), port, ssl=ssl, server_hostname=server_hostname if ssl else None
                )
            except OSError as exc:
                error = exc
        raise error

    def check_origin(self, origin: str) -> None:
        """Refuse a zone origin (an http or https URL) the policy does not allow, as it resolves
        now. A name that does not resolve (yet) is accepted: every connection checks it again."""
        parts = urlsplit(origin)
        host = parts.hostname or ""
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
        try:
            self.addresses(host, port)
        except ResolveError:
            return

    def http_transport(self) -> httpx.HTTPTransport:
        """An httpx transport whose every connection is made by :meth:`addresses` (redirects or
        not, the address is checked where the socket is opened). TLS still verifies the URL's host.
        ``OriginRefused`` passes through httpx unchanged."""
        transport = httpx.HTTPTransport(trust_env=False)
        # httpx builds its connection pool without a way to pass the network backend.
        transport._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_GuardedBackend(self),
        )
        return transport

    def client(self, *, timeout: float) -> httpx.Client:
        """An httpx client for origin fetches: guarded, no redirects, no proxies from the environment."""
        return httpx.Client(
            timeout=timeout, follow_redirects=False, trust_env=False, transport=self.http_transport()
        )


def _name(host: str) -> str:
    """The name to resolve: its canonical form, or an ASCII name DNS may hold that URLs do not
    allow (an underscore); whatever it resolves to is checked all the same."""
    try:
        return canonical_host(host)
    except URLError:
        if host.isascii() and host.strip() and not any(c in host for c in "/?#@\\ %"):
            return host.strip().lower()
        raise OriginRefused(f"the origin host {host!r} is not a valid host") from None


class _GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses the guard checked."""

    def __init__(self, guard: OriginGuard) -> None:
        self.guard = guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self.guard.addresses(host, port)
        except ResolveError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        error: Exception = httpcore.ConnectError(f"no address of {host} accepted a connection")
        for address in addresses:
            try:
                return super().connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error
