"""Domain-control validation: prove that a customer controls a hostname before it is served.

Two methods: the origin serves the token at ``/.well-known/staydown-challenge/<token>`` when asked
for the hostname, or a TXT record at ``_staydown-challenge.<hostname>`` holds it. Checks never
raise: every failure is a result with a sentence saying what was checked and why it failed.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import dns.exception
import dns.resolver
import httpx

from staydown.netguard import OriginGuard, OriginRefused, dns_resolver

CHALLENGE_PREFIX = "/.well-known/staydown-challenge/"


class DcvMethod(enum.StrEnum):
    http = "http"
    dns = "dns"


@dataclass(frozen=True, slots=True)
class DcvResult:
    method: DcvMethod
    ok: bool
    detail: str


def new_token() -> str:
    """A fresh token, safe in a URL path and a DNS TXT value."""
    return secrets.token_urlsafe(32)


def http_challenge_path(token: str) -> str:
    return CHALLENGE_PREFIX + token


def dns_challenge_name(hostname: str) -> str:
    return f"_staydown-challenge.{hostname}"


def dns_challenge_value(token: str) -> str:
    return f"staydown-challenge={token}"


def check_http(
    *, origin: str, hostname: str, token: str, guard: OriginGuard, timeout: float = 5.0, max_bytes: int = 4096
) -> DcvResult:
    """Ask the origin for the token with ``Host: hostname``; redirects are not followed.

    The connection is made by ``guard``: an origin the policy refuses is never asked, and the
    result says only why it is refused (what a refused address would answer is nobody's business).
    """
    url = origin.rstrip("/") + http_challenge_path(token)
    if not url.startswith(("http://", "https://")):
        return DcvResult(DcvMethod.http, False, f"origin {origin!r} is not an http or https URL")
    try:
        with (
            guard.client(timeout=timeout) as client,
            client.stream("GET", url, headers={"host": hostname}) as response,
        ):
            if response.is_redirect:
                return DcvResult(
                    DcvMethod.http, False, f"origin answered {response.status_code} (a redirect) for {url}"
                )
            if response.status_code != 200:
                return DcvResult(DcvMethod.http, False, f"origin answered {response.status_code} for {url}")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    break
    except OriginRefused as exc:
        return DcvResult(DcvMethod.http, False, f"not checked: {exc.reason}")
    except httpx.HTTPError as exc:
        return DcvResult(DcvMethod.http, False, f"could not fetch {url}: {type(exc).__name__}: {exc}")
    text = body[:max_bytes].decode("utf-8", "replace").strip()
    if text in (token, dns_challenge_value(token)):
        return DcvResult(DcvMethod.http, True, f"origin served the token at {url} for {hostname}")
    return DcvResult(DcvMethod.http, False, f"origin served {url} but not the expected token")


def check_dns(
    *, hostname: str, token: str, nameservers: Sequence[str] = (), timeout: float = 5.0
) -> DcvResult:
    """Look for the token in the TXT records at ``_staydown-challenge.<hostname>``."""
    name = dns_challenge_name(hostname)
    expected = dns_challenge_value(token)
    try:
        answer = dns_resolver(nameservers, timeout).resolve(name, "TXT")
    except dns.resolver.NXDOMAIN:
        return DcvResult(DcvMethod.dns, False, f"no such name {name}")
    except dns.resolver.NoAnswer:
        return DcvResult(DcvMethod.dns, False, f"no TXT record at {name}")
    except (dns.exception.DNSException, ValueError, OSError) as exc:
        return DcvResult(DcvMethod.dns, False, f"DNS lookup of {name} failed: {type(exc).__name__}: {exc}")
    values = [b"".join(record.strings).decode("utf-8", "replace") for record in answer]
    if expected in values:
        return DcvResult(DcvMethod.dns, True, f"TXT record at {name} holds the token")
    return DcvResult(DcvMethod.dns, False, f"TXT record found at {name} but it holds a different token")
