"""Which RDAP service answers for an address or an AS number: the IANA bootstrap files (RFC 9224).

The three registries (IPv4, IPv6, AS numbers) ship with the package as a snapshot, and
``staydown hosts bootstrap-refresh`` writes newer copies to the data directory, which win when
present and valid. A file is read into a :class:`Bootstrap` of plain values: a lookup is a pure
longest-prefix (or range) match, with no I/O.
"""

from __future__ import annotations

import enum
import ipaddress
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import httpx

from staydown.netpolicy import IPAddress, IPNetwork


class Registry(enum.StrEnum):
    ipv4 = "ipv4"
    ipv6 = "ipv6"
    asn = "asn"


IANA_BASE = "https://data.iana.org/rdap/"
MAX_FILE_BYTES = 2_000_000


class BootstrapError(ValueError):
    """A bootstrap document that is not one (its reason is safe to print)."""


@dataclass(frozen=True, slots=True)
class Bootstrap:
    """One bootstrap registry: networks (or AS ranges) and the base URLs of the service for each."""

    registry: Registry
    publication: str
    networks: tuple[tuple[IPNetwork, tuple[str, ...]], ...] = ()
    ranges: tuple[tuple[int, int, tuple[str, ...]], ...] = ()

    def service_for(self, address: IPAddress) -> str | None:
        """The base URL of the service for ``address`` (longest prefix, HTTPS preferred), or None."""
        best: tuple[int, tuple[str, ...]] | None = None
        for network, urls in self.networks:
            fits = network.version == address.version and address in network
            if fits and (best is None or network.prefixlen > best[0]):
                best = (network.prefixlen, urls)
        return _preferred(best[1]) if best else None

    def service_for_asn(self, number: int) -> str | None:
        """The base URL of the service for AS ``number``, or None."""
        for start, end, urls in self.ranges:
            if start <= number <= end:
                return _preferred(urls)
        return None


def _preferred(urls: tuple[str, ...]) -> str | None:
    """RFC 9224 section 3: prefer HTTPS where a service lists both."""
    secure = [u for u in urls if u.startswith("https://")]
    chosen = (secure or list(urls))[:1]
    if not chosen:
        return None
    return chosen[0] if chosen[0].endswith("/") else chosen[0] + "/"


def parse(registry: Registry, text: str | bytes) -> Bootstrap:
    """Read a bootstrap document; raise ``BootstrapError`` naming what is wrong."""
    if len(text) > MAX_FILE_BYTES:
        raise BootstrapError(f"larger than {MAX_FILE_BYTES} bytes")
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BootstrapError(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("services"), list):
        raise BootstrapError("no 'services' array")
    networks: list[tuple[IPNetwork, tuple[str, ...]]] = []
    ranges: list[tuple[int, int, tuple[str, ...]]] = []
    for service in document["services"]:
        if not (isinstance(service, list) and len(service) >= 2):
            raise BootstrapError("a service is not a pair of arrays")
        entries, urls = service[0], service[1]
        if not (isinstance(entries, list) and isinstance(urls, list)):
            raise BootstrapError("a service is not a pair of arrays")
        bases = tuple(u for u in urls if isinstance(u, str) and u.startswith(("https://", "http://")))
        if not bases:
            continue
        for entry in entries:
            if not isinstance(entry, str):
                raise BootstrapError(f"entry {entry!r} is not a string")
            if registry is Registry.asn:
                ranges.append((*_asn_range(entry), bases))
            else:
                networks.append((_network(registry, entry), bases))
    if not networks and not ranges:
        raise BootstrapError("no service names any entry")
    publication = document.get("publication")
    return Bootstrap(
        registry, publication if isinstance(publication, str) else "", tuple(networks), tuple(ranges)
    )


def _network(registry: Registry, entry: str) -> IPNetwork:
    try:
        network = ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        raise BootstrapError(f"{entry!r} is not a network") from None
    if network.version != (4 if registry is Registry.ipv4 else 6):
        raise BootstrapError(f"{entry!r} is not an {registry.value} network")
    return network


def _asn_range(entry: str) -> tuple[int, int]:
    low, _, high = entry.strip().partition("-")
    if not (low.isdigit() and (high.isdigit() or not high)):
        raise BootstrapError(f"{entry!r} is not an AS number range")
    start, end = int(low), int(high or low)
    if end < start:
        raise BootstrapError(f"{entry!r} ends before it starts")
    return start, end


def shipped(registry: Registry) -> str:
    """The snapshot shipped with the package."""
    return (resources.files("staydown.hosts") / "data" / f"{registry.value}.json").read_text("utf-8")


def refreshed_path(data_dir: Path, registry: Registry) -> Path:
    return data_dir / "rdap" / f"{registry.value}.json"


def load(registry: Registry, data_dir: Path | None) -> Bootstrap:
    """The refreshed copy in ``data_dir`` if there is a valid one, else the shipped snapshot."""
    if data_dir is not None:
        path = refreshed_path(data_dir, registry)
        if path.is_file():
            try:
                return parse(registry, path.read_bytes())
            except (BootstrapError, OSError):
                pass  # a damaged refresh never hides the shipped snapshot
    return parse(registry, shipped(registry))


def refresh(data_dir: Path, *, source: str = IANA_BASE, timeout: float = 30.0) -> dict[Registry, str]:
    """Fetch the three registries from ``source`` (IANA's by default), check each one, and keep it
    in ``data_dir`` (replacing the previous copy atomically); return each one's publication date.

    Nothing is written unless all three are valid, so a failed refresh leaves what was in force."""
    fetched: dict[Registry, bytes] = {}
    with httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=3, trust_env=False) as client:
        for registry in Registry:
            url = source.rstrip("/") + f"/{registry.value}.json"
            try:
                with client.stream("GET", url) as response:
                    if response.status_code != 200:
                        raise BootstrapError(f"{url} answered HTTP {response.status_code}")
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > MAX_FILE_BYTES:
                            raise BootstrapError(f"{url} is larger than {MAX_FILE_BYTES} bytes")
            except httpx.HTTPError as exc:
                raise BootstrapError(f"{url} could not be read: {type(exc).__name__}") from None
            try:
                parse(registry, bytes(body))
            except BootstrapError as exc:
                raise BootstrapError(f"{url}: {exc}") from None
            fetched[registry] = bytes(body)
    published = {}
    for registry, document in fetched.items():
        path = refreshed_path(data_dir, registry)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(document)
        partial.replace(path)
        published[registry] = parse(registry, document).publication
    return published
