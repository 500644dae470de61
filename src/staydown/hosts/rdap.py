"""Ask RDAP who holds an address, and read the abuse contact out of the answer (RFC 9083).

The answer is untrusted: it is read with a size bound, a time bound and a bounded number of
redirects, and every connection (the first and each redirect) is made by the origin guard, so a
redirect to a loopback, private or otherwise non-public address is refused before any connection
is opened. Reading the JSON is pure: :func:`read_network` walks a bounded number of entities.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from staydown.netguard import OriginRefused

REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_ENTITIES = 200
MAX_DEPTH = 6
ACCEPT = "application/rdap+json, application/json;q=0.9"


class RdapError(Exception):
    """A lookup that gave no usable answer; ``reason`` is recorded as is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Contact:
    """An entity's name and e-mail addresses, as its jCard (RFC 7095) gives them."""

    name: str | None
    emails: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NetworkHolder:
    """What an RDAP IP network answer says about who holds it and how to reach their abuse desk."""

    handle: str | None
    network: str | None
    holder: str | None
    abuse: Contact | None


@dataclass(frozen=True, slots=True)
class Fetched:
    """A JSON document read from an RDAP service, where it finally came from and for how long it
    may be kept (``Cache-Control: max-age``), if the service said."""

    url: str
    document: dict[str, Any]
    max_age: float | None


def _text(value: object, limit: int = 300) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:limit]
    return None


def _email(value: object) -> str | None:
    text = _text(value, 320)
    if text is None:
        return None
    text = text.removeprefix("mailto:")
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() or ord(c) < 32 for c in text):
        return None
    return text


def contact(entity: dict[str, Any]) -> Contact:
    """The name (``fn``) and e-mail addresses of an entity's ``vcardArray``."""
    card = entity.get("vcardArray")
    name, emails = None, []
    if isinstance(card, list) and len(card) == 2 and isinstance(card[1], list):
        for prop in card[1][:200]:
            if not (isinstance(prop, list) and len(prop) >= 4 and isinstance(prop[0], str)):
                continue
            if prop[0].lower() == "fn" and name is None:
                name = _text(prop[3])
            elif prop[0].lower() == "email":
                email = _email(prop[3])
                if email and email not in emails:
                    emails.append(email)
    return Contact(name, tuple(emails))


def _entities(document: dict[str, Any]) -> Iterator[tuple[dict[str, Any], frozenset[str]]]:
    """Every entity (nested ones too, breadth first), with its roles, within the bounds."""
    queue: list[tuple[dict[str, Any], int]] = [(document, 0)]
    seen = 0
    while queue and seen < MAX_ENTITIES:
        node, depth = queue.pop(0)
        children = node.get("entities")
        if not isinstance(children, list) or depth >= MAX_DEPTH:
            continue
        for child in children:
            if not isinstance(child, dict):
                continue
            seen += 1
            if seen > MAX_ENTITIES:
                break
            roles = child.get("roles")
            names = (
                frozenset(r.lower() for r in roles if isinstance(r, str))
                if isinstance(roles, list)
                else frozenset()
            )
            yield child, names
            queue.append((child, depth + 1))


def read_network(document: dict[str, Any]) -> NetworkHolder:
    """Read who holds the network and its abuse contact (the first entity with the ``abuse`` role
    that has an e-mail address; RFC 9083 section 10.2.4)."""
    holder = abuse = None
    for entity, roles in _entities(document):
        if "abuse" in roles and abuse is None:
            found = contact(entity)
            if found.emails:
                abuse = found
        if "registrant" in roles and holder is None:
            holder = contact(entity).name
    start, end = _text(document.get("startAddress"), 64), _text(document.get("endAddress"), 64)
    network = f"{start} - {end}" if start and end else None
    return NetworkHolder(
        handle=_text(document.get("handle"), 100),
        network=network,
        holder=holder or _text(document.get("name")),
        abuse=abuse,
    )


def max_age(cache_control: str | None) -> float | None:
    """The ``max-age`` of a Cache-Control header, or None."""
    for part in (cache_control or "").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "max-age" and value.strip().isdigit():
            return float(value.strip())
    return None


def fetch(url: str, *, client: httpx.Client, max_bytes: int, max_redirects: int, timeout: float) -> Fetched:
    """GET an RDAP document, following at most ``max_redirects`` redirects; raise ``RdapError``.

    ``client`` must connect through the origin guard and not follow redirects itself. The whole
    lookup, redirects included, ends after ``timeout`` seconds per request made."""
    deadline = time.monotonic() + timeout * (max_redirects + 1)
    for _hop in range(max_redirects + 1):
        try:
            response = _read(url, client=client, max_bytes=max_bytes, deadline=deadline)
        except OriginRefused as exc:
            raise RdapError(f"{_where(url)} is not reachable: {exc.reason}") from None
        except httpx.TimeoutException:
            raise RdapError(f"{_where(url)} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise RdapError(f"{_where(url)} could not be read: {type(exc).__name__}") from None
        status, headers, body = response
        if status in REDIRECTS:
            location = headers.get("location")
            if not location:
                raise RdapError(f"{_where(url)} redirected without a Location")
            url = urljoin(url, location)
            if urlsplit(url).scheme not in ("http", "https"):
                raise RdapError("redirected to a URL that is not http or https")
            continue
        if status == 404:
            raise RdapError(f"{_where(url)} has no record (404)")
        if status != 200:
            raise RdapError(f"{_where(url)} answered HTTP {status}")
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise RdapError(f"{_where(url)} answered something that is not JSON") from None
        if not isinstance(document, dict):
            raise RdapError(f"{_where(url)} answered JSON that is not an RDAP object")
        return Fetched(url, document, max_age(headers.get("cache-control")))
    raise RdapError(f"more than {max_redirects} redirects")


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"the RDAP service at {parts.scheme}://{parts.netloc}"


def _read(
    url: str, *, client: httpx.Client, max_bytes: int, deadline: float
) -> tuple[int, httpx.Headers, bytes]:
    # Uncompressed, so the bound on what is read is the bound on what is parsed.
    with client.stream("GET", url, headers={"accept": ACCEPT, "accept-encoding": "identity"}) as response:
        if response.status_code in REDIRECTS:
            return response.status_code, response.headers, b""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise RdapError(f"{_where(url)} answered {declared} bytes, more than {max_bytes}")
        body = bytearray()
        for chunk in response.iter_raw(65536):
            body += chunk
            if len(body) > max_bytes:
                raise RdapError(f"{_where(url)} answered more than {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise RdapError(f"{_where(url)} did not finish its answer in time")
        return response.status_code, response.headers, bytes(body)
