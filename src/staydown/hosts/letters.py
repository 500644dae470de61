"""The words of the letters about an origin's host: the forward (with the origin addresses and a
line that reproduces the request), the complainant's receipt naming the host, and the reminder,
each in its recipient's language (``locale``; see ``staydown.wording``)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from urllib.parse import urlsplit

from staydown.netpolicy import literal_address
from staydown.wording import Words

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
    body: str,
    *,
    origin: str,
    hostname: str,
    addresses: Sequence[str],
    urls: Sequence[str],
    locale: str = "en",
) -> str:
    """The notice forward, followed by where the zone's origin is and how to see the material."""
    if not addresses:
        return body
    _ = Words(locale)
    lines = [
        body.rstrip(),
        "",
        _(
            "The site %(hostname)s is served from an origin at the following address(es) on your network:",
            hostname=hostname,
        ),
        *(f"  {address}" for address in addresses),
        "",
        _("To reproduce a request for the noticed material at the origin:"),
        *(f"  {reproduction(origin, hostname, addresses[0], url)}" for url in urls[:REPRODUCED_URLS]),
    ]
    if len(urls) > REPRODUCED_URLS:
        lines.append("  " + _("(and %(count)s more URLs listed above)", count=len(urls) - REPRODUCED_URLS))
    return "\n".join(lines) + "\n"


def receipt(
    notice_id: int,
    *,
    hostname: str,
    host_name: str | None,
    contact: str | None,
    addresses: Sequence[str] | None,
    provider: str,
    locale: str = "en",
) -> tuple[str, str]:
    """What the complainant is told of the host behind ``hostname``; ``addresses`` only when the
    complainant may see them (a trusted flagger)."""
    _ = Words(locale)
    subject = f"[{provider}] " + _(
        "Notice #%(id)s: the hosting provider of %(hostname)s", id=notice_id, hostname=hostname
    )
    lines = [
        _(
            "%(provider)s is a caching and proxy service for %(hostname)s; the material is stored by the "
            "hosting provider of the site's origin server.",
            provider=provider,
            hostname=hostname,
        ),
        "",
    ]
    if contact:
        lines += [
            _("We have forwarded your notice to that hosting provider:"),
            "  " + _("Hosting provider: %(name)s", name=host_name or _("not named in its registry record")),
            "  " + _("Abuse contact: %(contact)s", contact=contact),
            "",
            _("You may also write to that provider directly."),
        ]
    else:
        lines += [
            _(
                "We could not find an abuse contact for the hosting provider of that site's origin "
                "(%(name)s).",
                name=host_name,
            )
            if host_name
            else _("We could not find an abuse contact for the hosting provider of that site's origin."),
            _("We keep trying, and an agent reviews sites whose hosts cannot be reached."),
        ]
    if addresses:
        lines += ["", _("Origin address(es), disclosed to you as a trusted flagger:")]
        lines += [f"  {address}" for address in addresses]
    return subject, "\n".join(lines) + "\n"


def reminder(
    notice_id: int, *, hostname: str, sent_days: float, provider: str, subject: str, locale: str = "en"
) -> tuple[str, str]:
    """A reminder to a host that has not answered a forwarded notice."""
    _ = Words(locale)
    return (
        _("Reminder: %(subject)s", subject=subject),
        _(
            "%(provider)s forwarded notice #%(id)s about %(hostname)s to you %(days)s day(s) ago and has had "
            "no answer. Please tell us what you did about the material, or why you did nothing.",
            provider=provider,
            id=notice_id,
            hostname=hostname,
            days=format(sent_days, ".0f"),
        )
        + "\n"
        + _("Your silence is recorded on the site's file with us.")
        + "\n",
    )
