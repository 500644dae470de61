"""The origin-address policy over generated addresses: every address of a refused network is
refused in every spelling a URL host may give it; public addresses are allowed."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from staydown.accounts.service import normalise_origin
from staydown.config import Settings
from staydown.netpolicy import (
    Endpoint,
    IPAddress,
    IPNetwork,
    OriginPolicy,
    embedded_ipv4,
    literal_address,
    parse_networks,
    special_purpose,
)

# The refused networks, as the policy states them (not read from its own table).
REFUSED = [
    ip_network(net)
    for net in (
        "0.0.0.0/8",
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
        "192.0.2.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "198.18.0.0/15",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
        "2001:db8::/32",
        "::ffff:0:0/96",
        "::/96",
        "2002::/16",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "2001::/32",
    )
]
REFUSED_V4 = [n for n in REFUSED if n.version == 4]
# Ordinary public unicast space.
PUBLIC = [ip_network(net) for net in ("8.0.0.0/8", "23.0.0.0/8", "151.101.0.0/16", "2600::/12", "2a00::/12")]


def addresses_in(networks: list[IPNetwork]) -> st.SearchStrategy[IPAddress]:
    def pick(network: IPNetwork) -> st.SearchStrategy[IPAddress]:
        first, last = int(network.network_address), int(network.broadcast_address)
        kind = IPv4Address if network.version == 4 else IPv6Address
        return st.integers(first, last).map(kind)

    return st.sampled_from(networks).flatmap(pick)


def _number(value: int, base: str) -> str:
    if base == "hex":
        return hex(value)
    if base == "octal":
        return "0" + format(value, "o")
    return str(value)


@st.composite
def ipv4_spellings(draw: st.DrawFn, address: IPv4Address) -> str:
    """``address`` as a URL host may spell it: 1 to 4 parts (the last one holding the rest of the
    bits), each in decimal, octal or hex, perhaps with a trailing dot."""
    value = int(address)
    octets = list(address.packed)
    parts = draw(st.integers(1, 4))
    numbers = [*octets[: parts - 1], value & ((1 << (8 * (5 - parts))) - 1)]
    bases = draw(st.lists(st.sampled_from(["decimal", "octal", "hex"]), min_size=parts, max_size=parts))
    text = ".".join(_number(n, b) for n, b in zip(numbers, bases, strict=True))
    return text + draw(st.sampled_from(["", "."]))


@st.composite
def spellings(draw: st.DrawFn, address: IPAddress) -> str:
    if isinstance(address, IPv4Address):
        return draw(ipv4_spellings(address))
    text = draw(st.sampled_from([address.compressed, address.exploded, address.exploded.upper()]))
    return draw(st.sampled_from([text, f"[{text}]"]))


@given(addresses_in(REFUSED).flatmap(lambda a: st.tuples(st.just(a), spellings(a))))
def test_every_address_of_a_refused_network_is_refused_in_every_spelling(pair: tuple[IPAddress, str]) -> None:
    address, spelling = pair
    assert literal_address(spelling) == address
    assert special_purpose(address) is not None
    assert OriginPolicy().refusal(address, 80) is not None


@given(
    addresses_in([n for n in REFUSED if n.version == 4]).flatmap(
        lambda a: st.tuples(st.just(a), spellings(a))
    )
)
def test_a_refused_ipv4_origin_is_stored_as_the_address_it_reaches(pair: tuple[IPAddress, str]) -> None:
    address, spelling = pair
    assert normalise_origin(f"http://{spelling}:8080/base/") == f"http://{address}:8080/base"


@given(addresses_in(REFUSED_V4))
def test_ipv6_forms_of_any_ipv4_address_are_refused(address: IPv4Address) -> None:
    value = int(address)
    forms = [
        IPv6Address((0xFFFF << 32) | value),  # mapped
        IPv6Address(value) if value > 1 else IPv6Address((0xFFFF << 32) | value),  # compatible
        IPv6Address((0x2002 << 112) | (value << 80)),  # 6to4
        IPv6Address(int(IPv6Address("64:ff9b::")) | value),  # NAT64
    ]
    for form in forms:
        assert OriginPolicy().refusal(form, 80) is not None
        if form not in IPv6Network("::/127"):
            assert embedded_ipv4(form) == address


@given(addresses_in(PUBLIC))
def test_public_addresses_are_allowed(address: IPAddress) -> None:
    assert special_purpose(address) is None
    assert OriginPolicy().refusal(address, 443) is None


@given(addresses_in(PUBLIC))
def test_ipv6_forms_of_public_ipv4_addresses_are_refused_too(address: IPAddress) -> None:
    if isinstance(address, IPv4Address):
        mapped = IPv6Address((0xFFFF << 32) | int(address))
        assert OriginPolicy().refusal(mapped, 443) == f"an IPv4-mapped address (of {address})"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.5", "a private address"),
        ("127.0.0.1", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("0.0.0.0", "an unspecified (this network) address"),
        ("100.64.1.1", "a shared (carrier-grade NAT) address"),
        ("::1", "the loopback address"),
        ("fd12::1", "a private (unique local) address"),
        ("::ffff:127.0.0.1", "an IPv4-mapped address (of 127.0.0.1)"),
        ("2002:a00:5::", "a 6to4 address (of 10.0.0.5)"),
        ("64:ff9b::a9fe:a9fe", "a NAT64 address (of 169.254.169.254)"),
        ("64:ff9b:1:7f00:0:100::", "a NAT64 address (of 127.0.0.1)"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "a Teredo address (of 127.0.0.1)"),
        ("255.255.255.255", "the broadcast address"),
    ],
)
def test_a_refusal_names_its_reason(address: str, reason: str) -> None:
    parsed = literal_address(address)
    assert parsed is not None
    assert OriginPolicy().refusal(parsed) == reason


def test_allowed_networks_open_only_themselves() -> None:
    policy = OriginPolicy(allow=parse_networks(["10.0.0.0/8", "127.0.0.0/8"]))
    assert policy.refusal(IPv4Address("10.1.2.3"), 80) is None
    assert policy.refusal(IPv4Address("127.0.0.1"), 80) is None
    assert policy.refusal(IPv4Address("192.168.0.1"), 80) == "a private address"
    assert policy.refusal(IPv6Address("::ffff:10.1.2.3"), 80) == "an IPv4-mapped address (of 10.1.2.3)"
    assert policy.refusal(IPv6Address("::1"), 80) == "the loopback address"


def test_an_allowed_translation_range_still_checks_the_address_it_carries() -> None:
    policy = OriginPolicy(allow=parse_networks(["64:ff9b::/96"]))
    assert policy.refusal(IPv6Address("64:ff9b::808:808"), 80) is None  # 8.8.8.8 through NAT64
    refusal = policy.refusal(IPv6Address("64:ff9b::7f00:1"), 80)
    assert refusal == "an IPv6 form of 127.0.0.1, which is a loopback address"


def test_the_service_s_own_endpoints_are_refused_even_when_allowed() -> None:
    policy = OriginPolicy(allow=parse_networks(["127.0.0.0/8"])).serving(Endpoint.of("127.0.0.1", 8080))
    assert policy.refusal(IPv4Address("127.0.0.1"), 8080) == "an address of the staydown service itself"
    assert policy.refusal(IPv4Address("127.0.0.1"), 8081) is None
    wildcard = OriginPolicy(allow=parse_networks(["127.0.0.0/8"])).serving(Endpoint.of("0.0.0.0", 8080))
    assert wildcard.refusal(IPv4Address("127.0.0.2"), 8080, local=True) is not None
    assert wildcard.refusal(IPv4Address("127.0.0.2"), 8080, local=False) is None
    mapped = OriginPolicy(allow=parse_networks(["::ffff:0:0/96", "127.0.0.0/8"])).serving(
        Endpoint.of("127.0.0.1", 8080)
    )
    assert (
        mapped.refusal(IPv6Address("::ffff:127.0.0.1"), 8080) == "an address of the staydown service itself"
    )


@given(addresses_in(REFUSED), st.integers(1, 65535), st.integers(1, 65535))
def test_a_refused_address_gives_one_reason_whatever_the_port(
    address: IPAddress, port: int, other: int
) -> None:
    """Where the service listens is named only for otherwise allowed addresses: the reason for a
    refused one says nothing about which of its ports are the service's."""
    policy = OriginPolicy().serving(Endpoint(address, port), Endpoint(IPv4Address("0.0.0.0"), port))
    assert (
        policy.refusal(address, port, local=True)
        == policy.refusal(address, other)
        == special_purpose(address)
    )


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0x7F000001", "127.0.0.1."])
def test_odd_ipv4_spellings_are_read_as_browsers_read_them(host: str) -> None:
    assert literal_address(host) == IPv4Address("127.0.0.1")


@pytest.mark.parametrize(
    "host", ["example.com", "127.0.0.1.example", "xn--bcher-kva.example", "1.2.3.4.5a", "my_host.example"]
)
def test_names_are_not_addresses(host: str) -> None:
    assert literal_address(host) is None


@pytest.mark.parametrize("host", ["0999.0.0.1", "256.256.256.256", "1.2.3.4.5", "[::1"])
def test_invalid_numeric_hosts_are_errors(host: str) -> None:
    with pytest.raises(ValueError):
        literal_address(host)


def test_the_allow_setting_takes_cidrs_and_fails_loudly_on_anything_else() -> None:
    assert Settings(origin_allow="10.0.0.0/8, fd00::/8").origin_allow == [  # type: ignore[arg-type]
        IPv4Network("10.0.0.0/8"),
        IPv6Network("fd00::/8"),
    ]
    for bad in ("10.0.0.1/8", "banana", "10.0.0.0/33"):
        with pytest.raises(ValidationError, match="origin_allow") as caught:
            Settings(origin_allow=bad)  # type: ignore[arg-type]
        assert repr(bad) in str(caught.value)
