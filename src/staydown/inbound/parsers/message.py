"""Read an RFC 5322 message into a :class:`MailView`, whatever state it arrives in.

The stdlib's ``compat32`` parser is used because it never raises on malformed MIME and is
line-based (the modern header parser has had super-linear cases). Charsets are decoded as
declared, with the Japanese legacy ones mapped to their supersets that mail really uses, an
undeclared or unknown one guessed (UTF-8, then the Japanese encodings), and as a last resort
decoded with replacement characters, the problem noted. Nesting and the number of parts are bounded.
"""

from __future__ import annotations

import codecs
import email
import email.policy
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses

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


def header_text(value: object, problems: list[str]) -> str:
    """A header's text with its RFC 2047 encoded words decoded (unknown charsets guessed)."""
    if value is None:
        return ""
    raw = str(value)
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
    found = getaddresses([value])
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


def read(raw: bytes, limits: Limits) -> MailView:
    """Decode ``raw`` into the view the parsers read; never raises on what a sender may send."""
    problems: list[str] = []
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    texts: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    refusal: str | None = None
    parts = 0
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        parts += 1
        if parts > limits.max_parts:
            refusal = f"the message has more than {limits.max_parts} MIME parts"
            break
        if depth > limits.max_depth:
            refusal = f"the message nests parts or attached messages deeper than {limits.max_depth} levels"
            break
        if part.is_multipart():
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend((child, depth + 1) for child in reversed(children) if isinstance(child, Message))
            continue
        content_type = part.get_content_type()
        filename = header_text(part.get_filename(), problems)
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        disposition = (part.get("content-disposition") or "").lower()
        if content_type in _TEXT_TYPES and not filename and "attachment" not in disposition:
            text = decode_text(data, part.get_content_charset(), problems)
            (html if content_type == "text/html" else texts).append(
                _strip_html(text) if content_type == "text/html" else text
            )
        else:
            attachments.append(Attachment(filename, content_type, data))
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
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    return [str(value) for value in message.get_all("authentication-results") or []]
