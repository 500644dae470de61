"""Identity marks: the normalised values by which a returning operator is recognised (pure).

Two customers are linked when they share any mark: the same name once spelling, case, width and
punctuation are set aside; the same e-mail address (tags removed) or e-mail domain (unless anyone
can sign up there); the same telephone number by its digits; the same postal address; the same
payment reference; a sign-up from the same network (/24, /48); the same origin host or address;
the same registered domain among zone hostnames (by the public suffix list that ``tldextract``
bundles, read without any network fetch).
"""

from __future__ import annotations

import hashlib
import ipaddress
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urlsplit

import tldextract

from staydown.netpolicy import literal_address, special_purpose

# Mail domains anyone can sign up at: sharing one says nothing about who a customer is.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.co.jp",
        "ymail.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "gmx.com",
        "gmx.net",
        "gmx.de",
        "web.de",
        "mail.com",
        "mail.ru",
        "yandex.ru",
        "yandex.com",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        "zoho.com",
        "tutanota.com",
        "fastmail.com",
        "docomo.ne.jp",
        "ezweb.ne.jp",
        "softbank.ne.jp",
    }
)

# Names reserved for documentation and testing (RFC 2606, RFC 6761) belong to no operator.
RESERVED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost"})

MIN_PHONE_DIGITS = 7
PHONE_DIGITS_COMPARED = 9  # with or without a country code, the national number's tail agrees
MIN_TEXT = 4  # a name or address shorter than this after normalising links nothing

# Marks drawn from the customer's identity record: erased with it. The others describe its sites
# (zone origins and hostnames), which outlive the erasure of the person behind them.
IDENTITY_KINDS = frozenset({"name", "email", "email_domain", "phone", "address", "payment", "signup_network"})
ERASED_VALUE = "(erased)"

LABELS = {
    "name": "name",
    "email": "e-mail address",
    "email_domain": "e-mail domain",
    "phone": "telephone number",
    "address": "postal address",
    "payment": "payment reference",
    "signup_network": "sign-up network",
    "origin_host": "origin host",
    "origin_address": "origin address",
    "registered_domain": "registered domain of a zone hostname",
    "content": "content served where noticed material was",
}


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    """What is known of a customer that could recognise them again."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    payment_reference: str | None = None
    signup_ip: str | None = None
    origins: tuple[str, ...] = ()
    origin_addresses: tuple[str, ...] = ()
    hostnames: tuple[str, ...] = ()
    public_mail_domains: frozenset[str] = field(default=PUBLIC_MAIL_DOMAINS)


def public_mail_domains(configured: Iterable[str]) -> frozenset[str]:
    """The built-in public mail providers as ``STAYDOWN_PUBLIC_MAIL_DOMAINS`` amends them: a name
    adds a provider, ``-name`` takes a built-in one out (a domain in the list that in fact belongs
    to one operator), and ``-*`` starts from an empty list (replace it). Entries are read in order."""
    domains = set(PUBLIC_MAIL_DOMAINS)
    for entry in configured:
        name = entry.strip().lower().rstrip(".")
        if name == "-*":
            domains.clear()
        elif name.startswith("-"):
            domains.discard(name[1:])
        elif name:
            domains.add(name)
    return frozenset(domains)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def normalise_text(text: str | None) -> str | None:
    """Letters and digits only, case and width folded: ``ACME, Inc.`` and ``acme inc`` agree."""
    if not text:
        return None
    folded = "".join(c for c in _fold(text) if c.isalnum())
    return folded if len(folded) >= MIN_TEXT else None


def normalise_email(email: str | None) -> tuple[str, str] | None:
    """The address without a ``+tag``, and its domain."""
    if not email or "@" not in email:
        return None
    local, _, domain = _fold(email.strip()).rpartition("@")
    local = local.split("+", 1)[0]
    if not local or not domain:
        return None
    return f"{local}@{domain}", domain.rstrip(".")


def normalise_phone(phone: str | None) -> str | None:
    """The last digits of the number, however it was written."""
    digits = "".join(c for c in _fold(phone or "") if c.isdigit())
    if len(digits) < MIN_PHONE_DIGITS:
        return None
    return digits[-PHONE_DIGITS_COMPARED:]


def signup_network(ip: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) the sign-up came from."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip.strip().partition("%")[0])
    except ValueError:
        return None
    if special_purpose(address) is not None:
        return None  # loopback, private, a proxy's: shared by everyone behind it, it says nothing
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def origin_host(origin: str) -> str | None:
    """The origin's host and port, as the zone stores it (normalised already)."""
    parts = urlsplit(origin)
    if not parts.hostname:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port or default
    except ValueError:
        return None
    return f"{parts.hostname}:{port}"


def public_address(text: str | None) -> str | None:
    """``text`` if it is a public address: a private or loopback one is not the operator's own."""
    try:
        address = literal_address(text or "")
    except ValueError:
        return None
    if address is None or special_purpose(address) is not None:
        return None
    return str(address)


@cache
def _extractor() -> tldextract.TLDExtract:
    # The snapshot bundled with the package; never fetched from the network.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def registered_domain(hostname: str) -> str | None:
    """The domain one registers under a public suffix (``shop.example.co.uk`` → ``example.co.uk``)."""
    parts = _extractor()(hostname.strip().rstrip("."))
    if not parts.domain or not parts.suffix:
        return None
    return f"{parts.domain}.{parts.suffix}".lower()


def marks(record: IdentityRecord) -> set[tuple[str, str]]:
    """Every (kind, normalised value) of ``record``."""
    found: set[tuple[str, str]] = set()

    def add(kind: str, value: str | None) -> None:
        if value:
            found.add((kind, value))

    add("name", normalise_text(record.name))
    email = normalise_email(record.email)
    if email is not None:
        add("email", email[0])
        domain = email[1]
        shared = domain in record.public_mail_domains or domain in RESERVED_DOMAINS
        if not shared and domain.rsplit(".", 1)[-1] not in RESERVED_TLDS:
            add("email_domain", domain)
    add("phone", normalise_phone(record.phone))
    add("address", normalise_text(record.address))
    add("payment", normalise_text(record.payment_reference))
    add("signup_network", signup_network(record.signup_ip))
    for origin in record.origins:
        add("origin_host", origin_host(origin))
        add("origin_address", public_address(urlsplit(origin).hostname))
    for address in record.origin_addresses:
        add("origin_address", public_address(address))
    for hostname in record.hostnames:
        add("registered_domain", registered_domain(hostname))
    return found


def digest(kind: str, value: str) -> str:
    """What is stored of a mark: a digest, so the table holds no identity in the clear."""
    return hashlib.sha256(f"{kind}\x00{value}".encode()).hexdigest()


def erase_evidence(items: list[dict[str, str]]) -> list[dict[str, str]]:
    """A link's evidence once one of the two customers' identity is erased: the kinds of mark that
    were shared stay (why the link was made), the identity values go; site marks stay whole."""
    return [{**e, "value": ERASED_VALUE} if e.get("mark") in IDENTITY_KINDS else e for e in items]


def evidence(shared: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """The evidence of a link, as an agent reads it."""
    return [
        {"mark": kind, "label": LABELS.get(kind, kind), "value": value} for kind, value in sorted(set(shared))
    ]
