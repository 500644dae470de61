"""Every response head the edge sends, built from values: its own answers (enforcement, errors),
answers from a stored response (200, 304, 206, 416), and heads of responses streamed from an
origin. Pure functions over values and bytes; the protocol only writes what they return.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

from staydown.edge.core import ALLOWED, Decision, Outcome, Request
from staydown.edge.httpdate import parse_http_date
from staydown.urls import CanonicalURL

if TYPE_CHECKING:
    from staydown.edge.cache import CachedResponse

# Reason phrases for every status an origin may send (RFC 9110's names, as the standard library has
# them); a status it does not know is sent with an empty phrase, which HTTP/1.1 allows.
REASONS: dict[int, str] = {status.value: status.phrase for status in HTTPStatus} | {
    413: "Content Too Large",  # RFC 9110's names where older ones linger
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}


def status_line(status: int) -> str:
    """``HTTP/1.1 <status> <reason>``, without the line end."""
    return f"HTTP/1.1 {status} {REASONS.get(status, '')}"


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"  # the interim answer to Expect: 100-continue


def stored_head(status: int, headers: Sequence[tuple[str, str]]) -> bytes:
    """The status line and field lines of a stored response, each line ended, without the blank line."""
    head = f"{status_line(status)}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    return head.encode("latin-1")


def render(
    status: int,
    body: bytes,
    *,
    content_type: str = "text/plain; charset=utf-8",
    headers: Sequence[tuple[str, str]] = (),
    close: bool = False,
    head: bool = False,
) -> bytes:
    """Serialise a complete response with Content-Length."""
    lines = [status_line(status), f"Content-Type: {content_type}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else body)


@dataclass(frozen=True, slots=True)
class BlockedWords:
    """The 451 page in one language; ``{url}``, ``{provider}``, ``{notice}`` and ``{legal}`` are
    filled per answer (already HTML-escaped for the page)."""

    title: str
    heading: str
    why_notice: str
    why_staydown: str
    contest_notice: str
    contest_staydown: str


# The edge speaks these itself, so that its processes load no message catalog; the control plane's
# pages and letters come from the catalogs (staydown.i18n). Each is filled in at start-up once per
# language (``BLOCKED_PAGES``), so an answer only formats its values into the page of its language.
BLOCKED_WORDS: dict[str, BlockedWords] = {
    "en": BlockedWords(
        title="451 Unavailable For Legal Reasons",
        heading="Unavailable for legal reasons",
        why_notice="{url} has been blocked by {provider} in response to notice #{notice}.",
        why_staydown=(
            "{url} has been blocked by {provider} as a copy of content it was notified of or that a "
            "rightsholder registered (stay-down)."
        ),
        contest_notice=(
            "If you believe this is a mistake, the customer who published it can file a counter-notice "
            "or an internal complaint about notice #{notice}; see {legal}."
        ),
        contest_staydown=(
            "If you believe this is a mistake, the customer who published it can lodge an internal "
            "complaint about this block from its account's list of restrictions; see {legal}."
        ),
    ),
    "ja": BlockedWords(
        title="451 法的な理由により表示できません",
        heading="法的な理由により表示できません",
        why_notice="{url} は、通知 #{notice} に基づき {provider} により遮断されています。",
        why_staydown=(
            "{url} は、{provider} が通知を受けたコンテンツまたは権利者が登録したコンテンツの複製として、"
            "{provider} により遮断されています（ステイダウン）。"  # noqa: RUF001
        ),
        contest_notice=(
            "この遮断が誤りであるとお考えの場合、コンテンツを掲載した契約者は、通知 #{notice} について"
            "反対通知または内部苦情を提出できます。詳しくは {legal} をご覧ください。"
        ),
        contest_staydown=(
            "この遮断が誤りであるとお考えの場合、コンテンツを掲載した契約者は、アカウントの制限一覧から"
            "この遮断について内部苦情を申し立てることができます。詳しくは {legal} をご覧ください。"
        ),
    ),
}
PAGE_LOCALES = tuple(BLOCKED_WORDS)
_MAX_ACCEPT_LANGUAGE = 1024


def page_locale(accept_language: str, default: str = "en") -> str:
    """The language of a 451 page: the best-weighted of ``PAGE_LOCALES`` the Accept-Language header
    names (``ja-JP`` counts as ``ja``; ``*`` as any not named; weight 0 refuses), the first named on
    a tie, else ``default``. A malformed or overlong header is ignored as a whole. Linear in the
    header's length, which is bounded."""
    if not accept_language or len(accept_language) > _MAX_ACCEPT_LANGUAGE:
        return default
    best: tuple[float, int] | None = None
    chosen, named, star = default, set(), None
    for position, element in enumerate(accept_language.split(",")):
        tag, _, params = element.partition(";")
        tag = tag.strip(" \t").lower()
        if not tag:
            continue
        weight = 1.0
        if params:
            name, _, value = params.strip(" \t").partition("=")
            if name.strip().lower() != "q":
                return default
            try:
                weight = float(value.strip())
            except ValueError:
                return default
            if not 0.0 <= weight <= 1.0:
                return default
        if tag == "*":
            star = star if star is not None else (weight, position)
            continue
        locale = tag.split("-", 1)[0]
        if locale not in PAGE_LOCALES:
            continue
        named.add(locale)
        if weight > 0 and (best is None or (weight, -position) > best):
            best, chosen = (weight, -position), locale
    if star is not None and star[0] > 0 and (best is None or (star[0], -star[1]) > best):
        unnamed = [locale for locale in (default, *PAGE_LOCALES) if locale not in named]
        if unnamed:
            return unnamed[0]
    return chosen if best is not None else default


def _page(words: BlockedWords, lang: str) -> tuple[str, str]:
    """The page of one language around its two sentences, split where they go."""
    head = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(words.title)}'
        f"</title></head><body><h1>{html.escape(words.heading)}</h1><p>"
    )
    return head, "</p><p>{contest}</p></body></html>"


BLOCKED_PAGES: dict[str, tuple[str, str]] = {
    lang: _page(words, lang) for lang, words in BLOCKED_WORDS.items()
}


def blocked_response(
    *,
    url: CanonicalURL,
    notice_id: int | None,
    legal_url: str,
    provider: str,
    want_json: bool,
    head: bool,
    locale: str = "en",
) -> bytes:
    """The 451 of RFC 7725: who blocks it, under which notice, and how to contest, in ``locale``."""
    words = BLOCKED_WORDS[locale]
    headers = [
        ("Link", f'<{legal_url}>; rel="blocked-by"'),
        ("Cache-Control", "no-store"),
        ("Content-Language", locale),
        ("Vary", "Accept, Accept-Language"),
    ]
    if want_json:
        plain = {"url": url.url, "provider": provider, "notice": notice_id, "legal": legal_url}
        contest = (words.contest_notice if notice_id is not None else words.contest_staydown).format(**plain)
        document = {
            "error": "unavailable_for_legal_reasons",
            "url": url.url,
            "notice_id": notice_id,
            "blocked_by": provider,
            "contest": contest,
            "legal_url": legal_url,
        }
        body = json.dumps(document, ensure_ascii=False).encode()
        return render(451, body, content_type="application/json", headers=headers, head=head)
    values = {
        "url": html.escape(url.url),
        "provider": html.escape(provider),
        "notice": notice_id,
        "legal": html.escape(legal_url),
    }
    if notice_id is not None:
        why, contest = words.why_notice, words.contest_notice
    else:  # a stay-down block: a copy of content already found infringing, or of a registered work
        why, contest = words.why_staydown, words.contest_staydown
    start, end = BLOCKED_PAGES[locale]
    page = start + why.format(**values) + end.format(contest=contest.format(**values))
    return render(451, page.encode(), content_type="text/html; charset=utf-8", headers=headers, head=head)


def https_location(url: CanonicalURL, https_port: int) -> str:
    """The https:// URL of the same resource, on the edge's HTTPS port."""
    authority = url.host if https_port == 443 else f"{url.host}:{https_port}"
    return f"https://{authority}{url.target}"


def with_field(response: bytes, line: bytes) -> bytes:
    """A rendered response with one more field line (``Name: value\r\n``) after its status line."""
    end = response.find(b"\r\n") + 2
    return response[:end] + line + response[end:]


def hsts_line(max_age: int) -> bytes:
    """The Strict-Transport-Security field line of a zone that asks for it."""
    return f"Strict-Transport-Security: max-age={max_age}\r\n".encode("ascii")


def enforcement_response(
    decision: Decision,
    *,
    legal_url: str,
    provider: str,
    accept: str,
    head: bool,
    https_port: int = 443,
    accept_language: str = "",
    default_locale: str = "en",
) -> bytes:
    """The response for every outcome that does not reach the cache or the origin."""
    if decision.outcome is Outcome.blocked:
        assert decision.url is not None
        return blocked_response(
            url=decision.url,
            notice_id=decision.notice_id,
            legal_url=legal_url,
            provider=provider,
            want_json="application/json" in accept,
            head=head,
            locale=page_locale(accept_language, default_locale),
        )
    if decision.outcome is Outcome.unknown_host:
        return render(421, b"This host is not served here.\n", head=head)
    if decision.outcome is Outcome.acme_challenge:  # RFC 8555 section 8.3: the key authorization
        answer = decision.detail.encode("ascii")
        return render(200, answer, content_type="application/octet-stream", head=head)
    if decision.outcome is Outcome.redirect:
        assert decision.url is not None
        # 301 for GET and HEAD (what every client follows); 308 keeps any other method and its body.
        status = 301 if decision.detail in ("GET", "HEAD") else 308
        location = https_location(decision.url, https_port)
        return render(status, f"Moved to {location}\n".encode(), headers=[("Location", location)], head=head)
    if decision.outcome is Outcome.zone_unavailable:
        return render(
            403,
            f"This site's service is {decision.detail.removeprefix('zone-')}.\n".encode(),
            headers=[("Staydown-Reason", decision.detail), ("Cache-Control", "no-store")],
            head=head,
        )
    if decision.outcome is Outcome.server_options:  # what the edge serves, on any resource
        return render(200, b"", headers=[("Allow", ALLOWED)], head=head)
    if decision.outcome is Outcome.method_not_allowed:
        # A CONNECT's client may already be sending what it means to tunnel: nothing more is read.
        return render(
            405,
            f"{decision.detail} is not served here.\n".encode(),
            headers=[("Allow", ALLOWED)],
            close=decision.detail == "CONNECT",
            head=head,
        )
    return render(400, f"Bad request: {decision.detail}\n".encode(), close=True, head=head)


def stream_head(
    status: int,
    headers: Sequence[tuple[str, str]],
    *,
    length: int | None,
    codings: Sequence[str] = (),
    request: Request,
    state: str,
) -> tuple[bytes, bool, bool]:
    """The head of a response passed through as it arrives, whether its body is sent chunked, and
    whether the connection closes after it (the body then ends with the connection).

    The origin's length is kept when it gave one; transfer codings the edge cannot undo stay applied
    and are named, with chunked last (RFC 9112 section 6.1); an HTTP/1.0 client is never sent
    Transfer-Encoding, so a body of unknown length ends with the connection.
    """
    lines = [status_line(status)]
    lines += [f"{n}: {v}" for n, v in headers if n.lower() != "content-length"]
    lines.append(f"Staydown-Cache: {state}")
    chunked = close = False
    if request.method == "HEAD" or status in (204, 304):
        if length is not None:
            lines.append(f"Content-Length: {length}")
    elif length is not None and not codings:
        lines.append(f"Content-Length: {length}")
    elif request.http_2:
        pass  # the body ends with its stream
    elif request.http_11:
        lines.append(f"Transfer-Encoding: {', '.join((*codings, 'chunked'))}")
        chunked = True
    else:
        close = True
    if close or not request.keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), chunked, close


def interim_head(status: int, headers: Sequence[tuple[str, str]]) -> bytes:
    """An interim (1xx) response, such as 103 Early Hints, with the origin's end-to-end fields."""
    lines = [status_line(status), *(f"{n}: {v}" for n, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(piece: bytes) -> bytes:
    """``piece`` as one chunk (an empty piece is nothing: an empty chunk would end the body)."""
    return b"%x\r\n%s\r\n" % (len(piece), piece) if piece else b""


LAST_CHUNK = b"0\r\n\r\n"


def _etag_matches(condition: str, etag: str | None) -> bool:
    if etag is None:
        return False
    if condition.strip() == "*":
        return True
    weak = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == weak for tag in condition.split(","))


def serve_entry(entry: CachedResponse, request: Request, *, now: float, state: str) -> bytes:
    """Answer a request from a stored response: 200, 304 or 206/416 as the request asks."""
    age = int(entry.age(now))
    headers = request.headers
    plain = (
        state == "hit"
        and request.keep_alive
        and request.method == "GET"
        and "if-none-match" not in headers
        and "if-modified-since" not in headers
        and "range" not in headers
    )
    kept = entry.kept(now) if plain else None
    if kept is not None:
        return kept  # the same bytes as the last hit this second
    tail = f"Age: {age}\r\nStaydown-Cache: {state}\r\n"
    if not request.keep_alive:
        tail += "Connection: close\r\n"
    inm = request.headers.get("if-none-match")
    ims = request.headers.get("if-modified-since")
    not_modified = _etag_matches(inm, entry.etag) if inm is not None else False
    if inm is None and ims is not None and entry.last_modified is not None and entry.status == 200:
        since, modified = parse_http_date(ims), parse_http_date(entry.last_modified)
        not_modified = since is not None and modified is not None and modified <= since
    if not_modified:
        return b"HTTP/1.1 304 Not Modified\r\n" + entry.head.split(b"\r\n", 1)[1] + tail.encode() + b"\r\n"
    body = entry.body
    range_header = request.headers.get("range")
    if range_header and entry.status == 200 and _if_range_holds(request, entry):
        span = _parse_range(range_header, len(body))
        if span == "unsatisfiable":
            refusal = (
                f"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len(body)}\r\n"
                f"{tail}Content-Length: 0\r\n\r\n"
            )
            return refusal.encode("latin-1")
        if isinstance(span, tuple):
            start, end = span
            part = body[start : end + 1]
            fields = (
                f"Content-Range: bytes {start}-{end}/{len(body)}\r\n{tail}Content-Length: {len(part)}\r\n\r\n"
            )
            partial = b"HTTP/1.1 206 Partial Content\r\n" + entry.head.split(b"\r\n", 1)[1] + fields.encode()
            return partial if request.method == "HEAD" else partial + part
    head = entry.head + f"{tail}Content-Length: {len(body)}\r\n\r\n".encode()
    if request.method == "HEAD":
        return head
    response = head + body
    if plain:
        entry.keep_served(age, response)
    return response


def _if_range_holds(request: Request, entry: CachedResponse) -> bool:
    condition = request.headers.get("if-range")
    if condition is None:
        return True
    if condition.startswith(("W/", '"')):
        return entry.etag is not None and not condition.startswith("W/") and condition == entry.etag
    return condition == entry.last_modified


def _parse_range(value: str, size: int) -> tuple[int, int] | str | None:
    """One ``bytes=`` range → (start, end); several or malformed → None (serve it all)."""
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, sep, last = spec.strip().partition("-")
    if not sep:
        return None
    try:
        if first == "":
            if not last.isdigit() or int(last) == 0:
                return "unsatisfiable" if last.isdigit() else None
            suffix = int(last)
            return max(0, size - suffix), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        return "unsatisfiable"
    if end < start:
        return None
    return start, min(end, size - 1)
