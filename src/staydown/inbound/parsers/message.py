"""Read an RFC 5322 message into a :class:`MailView`, whatever state it arrives in.

The stdlib's ``compat32`` parser is used because it never raises on malformed MIME and is
line-based (the modern header parser has had super-linear cases). Archives attached are opened
(``parsers.archives``) and their files read as parts one level deeper. Charsets are decoded as
declared, with the Japanese legacy ones mapped to their supersets that mail really uses, an
undeclared or unknown one guessed (UTF-8, then the Japanese encodings), and as a last resort
decoded with replacement characters, the problem noted. Nesting and the number of parts are bounded.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import re
from collections.abc import Callable
from email.feedparser import FeedParser
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from staydown.inbound.parsers import archives
from staydown.inbound.parsers.base import Attachment, Limits, MailView

# What Japanese mail labels as these is written in the vendors' supersets (NEC and IBM extensions,
# circled digits): decoding with the strict tables would fail on ordinary letters.
_SUPERSETS = {
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "euc-jp": "euc_jis_2004",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
}
_GUESSES = ("utf-8", "iso2022_jp_ext", "cp932", "euc_jis_2004")
_TEXT_TYPES = ("text/plain", "text/html")


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    name = charset.strip().strip('"').lower()
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_text(data: bytes, charset: str | None, problems: list[str]) -> str:
    """Decode ``data`` in its declared charset, else the first guess that fits, else with replacement."""
    codec = _codec(charset)
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            problems.append(f"the text is not valid {charset}; its charset was guessed")
    elif charset:
        problems.append(f"unknown charset {charset[:40]!r}; the text's charset was guessed")
    if b"\x1b$" in data:  # ISO-2022-JP's escape into JIS X 0208
        try:
            return data.decode("iso2022_jp_ext")
        except UnicodeDecodeError:
            pass
    for guess in _GUESSES:
        try:
            return data.decode(guess)
        except UnicodeDecodeError:
            continue
    problems.append("part of the text could not be decoded and was replaced")
    return data.decode("utf-8", errors="replace")


# The stdlib decodes encoded words in time quadratic in a field's length (an unclosed ``=?`` is
# searched for its end from every start), so a field holding them is read up to this length; that
# still gives more than the 500 characters of a subject or message id that are kept.
HEADER_CHARS = 2048


def header_text(value: object, problems: list[str]) -> str:
    """A header's text with its RFC 2047 encoded words decoded (unknown charsets guessed)."""
    if value is None:
        return ""
    raw = str(value)
    if len(raw) > HEADER_CHARS and "=?" in raw:
        raw = raw[:HEADER_CHARS]
    try:
        pieces = decode_header(raw)
    except Exception:
        return raw
    out = []
    for piece, charset in pieces:
        if isinstance(piece, bytes):
            out.append(decode_text(piece, charset, problems))
        else:
            out.append(piece)
    return "".join(out).replace("\r", "").replace("\n", " ").strip()


def _address(value: str) -> tuple[str, str]:
    try:
        found = getaddresses([value])
    except RecursionError:  # the stdlib reads nested comments by recursion
        return "", ""
    if not found:
        return "", ""
    name, address = found[0]
    return name.strip(), address.strip().lower()


def _strip_html(html: str) -> str:
    """Text of an HTML part, well enough to find URLs and statements (tags out, links kept)."""
    out: list[str] = []
    depth = 0
    start = 0
    for index, char in enumerate(html):
        if char == "<":
            if depth == 0:
                out.append(html[start:index])
            depth = 1
        elif char == ">" and depth:
            depth = 0
            start = index + 1
            out.append(" ")
    if depth == 0:
        out.append(html[start:])
    text = "".join(out)
    hrefs: list[str] = []
    lowered = html.lower()
    position = lowered.find("href=")
    while position != -1 and len(hrefs) < 200_000:
        begin = position + 5
        quote = html[begin : begin + 1]
        if quote in ('"', "'"):
            end = html.find(quote, begin + 1)
            if end != -1:
                hrefs.append(html[begin + 1 : end])
        position = lowered.find("href=", begin)
    return text + ("\n" + "\n".join(hrefs) if hrefs else "")


_MEMBER_TYPES = (
    (".xml", "application/xml"),
    (".csv", "text/csv"),
    (".tsv", "text/tab-separated-values"),
    (".json", "application/json"),
    (".txt", "text/plain"),
    (".text", "text/plain"),
    (".eml", "message/rfc822"),
    (".html", "text/html"),
    (".htm", "text/html"),
)


def member_type(name: str) -> str:
    """The content type of a file taken from an archive, by its name (archives carry no types)."""
    lowered = name.lower()
    return next(
        (kind for suffix, kind in _MEMBER_TYPES if lowered.endswith(suffix)), "application/octet-stream"
    )


# The stdlib splits a field's parameters in time quadratic in their number; real fields have a few.
MAX_PARAMETERS = 100
_PARAMETERISED = re.compile(rb"(?<![^\r\n])content-(?:type|disposition):", re.IGNORECASE)
_FIELD_END = re.compile(rb"\r\n(?![ \t])|\n(?![ \t])|\r(?![\n \t])")


def _crowded(raw: bytes) -> str | None:
    """Why the stdlib must not read ``raw``: a Content-Type or Content-Disposition field, anywhere,
    with more than ``MAX_PARAMETERS`` parameters (each field is scanned once: linear)."""
    for match in _PARAMETERISED.finditer(raw):
        end = _FIELD_END.search(raw, match.end())
        if raw.count(b";", match.end(), end.start() if end else len(raw)) > MAX_PARAMETERS:
            return f"a Content-Type or Content-Disposition field has more than {MAX_PARAMETERS} parameters"
    return None


class TooDeep(Exception):
    """A message whose parts nest deeper than the parser was allowed to follow."""


class _Lines:
    """The stdlib parser's line source, refusing to enter more than ``levels`` nested multiparts.

    The parser compares every line with the boundary of each multipart it is inside, so parts
    nested without bound make reading quadratic; nesting is therefore bounded as it is entered."""

    def __init__(self, lines: Any, levels: int) -> None:
        self.lines, self.levels, self.nested = lines, levels, 0

    def push_eof_matcher(self, matcher: Callable[[str], object]) -> None:
        if self.nested >= self.levels:
            raise TooDeep
        self.nested += 1
        self.lines.push_eof_matcher(matcher)

    def pop_eof_matcher(self) -> object:
        self.nested -= 1
        return self.lines.pop_eof_matcher()

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> object:
        return next(self.lines)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.lines, name)


def parse_message(raw: bytes, *, levels: int) -> Message:
    """``raw`` parsed as ``email.message_from_bytes`` does (``compat32``), following at most
    ``levels`` nested multiparts; raise :class:`TooDeep` beyond them."""
    parser = FeedParser(policy=email.policy.compat32)
    state = vars(parser)  # the parser offers no hook on its line source but this attribute
    state["_input"] = _Lines(state["_input"], levels)
    text = raw.decode("ascii", "surrogateescape")
    try:
        for start in range(0, len(text), 8192):
            parser.feed(text[start : start + 8192])
        return parser.close()
    except RecursionError:  # attached messages nested hundreds deep
        raise TooDeep from None


def _too_deep(limits: Limits) -> str:
    return f"the message nests parts, attached messages or archives deeper than {limits.max_depth} levels"


class _Walk:
    """One pass over a message's parts, and the files of its archives, in order, within the limits."""

    def __init__(self, limits: Limits, problems: list[str]) -> None:
        self.limits, self.problems = limits, problems
        self.texts: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Attachment] = []
        self.budget = archives.Budget(limits)
        self.parts = 0
        self.stack: list[tuple[Message | Attachment, int]] = []

    def run(self, message: Message) -> str | None:
        """Walk everything; return why the message is refused, if it is."""
        self.stack.append((message, 0))
        while self.stack:
            node, depth = self.stack.pop()
            if depth > self.limits.max_depth:
                return _too_deep(self.limits)
            try:
                if isinstance(node, Attachment):
                    self.member(node, depth)
                elif self.part(node, depth):
                    return f"the message has more than {self.limits.max_parts} MIME parts"
            except archives.Refused as exc:
                return str(exc)
        return None

    def part(self, part: Message, depth: int) -> bool:
        """Take one MIME part; return True when the message has too many."""
        self.parts += 1
        if self.parts > self.limits.max_parts:
            return True
        if part.is_multipart():
            children = part.get_payload()
            if isinstance(children, list):
                self.stack.extend(
                    (child, depth + 1) for child in reversed(children) if isinstance(child, Message)
                )
            return False
        content_type = part.get_content_type()
        filename = header_text(part.get_filename(), self.problems)
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        disposition = (part.get("content-disposition") or "").lower()
        if content_type in _TEXT_TYPES and not filename and "attachment" not in disposition:
            self.text(data, part.get_content_charset(), html=content_type == "text/html")
        else:
            self.attachment(Attachment(filename, content_type, data), depth)
        return False

    def text(self, data: bytes, charset: str | None, *, html: bool) -> None:
        text = decode_text(data, charset, self.problems)
        if html:
            self.html.append(_strip_html(text))
        else:
            self.texts.append(text)

    def attachment(self, attachment: Attachment, depth: int) -> None:
        """Keep an attachment, or open it if it is an archive (its files one level deeper)."""
        kind = archives.kind_of(attachment.filename, attachment.content_type, attachment.data)
        if kind is None:
            self.attachments.append(attachment)
            return
        try:
            members = archives.open_archive(
                attachment.filename or "archive", kind, attachment.data, self.budget
            )
        except archives.Unreadable as exc:
            self.problems.append(str(exc))
            self.attachments.append(attachment)
            return
        self.stack.extend(
            (Attachment(member.name, member_type(member.name), member.data), depth + 1)
            for member in reversed(members)
        )

    def member(self, member: Attachment, depth: int) -> None:
        """Take a file from an archive: a message is read as one, text as the letter's text."""
        if member.content_type == "message/rfc822":
            refusal = _crowded(member.data)
            if refusal is not None:
                raise archives.Refused(refusal)
            try:
                message = parse_message(member.data, levels=self.limits.max_depth - depth)
            except TooDeep:
                raise archives.Refused(_too_deep(self.limits)) from None
            self.stack.append((message, depth))
        elif member.content_type in _TEXT_TYPES:
            self.text(member.data, None, html=member.content_type == "text/html")
        else:
            self.attachment(member, depth)


def read(raw: bytes, limits: Limits) -> MailView:
    """Decode ``raw`` into the view the parsers read; never raises on what a sender may send."""
    problems: list[str] = []
    walk = _Walk(limits, problems)
    refusal = _crowded(raw)
    message: Message | None = None
    if refusal is None:
        try:
            message = parse_message(raw, levels=limits.max_depth)
        except TooDeep:
            refusal = _too_deep(limits)
    if message is None:  # refused unparsed: its header fields still name the sender
        message = BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)
    else:
        refusal = walk.run(message)
    texts, html, attachments = walk.texts, walk.html, walk.attachments
    if not texts:
        texts = html
    for defect in getattr(message, "defects", [])[:5]:
        problems.append(f"malformed MIME: {type(defect).__name__}")
    from_name, from_address = _address(header_text(message.get("from"), problems))
    _name, reply_to = _address(header_text(message.get("reply-to"), problems))
    auto = header_text(message.get("auto-submitted"), problems).lower()
    content_type = message.get_content_type()
    bounce = (
        content_type == "multipart/report"
        or from_address.startswith(("mailer-daemon@", "postmaster@"))
        or bool(header_text(message.get("x-autoreply"), problems))
    )
    return MailView(
        from_name=from_name,
        from_address=from_address,
        reply_to=reply_to,
        subject=header_text(message.get("subject"), problems)[:500],
        message_id=header_text(message.get("message-id"), problems)[:500],
        auto_submitted=(bool(auto) and auto != "no") or bounce,
        texts=tuple(texts),
        attachments=tuple(attachments),
        problems=tuple(dict.fromkeys(problems)),
        refusal=refusal,
    )


def authentication_results(raw: bytes) -> list[str]:
    """The message's ``Authentication-Results`` fields, topmost first (RFC 8601)."""
    message = BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)
    return [str(value) for value in message.get_all("authentication-results") or []]
