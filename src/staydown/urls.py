"""URL canonicalization, the one function the control plane and the edge share.

A blocked resource must be unreachable under every spelling that the edge would map to it, so a
notice's URL and every request the edge serves go through the same function and are compared in
canonical form. The rules are RFC 3986 section 6 normalisation plus what browsers (WHATWG URL) and
common servers treat as the same resource: scheme and host case, IDNA, default ports, decoded
unreserved escapes, uppercase hex, dot segments (after decoding, so ``%2e%2e`` cannot escape),
repeated slashes, backslashes in the path, and the fragment, which never reaches a server.

The canonical target is what the edge caches under and forwards. Blocks are matched on a looser
key (:func:`block_key`): origins commonly decode escaped slashes and sub-delimiters in a path before
they look a file up, and ignore a trailing slash, so ``/a%2Fb``, ``/a/x%2F..%2Fb``, ``/a/b/`` and
``/a/b`` reach the same file on most of them. A block on any one of those spellings blocks them all;
that a rare origin keeps them apart only means the block covers more than one of its resources.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

import idna

DEFAULT_PORTS = {"http": 80, "https": 443}
UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters left as they are in a path or query; everything else is percent-encoded.
_PATH_SAFE = UNRESERVED | frozenset(b"!$&'()*+,;=:@/%")
_QUERY_SAFE = _PATH_SAFE | frozenset(b"?")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)\Z")
_ABSOLUTE_FORM = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# Escapes that origins commonly decode in a path: sub-delimiters, ":", "@", "/" and "\" (the
# canonical form already decodes unreserved ones and upper-cases every escape).
_LOOSE_ESCAPE = re.compile(r"%(2[146-9A-F]|3[ABD]|40|5C)")
# In a query, the same less what structures a form ("&", "=", "+"), plus "?".
_LOOSE_QUERY_ESCAPE = re.compile(r"%(2[1479ACF]|28|3[ABF]|40)")


class URLError(ValueError):
    """A URL staydown will not act on, with a machine-readable ``code`` and a clear ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True, slots=True)
class CanonicalURL:
    scheme: str
    host: str
    port: int | None
    path: str
    query: str | None

    @property
    def target(self) -> str:
        """Path and query: what identifies the resource within a zone (the block key)."""
        return self.path if self.query is None else f"{self.path}?{self.query}"

    @property
    def authority(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.authority}{self.target}"


# Every pattern here is one character class or a fixed-length alternation: each runs in time linear
# in its input, whatever an attacker puts in a request line (no nested quantifiers, which backtrack).
_PLAIN_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*\Z")
# Longest Host value worth parsing: a 253-character name, brackets or a port. Anything longer is
# refused before it reaches the memoised parsers, so their caches hold only short keys.
MAX_HOST = 300


def _normalise_escapes(part: str, safe: frozenset[int]) -> str:
    """Decode escaped unreserved bytes, uppercase the rest, encode what may not appear raw."""
    if _PLAIN_PATH.match(part):
        return part
    raw = part.encode("utf-8")
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        byte = raw[i]
        if byte == 0x25:  # "%"
            if i + 2 >= n or raw[i + 1] not in _HEX or raw[i + 2] not in _HEX:
                raise URLError(
                    "invalid_percent_encoding", f"'%' not followed by two hex digits in {part[:80]!r}"
                )
            value = int(raw[i + 1 : i + 3], 16)
            if value in UNRESERVED:
                out.append(value)
            else:
                out += b"%" + raw[i + 1 : i + 3].upper()
            i += 3
            continue
        if byte in safe:
            out.append(byte)
        else:
            out += b"%%%02X" % byte
        i += 1
    return out.decode("ascii")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4 on a path whose repeated slashes are already merged."""
    output: list[str] = []
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if output:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/" + "/".join(output)


def canonical_path(path: str) -> str:
    """Return the canonical form of an absolute path (no query)."""
    if "\\" in path:
        path = path.replace("\\", "/")
    path = _normalise_escapes(path, _PATH_SAFE)
    path = re.sub(r"/{2,}", "/", path)
    if not path.startswith("/"):
        path = "/" + path
    if "/." in path:
        path = _remove_dot_segments(path)
    return path


def is_plain_target(target: str) -> bool:
    """Whether an origin-form target is already canonical: a path of plain characters, no query, no
    escapes, no empty or dot segments (a dot only between two plain characters)."""
    return (
        target.startswith("/")
        and _PLAIN_PATH.match(target) is not None
        and "//" not in target
        and "/." not in target
        and "./" not in target
        and ".." not in target
        and not target.endswith(".")
    )


def block_key(target: str) -> str:
    """The key a block is matched on, from a canonical target: escaped slashes, backslashes and
    sub-delimiters in the path decoded (then slashes merged and dot segments removed again), and a
    trailing slash dropped; in the query, escapes decoded where applications read both spellings
    alike (not ``&``, ``=`` or ``+``, which structure a form)."""
    path, sep, query = target.partition("?")
    if "%" in query:
        query = _LOOSE_QUERY_ESCAPE.sub(_unescape, query)
    if "%" in path:
        decoded = _LOOSE_ESCAPE.sub(_unescape, path)
        if decoded != path:
            path = canonical_path(decoded)  # slashes and dot segments the decoding made
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return path + sep + query


def block_key_hash(key: str) -> str:
    """How a resource is named where its block key itself is not kept (the edges' served-request
    counts): 128 bits of the key's SHA-256, the same wherever the key is computed."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _unescape(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 16))


def is_absolute_form(target: str) -> bool:
    """Whether a request-target is in absolute form (``scheme://authority/...``)."""
    return not target.startswith("/") and _ABSOLUTE_FORM.match(target) is not None


def canonical_query(query: str) -> str | None:
    if not query:
        return None
    return _normalise_escapes(query, _QUERY_SAFE)


def _ipv4(host: str) -> str | None:
    """Parse WHATWG IPv4 forms (``127.1``, ``0x7f.0.0.1``, ``2130706433``); None if not numeric."""
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()
    if not parts or len(parts) > 4 or not all(_NUMERIC_LABEL.match(p) for p in parts):
        return None
    numbers = []
    for part in parts:
        if part.startswith("0x"):
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if any(c not in "01234567" for c in part):
                raise URLError("invalid_host", f"{host!r} is not a valid IPv4 address")
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part))
    if any(value > 255 for value in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise URLError("invalid_host", f"{host!r} is not a valid IPv4 address")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number * 256 ** (3 - index)
    return str(ipaddress.IPv4Address(value))


def canonical_host(host: str) -> str:
    """Return the canonical host (lowercase A-label, no trailing dot, no port) or raise ``URLError``."""
    name, _port = split_host_port(host)
    return name


@lru_cache(maxsize=65536)
def _host(raw: str) -> str:
    if not raw:
        raise URLError("missing_host", "the URL has no host")
    if raw.startswith("["):
        if not raw.endswith("]"):
            raise URLError("invalid_host", f"{raw!r} is not a valid IPv6 literal")
        try:
            return f"[{ipaddress.IPv6Address(raw[1:-1]).compressed}]"
        except ValueError:
            raise URLError("invalid_host", f"{raw!r} is not a valid IPv6 literal") from None
    if "%" in raw:
        try:
            raw = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            raise URLError("invalid_host", f"{raw!r} has invalid percent-encoding") from None
    host = raw.rstrip(".") if raw.endswith(".") and not raw.endswith("..") else raw
    if _CONTROL.search(host) or any(c in host for c in "/?#@\\<>^|"):
        raise URLError("invalid_host", f"{raw!r} contains characters a host name cannot have")
    ipv4 = _ipv4(host.lower())
    if ipv4 is not None:
        return ipv4
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise URLError("invalid_host", f"{raw!r} is not a valid host name: {exc}") from None
    ascii_host = ascii_host.lower()
    if len(ascii_host) > 253 or any(not label or len(label) > 63 for label in ascii_host.split(".")):
        raise URLError("invalid_host", f"{raw!r} is not a valid host name")
    return ascii_host


def split_host_port(value: str) -> tuple[str, int | None]:
    """Split a Host header or authority into canonical host and port (None when absent)."""
    if len(value) > MAX_HOST:
        raise URLError("invalid_host", f"the host is longer than {MAX_HOST} characters")
    return _split_host_port(value)


@lru_cache(maxsize=65536)
def _split_host_port(value: str) -> tuple[str, int | None]:
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise URLError("invalid_host", f"{value!r} is not a valid IPv6 literal")
        host_part, rest = value[: end + 1], value[end + 1 :]
        if rest and not rest.startswith(":"):
            raise URLError("invalid_host", f"{value!r} is not a valid host")
        port_part = rest[1:] if rest else None
    else:
        host_part, sep, port_part_raw = value.partition(":")
        port_part = port_part_raw if sep else None
    port: int | None = None
    if port_part:
        if not port_part.isdigit() or not 0 < int(port_part) < 65536:
            raise URLError("invalid_port", f"port {port_part!r} is not a number from 1 to 65535")
        port = int(port_part)
    return _host(host_part), port


def _build(scheme: str, host: str, port: int | None, path: str, query: str | None) -> CanonicalURL:
    if port == DEFAULT_PORTS[scheme]:
        port = None
    return CanonicalURL(scheme, host, port, path, query)


def canonicalize_url(raw: str, *, max_length: int = 8192) -> CanonicalURL:
    """Return the canonical form of an absolute http(s) URL or raise ``URLError``."""
    url = raw.strip(" \t\r\n\f\v")
    if not url:
        raise URLError("empty", "the URL is empty")
    if len(url) > max_length:
        raise URLError("too_long", f"the URL is longer than {max_length} characters")
    if _CONTROL.search(url.replace(" ", "")) or " " in url:
        raise URLError("invalid_characters", "the URL contains whitespace or control characters")
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if not sep or not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
        raise URLError("scheme_not_allowed", "the URL must be absolute and start with http:// or https://")
    if scheme not in DEFAULT_PORTS:
        raise URLError("scheme_not_allowed", f"only http and https URLs can be noticed, not {scheme!r}")
    # A backslash is a slash in the authority and path (as browsers read it), not in the query.
    query_at = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    rest = rest[:query_at].replace("\\", "/") + rest[query_at:]
    if not rest.startswith("//"):
        raise URLError("missing_host", "the URL has no host (expected http://host/...)")
    rest = rest.lstrip("/")
    authority_end = len(rest)
    for marker in "/?#":
        position = rest.find(marker)
        if 0 <= position < authority_end:
            authority_end = position
    authority, remainder = rest[:authority_end], rest[authority_end:]
    if "@" in authority:
        raise URLError("credentials_in_url", "URLs with a user name or password are not accepted")
    host, port = split_host_port(authority)
    remainder = remainder.split("#", 1)[0]
    path, _, query = remainder.partition("?")
    return _build(scheme, host, port, canonical_path(path or "/"), canonical_query(query))


def canonicalize_target(
    target: str, *, host: str, scheme: str = "http", max_length: int = 8192
) -> CanonicalURL:
    """Canonicalise an HTTP request-target (origin-form or absolute-form) served for ``host``."""
    if len(target) > max_length:
        raise URLError("too_long", f"the request target is longer than {max_length} characters")
    if is_absolute_form(target):
        return canonicalize_url(target, max_length=max_length)
    if not target.startswith("/"):
        raise URLError("invalid_target", "the request target must start with '/'")
    name, port = split_host_port(host)
    if is_plain_target(target):
        return _build(scheme, name, port, target, None)
    if _CONTROL.search(target):
        raise URLError("invalid_characters", "the request target contains whitespace or control characters")
    path, _, query = target.split("#", 1)[0].partition("?")  # a fragment never names the resource
    return _build(scheme, name, port, canonical_path(path), canonical_query(query))
