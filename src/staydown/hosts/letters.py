"""The words of the letters about an origin's host: the forward (with the origin addresses and a
line that reproduces the request), the complainant's receipt naming the host, and the reminder."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from urllib.parse import urlsplit

from staydown.netpolicy import literal_address

REPRODUCED_URLS = 20  # lines of reproduction per letter; the full list is above them


def _address_host(address: str) -> str:
    parsed = literal_address(address)
    return f"[{parsed}]" if parsed is not None and parsed.version == 6 else address


def reproduction(origin: str, hostname: str, address: str, url: str) -> str:
    """A command that fetches ``url`` from the origin at ``address`` as the edge would."""
    origin_parts, parts = urlsplit(origin), urlsplit(url)
    path = (origin_parts.path.rstrip("/") + (parts.path or "/")) or "/"
    if parts.query:
        path += f"?{parts.query}"
    port = origin_parts.port
    if origin_parts.scheme == "https":
        # TLS must be asked for the site's name: pin the name to the address instead of a Host header.
        netloc = hostname if port in (None, 443) else f"{hostname}:{port}"
        pin = f"{hostname}:{port or 443}:{address}"
        return f"curl --resolve {shlex.quote(pin)} {shlex.quote(f'https://{netloc}{path}')}"
    host = _address_host(address)
    netloc = host if port in (None, 80) else f"{host}:{port}"
    return f"curl -H {shlex.quote(f'Host: {hostname}')} {shlex.quote(f'http://{netloc}{path}')}"


def forward_body(
    body: str, *, origin: str, hostname: str, addresses: Sequence[str], urls: Sequence[str]
) -> str:
    """The notice forward, followed by where the zone's origin is and how to see the material."""
    if not addresses:
        return body
    lines = [
        body.rstrip(),
        "",
        f"The site {hostname} is served from an origin at the following address(es) on your network:",
        *(f"  {address}" for address in addresses),
        "",
        "To reproduce a request for the noticed material at the origin:",
        *(f"  {reproduction(origin, hostname, addresses[0], url)}" for url in urls[:REPRODUCED_URLS]),
    ]
    if len(urls) > REPRODUCED_URLS:
        lines.append(f"  (and {len(urls) - REPRODUCED_URLS} more URLs listed above)")
    return "\n".join(lines) + "\n"


def receipt(
    notice_id: int,
    *,
    hostname: str,
    host_name: str | None,
    contact: str | None,
    addresses: Sequence[str] | None,
    provider: str,
) -> tuple[str, str]:
    """What the complainant is told of the host behind ``hostname``; ``addresses`` only when the
    complainant may see them (a trusted flagger)."""
    subject = f"[{provider}] Notice #{notice_id}: the hosting provider of {hostname}"
    lines = [
        f"{provider} is a caching and proxy service for {hostname}; the material is stored by the hosting "
        "provider of the site's origin server.",
        "",
    ]
    if contact:
        lines += [
            "We have forwarded your notice to that hosting provider:",
            f"  Hosting provider: {host_name or 'not named in its registry record'}",
            f"  Abuse contact: {contact}",
            "",
            "You may also write to that provider directly.",
        ]
    else:
        lines += [
            "We could not find an abuse contact for the hosting provider of that site's origin"
            + (f" ({host_name})." if host_name else "."),
            "We keep trying, and an agent reviews sites whose hosts cannot be reached.",
        ]
    if addresses:
        lines += ["", "Origin address(es), disclosed to you as a trusted flagger:"]
        lines += [f"  {address}" for address in addresses]
    return subject, "\n".join(lines) + "\n"


def reminder(
    notice_id: int, *, hostname: str, sent_days: float, provider: str, subject: str
) -> tuple[str, str]:
    """A reminder to a host that has not answered a forwarded notice."""
    return (
        f"Reminder: {subject}",
        f"{provider} forwarded notice #{notice_id} about {hostname} to you {sent_days:.0f} day(s) ago and "
        "has had no answer. Please tell us what you did about the material, or why you did nothing.\n"
        "Your silence is recorded on the site's file with us.\n",
    )
