"""Which addresses a zone origin may reach: the one origin-address policy, as pure functions.

A zone's origin is chosen by a customer, and the control plane and the edge connect to it on the
customer's behalf (domain-control validation, desk previews, stay-down captures, proxying). Left
open, that lets a customer aim staydown inward: at loopback, at the cloud metadata service, at the
provider's private network, at the control plane itself. So every such connection is held to one
policy: public unicast addresses only, plus the networks the operator allows explicitly
(``STAYDOWN_ORIGIN_ALLOW``), and never an address:port the staydown service itself listens on.

IPv6 forms that carry an IPv4 address (mapped, compatible, 6to4, NAT64, Teredo) are refused as
such: allowing ``127.0.0.0/8`` does not allow ``::ffff:127.0.0.1``. An operator who allows one of
those ranges still has its embedded IPv4 address checked, so allowing ``64:ff9b::/96`` on a NAT64
network does not open ``64:ff9b::7f00:1`` (127.0.0.1).

URL hosts are read as browsers (WHATWG URL) and the C library read them: a host made only of
numbers is an IPv4 address in any spelling (``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from staydown.urls import URLError, canonical_host

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

OWN = "an address of the staydown service itself"
_HEX = frozenset("0123456789abcdef")
_PRIVATE = "a private address"
_DOCUMENTATION = "a documentation address"
_RESERVED = "a reserved address"
_MULTICAST = "a multicast address"
_LINK_LOCAL = "a link-local address"

# Checked in order, the first network holding an address names why it is refused. What no entry
# names but the standard library still calls not global (IANA special-purpose registries) is
# refused as "a special-purpose address".
_REFUSED_V4: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), reason)
    for net, reason in (
        ("0.0.0.0/8", "an unspecified (this network) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", _PRIVATE),
        ("172.16.0.0/12", _PRIVATE),
        ("192.168.0.0/16", _PRIVATE),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("169.254.0.0/16", _LINK_LOCAL),
        ("192.0.0.0/24", "an IETF protocol address"),
        ("192.0.2.0/24", _DOCUMENTATION),
        ("198.51.100.0/24", _DOCUMENTATION),
        ("203.0.113.0/24", _DOCUMENTATION),
        ("198.18.0.0/15", "a benchmarking address"),
        ("192.88.99.0/24", "a 6to4 relay address"),
        ("224.0.0.0/4", _MULTICAST),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", _RESERVED),
    )
)
_MAPPED = IPv6Network("::ffff:0:0/96")
_COMPATIBLE = IPv6Network("::/96")
_SIXTOFOUR = IPv6Network("2002::/16")
_TEREDO = IPv6Network("2001::/32")
_NAT64 = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))
_REFUSED_V6: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), reason)
    for net, reason in (
        ("::/128", "the unspecified address"),
        ("::1/128", "the loopback address"),
        ("::ffff:0:0/96", "an IPv4-mapped address"),
        ("::/96", "an IPv4-compatible address"),
        ("::ffff:0:0:0/96", "an IPv4-translated address"),
        ("64:ff9b::/96", "a NAT64 address"),
        ("64:ff9b:1::/48", "a NAT64 address"),
        ("2002::/16", "a 6to4 address"),
        ("2001::/32", "a Teredo address"),
        ("2001:db8::/32", _DOCUMENTATION),
        ("2001:2::/48", "a benchmarking address"),
        ("100::/64", "a discard-only address"),
        ("fc00::/7", "a private (unique local) address"),
        ("fe80::/10", _LINK_LOCAL),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", _MULTICAST),
    )
)


def embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 translation form carries (mapped, compatible, 6to4, NAT64, Teredo)."""
    if isinstance(address, IPv4Address):
        return None
    value = int(address)
    if address in _MAPPED or (address in _COMPATIBLE and value > 1):  # "::" and "::1" are themselves
        return IPv4Address(value & 0xFFFFFFFF)
    if address in _SIXTOFOUR:
        return IPv4Address((value >> 80) & 0xFFFFFFFF)
    if address in _NAT64[0]:
        return IPv4Address(value & 0xFFFFFFFF)
    if address in _NAT64[1]:
        # RFC 6052 2.2, /48 prefix: the IPv4 address is split around the reserved bits 64-71.
        high = (value >> 64) & 0xFFFF
        low = (value >> 40) & 0xFFFF
        return IPv4Address((high << 16) | low)
    if address in _TEREDO:
        return IPv4Address(~value & 0xFFFFFFFF)  # the client's address, obfuscated by inversion
    return None


def special_purpose(address: IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address, or None if it is one."""
    table: Iterable[tuple[IPNetwork, str]] = _REFUSED_V4 if address.version == 4 else _REFUSED_V6
    for network, reason in table:
        if address in network:
            inner = embedded_ipv4(address)
            return reason if inner is None else f"{reason} (of {inner})"
    if not address.is_global:
        return "a special-purpose address"
    return None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An address and port the staydown service listens on; the unspecified address stands for
    every address of this host (a socket bound to ``0.0.0.0`` or ``::``)."""

    address: IPAddress
    port: int

    @classmethod
    def of(cls, host: str, port: int) -> Endpoint:
        return cls(ipaddress.ip_address(host.strip("[]").partition("%")[0]), port)


@dataclass(frozen=True, slots=True)
class OriginPolicy:
    """Public unicast addresses, plus ``allow``; never an ``own`` endpoint."""

    allow: tuple[IPNetwork, ...] = ()
    own: frozenset[Endpoint] = field(default_factory=frozenset)

    def serving(self, *endpoints: Endpoint) -> OriginPolicy:
        """This policy, also refusing ``endpoints`` (where the service listens)."""
        return OriginPolicy(self.allow, self.own | frozenset(endpoints))

    def own_port(self, port: int) -> bool:
        """Whether the service listens on ``port`` on every address of this host."""
        return any(e.port == port and e.address.is_unspecified for e in self.own)

    def refusal(self, address: IPAddress, port: int | None = None, *, local: bool = False) -> str | None:
        """Why connecting to ``address`` (on ``port``) is refused, or None if it is allowed.

        ``local`` says whether ``address`` belongs to this host: it matters only for endpoints
        the service listens on with the unspecified address. The service's own endpoints are
        named only among addresses otherwise allowed, so the reason given for a refused address
        never depends on its port (no scan of loopback finds where the service listens).
        """
        reason = self._address_refusal(address)
        if reason is None and port is not None:
            if Endpoint(address, port) in self.own or (local and self.own_port(port)):
                return OWN
            inner = embedded_ipv4(address)  # an allowed IPv6 form of one of our IPv4 endpoints
            if inner is not None and Endpoint(inner, port) in self.own:
                return OWN
        return reason

    def _address_refusal(self, address: IPAddress) -> str | None:
        if any(address in network for network in self.allow if network.version == address.version):
            inner = embedded_ipv4(address)
            if inner is None:
                return None
            inner_reason = self._address_refusal(inner)
            return None if inner_reason is None else f"an IPv6 form of {inner}, which is {inner_reason}"
        return special_purpose(address)


def literal_address(host: str) -> IPAddress | None:
    """The address a URL host names literally (any IPv4 spelling, a bracketed or bare IPv6), or
    None for a host name. Raises ``ValueError`` for a host that is neither: an invalid IPv6
    literal, or one ending in a number that is no IPv4 address (``0999.0.0.1``, ``1.2.3.4.5``)."""
    host = host.strip()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if host.startswith("[") and "%" in host:  # a zone index names an interface: link-local only
        host = host.partition("%")[0] + "]"
    try:
        canonical = canonical_host(host)
    except URLError as exc:
        if host.startswith("[") or _ends_in_number(host):
            raise ValueError(exc.message) from None
        return None  # a name, if not one URLs allow (an underscore): DNS may still hold it
    if canonical.startswith("["):
        return IPv6Address(canonical[1:-1])
    try:
        return IPv4Address(canonical)
    except ValueError:
        pass
    if _ends_in_number(canonical):  # WHATWG: never a name, an IPv4 address or invalid
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    return None


def _ends_in_number(host: str) -> bool:
    labels = host.lower().split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    last = labels[-1]
    return last.isdigit() or (last.startswith("0x") and all(c in _HEX for c in last[2:]))


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse CIDRs (``10.0.0.0/8``, ``fd00::/8``, a bare address for one host); ``ValueError`` names
    the first one that is not a network (host bits set included: ``10.0.0.1/8`` is a mistake)."""
    networks: list[IPNetwork] = []
    for value in values:
        text = value.strip()
        try:
            networks.append(ipaddress.ip_network(text, strict=True))
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a network in CIDR notation: {exc}") from None
    return tuple(networks)


def describe(subject: str, reason: str) -> str:
    """The sentence a refusal is reported with: ``the origin 10.0.0.5 is a private address``."""
    return f"the origin {subject} is {reason}"
