"""What letters say in words: URLs, the legal statements, the complainant's contact and signature,
and which law they invoke, in English and Japanese.

Every scan is one pass with patterns of single quantifiers (or plain substring search), so a
letter of any length is read in linear time.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from staydown.inbound.parsers.base import Limits, MailView
from staydown.notices import service as notices
from staydown.types import Regime
from staydown.urls import URLError, canonicalize_url

# Printable ASCII but space, quotes and angle brackets: a URL ends where prose (or Japanese) begins.
_URL = re.compile(r"(?:https?|hxxps?)://[!#-&(-;=?-~]+", re.IGNORECASE)
_TRAILING = ".,;:!?*"
_CLOSERS = {")": "(", "]": "[", "}": "{"}


def _trim(url: str) -> str:
    """Drop the punctuation a sentence puts after a URL, and closing brackets it did not open."""
    opened = {mark: url.count(mark) for mark in _CLOSERS.values()}
    closed = {mark: url.count(mark) for mark in _CLOSERS}
    end = len(url)
    while end:
        last = url[end - 1]
        if last in _TRAILING:
            end -= 1
        elif last in _CLOSERS and opened[_CLOSERS[last]] < closed[last]:
            closed[last] -= 1
            end -= 1
        else:
            break
    url = url[:end]
    if url[:4].lower() == "hxxp":  # defanged by the sender
        url = "http" + url[4:]
    return url


@dataclass(frozen=True, slots=True)
class Urls:
    valid: tuple[str, ...]
    skipped: tuple[str, ...]
    over_limit: bool


def find_urls(text: str, limits: Limits) -> Urls:
    """The distinct http(s) URLs in ``text``, in order; those that are no valid URL named apart."""
    valid: dict[str, None] = {}
    skipped: dict[str, None] = {}
    for match in _URL.finditer(text):
        url = _trim(match.group())
        if url in valid or url in skipped:
            continue
        try:
            canonicalize_url(url, max_length=limits.max_url_length)
        except URLError:
            if len(skipped) < 100:
                skipped[url[:300]] = None
            continue
        valid[url] = None
        if len(valid) > limits.max_urls:
            return Urls(tuple(valid), tuple(skipped), over_limit=True)
    return Urls(tuple(valid), tuple(skipped), over_limit=False)


def normalise(text: str) -> str:
    """Fold width and case and collapse whitespace, so wording is found however it was typed."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return " ".join(folded.split())


# The statements a notice must make, recognised sentence by sentence. A sentence states one when it
# holds the statement's wording and the clause before that wording neither negates it ("I do not
# have a good faith belief") nor reports it ("a notice must include a statement that"); in Japanese,
# where negation follows the verb, when the words after it do not negate it. A web form's question
# states what it asks only when the answer after it is yes, and an unchecked box states nothing.
_GOOD_FAITH = ("good faith", "good-faith", "bona fide", "bona-fide")
# What a good-faith belief is about: a sentence that says "good faith" of something else (an effort
# to reach the uploader, a counter-notice's mistake) is no such statement.
_GOOD_FAITH_TOPICS = (
    "authori",
    "infring",
    "unlawful",
    "illegal",
    "permission",
    "licen",
    "consent",
    "pirat",
    "fair use",
    "violat",
    "accurate",
)
_ACCURATE = ("accurate", "true and correct", "true and complete", "correct and complete", "truthful")
_ACCURATE_SUBJECTS = (
    "information",
    "notice",
    "notification",
    "statement",
    "letter",
    "complaint",
    "content",
    "herein",
    "above",
    "details",
    "allegation",
    "facts",
    "report",
    "request",
    "claim",
)
# "authori" covers authorized, authorised, authority, authorization; what follows says it is the
# sender's authority over this notice, not the uploader's lack of a licence.
_AUTHORITY_PURPOSES = (
    "to act",
    "behalf",
    "agent",
    "to submit",
    "to send",
    "to file",
    "to make",
    "to issue",
    "to enforce",
    "to represent",
    "this notice",
    "this notification",
    "this complaint",
    "this request",
    "this matter",
)
_OWNER = (
    "am the copyright",
    "am the owner",
    "am the rights",
    "am the author",
    "am the creator",
    "we are the copyright",
    "we are the owner",
    "we are the rights",
    "i own the copyright",
    "we own the copyright",
    "i own the rights",
    "we own the rights",
)
_NEGATORS = frozenset(
    ("not", "no", "never", "cannot", "neither", "nor", "without", "unable", "none", "nobody")
)
_CLAUSE_MARKS = (",", ";", ":", "(", '"', " that ", " and ", " or ", " but ", " which ", " who ")
_REPORTED = (
    "statement that",
    "statement confirming",
    "must include",
    "must contain",
    "should include",
    "should contain",
    "needs to include",
    "need to include",
    "whether",
)
_PROMPTS = ("copy and paste", "type the following")
_AFFIRMATIVE = frozenset(("yes", "y", "correct", "confirmed", "agreed", "true", "はい"))
_UNCHECKED = ("[ ]", "[]", "☐", "□")
_JA_GOOD_FAITH = ("誠実に信じ", "誠実な信念", "誠実に判断")
_JA_ACCURATE = ("正確", "真実")
_JA_FACTUAL = ("相違な", "相違あり", "相違ござ")  # 事実に相違ない: the negation is the statement
_JA_AUTHORIZED = (
    "権限を有",
    "権限があ",
    "代理人",
    "権利者本人",
    "著作権者本人",
    "著作権者であ",
    "著作権者です",
    "権利者であ",
    "権利者です",
    "著作権を有",
    "が有する著作権",
    "私が創作し",
)
_JA_NEGATED = ("ない", "ません", "ず、", "ず。")
_PERJURY = ("penalty of perjury", "偽証", "虚偽")
_INFRINGEMENT = ("権利侵害", "著作権侵害", "侵害", "copyright infringement", "infring")
_SENTENCE_BREAK = re.compile(r"(?<=[.?!])\s+|(?<=。)")
# Words every statement's wording holds one of: a sentence with none is passed over at once.
_STATEMENT_WORDS = re.compile(
    "faith|fide|accura|true and|correct and|truthful|authori|am the|are the|own the|"
    "誠実|正確|真実|相違|権限|代理人|権利者|著作権|創作"
)
_DECORATION = "*_#>`\\\"'“”「」 \t"


@dataclass(frozen=True, slots=True)
class Statements:
    good_faith: bool
    accurate: bool
    authorized: bool
    perjury: bool
    infringement_stated: bool


def _sentences(text: str) -> list[str]:
    """The letter's sentences, width and case folded. A line that asks, labels or heads (it ends
    with ``?`` or ``:``, or is set in bold) ends its paragraph, so the answer under it is a sentence
    of its own; lines wrapped inside a paragraph are joined."""
    found: list[str] = []
    paragraph: list[str] = []

    def close() -> None:
        if paragraph:
            found.extend(part for part in _SENTENCE_BREAK.split(" ".join(paragraph)) if part)
            paragraph.clear()

    for raw in unicodedata.normalize("NFKC", text).lower().splitlines():
        line = " ".join(raw.split())
        if not line:
            close()
            continue
        paragraph.append(line)
        if line.endswith(("?", ":", "**")):
            close()
    close()
    return found


def _denied(sentence: str, at: int) -> bool:
    """Whether the clause before ``at`` negates or reports what follows."""
    if any(mark in sentence[max(0, at - 160) : at] for mark in _REPORTED):
        return True
    window = sentence[max(0, at - 80) : at]
    cut = max((window.rfind(mark) + len(mark) for mark in _CLAUSE_MARKS if mark in window), default=0)
    return any(
        word in _NEGATORS or word.endswith(("n't", "n\u2019t"))
        for word in window[cut:].replace(",", " ").split()
    )


def _asserted(sentence: str, key: str, purposes: tuple[str, ...] = ()) -> bool:
    """Whether some occurrence of ``key`` is asserted (and, given ``purposes``, followed by one)."""
    at = sentence.find(key)
    while at != -1:
        unprefixed = sentence[max(0, at - 2) : at] != "un"
        followed = not purposes or any(p in sentence[at : at + 100] for p in purposes)
        if unprefixed and followed and not _denied(sentence, at):
            return True
        at = sentence.find(key, at + len(key))
    return False


def _asserted_ja(sentence: str, key: str, *, negatable: bool = True) -> bool:
    """Whether some occurrence of a Japanese ``key`` is not negated by the words after it."""
    at = sentence.find(key)
    while at != -1:
        end = at + len(key)
        after = sentence[end : end + 12].partition("。")[0].partition("、")[0]
        if not negatable or not any(n in after for n in _JA_NEGATED):
            return True
        at = sentence.find(key, end)
    return False


def _said(sentence: str) -> tuple[bool, bool, bool]:
    """The statements one sentence makes: good faith, accuracy, authority."""
    if not _STATEMENT_WORDS.search(sentence):
        return False, False, False
    good_faith = any(_asserted_ja(sentence, key) for key in _JA_GOOD_FAITH) or (
        ("belie" in sentence or "faith that" in sentence)
        and any(topic in sentence for topic in _GOOD_FAITH_TOPICS)
        and any(_asserted(sentence, key) for key in _GOOD_FAITH)
    )
    accurate = (
        any(_asserted_ja(sentence, key) for key in _JA_ACCURATE)
        or any(_asserted_ja(sentence, key, negatable=False) for key in _JA_FACTUAL)
        or (
            any(subject in sentence for subject in _ACCURATE_SUBJECTS)
            and any(_asserted(sentence, key) for key in _ACCURATE)
        )
    )
    authorized = (
        any(_asserted_ja(sentence, key) for key in _JA_AUTHORIZED)
        or _asserted(sentence, "authori", _AUTHORITY_PURPOSES)
        or any(_asserted(sentence, key) for key in _OWNER)
    )
    return good_faith, accurate, authorized


def _affirms(answer: str) -> bool:
    words = answer.split(maxsplit=1)
    return bool(words) and (words[0].strip(",.!;:") in _AFFIRMATIVE or answer.startswith("はい"))


def statements(text: str) -> Statements:
    """Which of the legal statements the letter makes, recognised by their wording."""
    made = [False, False, False]
    asked: tuple[bool, bool, bool] | None = None
    for sentence in _sentences(text):
        plain = sentence.strip(_DECORATION)
        if asked is not None:
            if _affirms(plain):
                made = [m or a for m, a in zip(made, asked, strict=True)]
            asked = None
        if plain.startswith(_UNCHECKED):
            continue
        said = _said(plain)
        if plain.endswith("?") or any(prompt in plain for prompt in _PROMPTS):
            asked = said  # a question states what it asks only if it is answered yes
            continue
        made = [m or s for m, s in zip(made, said, strict=True)]
    folded = normalise(text)
    return Statements(
        good_faith=made[0],
        accurate=made[1],
        authorized=made[2],
        perjury=any(p in folded for p in _PERJURY),
        infringement_stated=any(p in folded for p in _INFRINGEMENT),
    )


def regime_of(text: str) -> Regime:
    """The law a letter invokes: the regime whose wording (its ``letter_markers``) it uses most, at
    least as often as that regime needs; the default regime when none is invoked. Ties go to the
    regime declared first."""
    folded = normalise(text[:200_000])
    chosen, best = notices.DEFAULT_REGIME, 0
    for rules in notices.all_regime_rules():
        score = sum(1 for marker in rules.letter_markers if marker in folded)
        if score >= rules.letter_markers_needed and score > best:
            chosen, best = rules.regime, score
    return chosen


def regime_of_format(name: str) -> Regime:
    """The law a notice format's senders invoke (the default regime when no regime claims it)."""
    for rules in notices.all_regime_rules():
        if name in rules.formats:
            return rules.regime
    return notices.DEFAULT_REGIME


# Labelled lines of a contact or signature block, in English and Japanese.
_LABELS = {
    "name": ("name", "氏名", "名前", "担当者", "申出者"),
    "organization": ("company", "organization", "organisation", "会社名", "法人名", "団体名"),
    "on_behalf_of": ("on behalf of", "rights holder", "rightsholder", "copyright owner", "権利者"),
    "address": ("address", "postal address", "住所", "所在地"),
    "phone": ("phone", "telephone", "tel", "電話番号", "電話"),
    "email": ("e-mail", "email", "メールアドレス", "メール"),
    "work": ("work", "title", "copyrighted work", "original work", "作品名", "著作物", "作品", "タイトル"),
    "signature": ("signature", "signed", "署名", "記名"),
}
_SEPARATORS = (":", "\uff1a", "\t")  # the colon, full-width too
_CLOSINGS = frozenset(
    (
        "sincerely",
        "sincerely yours",
        "yours sincerely",
        "regards",
        "best regards",
        "kind regards",
        "warm regards",
        "with regards",
        "with kind regards",
        "with best regards",
        "best",
        "best wishes",
        "respectfully",
        "respectfully submitted",
        "yours faithfully",
        "faithfully",
        "yours truly",
        "very truly yours",
        "truly yours",
        "truthfully",
        "cordially",
        "thanks",
        "thank you",
        "many thanks",
        "thank you very much",
        "thank you in advance",
        "atentamente",
        "cordialement",
        "mit freundlichen grüßen",
        "met vriendelijke groet",
        "敬具",
        "以上",
    )
)
# A line asking for the signature, or labelling it, with the signature on the lines below.
_SIGNATURE_ASKS = (
    "to sign this",
    "full legal name",
    "your signature",
    "electronic signature",
    "digital signature",
    "physical signature",
)
_RULES = frozenset("-_=\u2013\u2014")


def labelled(text: str) -> dict[str, str]:
    """Values of labelled lines (``Phone: …``, ``住所\uff1a…``), the first of each label."""
    found: dict[str, str] = {}
    for line in text.splitlines()[:20_000]:
        stripped = line.strip().lstrip("-*・■●")
        for separator in _SEPARATORS:
            label, sep, value = stripped.partition(separator)
            if not sep:
                continue
            key = normalise(label)
            value = value.strip()
            if not value or len(key) > 30:
                break
            for field, names in _LABELS.items():
                if key in names and field not in found:
                    found[field] = value[:2000]
            break
    return found


def _plain(line: str) -> str:
    return line.strip().strip("*_#>`\\ \t").strip()


def _name_below(lines: list[str], start: int) -> str | None:
    """The first written line among the few from ``start`` when it reads as a name, not prose."""
    for line in lines[start : start + 4]:
        text = _plain(line)
        if not text or set(text) <= _RULES or normalise(text).rstrip(",.!") in _CLOSINGS:
            continue  # a rule, or a second closing ("Thank you!" then "Kind regards,")
        words = text.split()
        prose = text.endswith(".") and len(words) > 3
        if len(text) > 100 or len(words) > 10 or prose or text.endswith("?") or "://" in text:
            return None
        return text[:300]
    return None


def _written_signature(lines: list[str]) -> str | None:
    """A signature written as such: ``/s/ Name`` or ``/Name/``."""
    for line in lines:
        if line.startswith("/s/") and len(line) > 4:
            return line[3:].strip()[:300]
        inner = line[1:-1].strip()
        if len(line) > 2 and line[0] == line[-1] == "/" and inner and "/" not in inner:
            return inner[:300]
    return None


def _signature_below(lines: list[str]) -> str | None:
    """The name under a form's request for the signature, under the closing, or under ``--``."""
    for index, line in enumerate(lines):
        asked = normalise(_plain(line))
        if len(asked.split()) > 14:
            continue
        if asked.rstrip(":.") in _LABELS["signature"] or any(ask in asked for ask in _SIGNATURE_ASKS):
            name = _name_below(lines, index + 1)
            if name:
                return name
    for index, line in enumerate(lines):
        if normalise(_plain(line)).rstrip(",.!") in _CLOSINGS:
            name = _name_below(lines, index + 1)
            if name:
                return name
    for index, line in enumerate(lines):
        if line == "--":  # RFC 3676's "-- ", the trailing space already stripped
            return _name_below(lines, index + 1)
    return None


def signature_of(text: str) -> str | None:
    """The signature: a ``/s/ Name`` or ``/Name/`` line, a labelled one, the line below a form's
    request for it, the line after the closing, or the line after an e-mail signature delimiter."""
    lines = [line.strip() for line in text.splitlines()[:50_000]]
    sign = _written_signature(lines) or labelled(text).get("signature")
    if sign:
        return sign[:300]
    return _signature_below(lines)


# Where a letter names its works under a heading or a form's question, the works are the lines below.
_WORK_ASKS = (
    "copyrighted work",
    "original work",
    "work was allegedly infringed",
    "allegedly infringed work",
    "著作物等の説明",
    "著作物の説明",
    "侵害された著作物",
)
_WORK_WORDS = frozenset(("work", "works", "work(s)", "title", "titles", "title(s)"))
# Labels and headings that end in "work" or "title" but are about something else: where the copies
# are, the licence, the sender's job title, the infringing material.
_NOT_WORK_HEADING = ("licen", "name and", "job", "infringing the", "material that")
_NOT_WORK = ("location", "url", "link", *_NOT_WORK_HEADING)
# Labels of a letter's other parts, which end a list of works written below its heading.
_OTHER_LABELS = (
    "owner",
    "licensee",
    "holder",
    "contact",
    "url",
    "location",
    "link",
    "e-mail",
    "email",
    "phone",
)
_SECTION_NUMBER = re.compile(r"\d{1,2}[.)\s、]")
_NUMBERING = "0123456789.)(#\\ "


def _work_label(label: str) -> bool:
    """Whether a label names works: a known one, or a short one ending in "work" or "title"
    ("Identification of copyrighted work(s)") that does not say where the copies are."""
    key = normalise(label).strip(" .:*_").lstrip(_NUMBERING)
    words = key.split()
    return key in _LABELS["work"] or (
        0 < len(words) <= 6 and words[-1] in _WORK_WORDS and not any(n in key for n in _NOT_WORK)
    )


def _asks_for_works(line: str) -> bool:
    """Whether a line is a heading or question under which the works are named."""
    plain = _plain(line)
    key = normalise(plain).lstrip(_NUMBERING)
    if key in _WORK_ASKS or _work_label(plain):
        return True
    heading = line.startswith(("*", "#", "\\#")) or plain.endswith(("?", ":"))
    return (
        heading
        and len(key.split()) <= 40
        and any(ask in key for ask in _WORK_ASKS)
        and not any(n in key for n in _NOT_WORK_HEADING)
    )


def _heads(line: str) -> bool:
    """Whether a line is a label, heading or question rather than a work under one."""
    if line.endswith(":") or (line.startswith(("*", "#")) and line.endswith(("?", "**", "*"))):
        return True
    label, sep, _value = line.partition(":")
    key = normalise(label)
    short = len(key.split()) <= 6
    return bool(sep) and short and "//" not in label and any(other in key for other in _OTHER_LABELS)


def _works_below(lines: list[str], index: int, room: int) -> tuple[list[str], int]:
    """The works on the lines from ``index``, after any blank ones, up to the next blank line,
    heading or section number; lines of wrapped prose joined. Returns them and the next index."""
    while index < len(lines) and not lines[index]:
        index += 1
    works: list[str] = []
    numbered = False
    while index < len(lines) and lines[index] and not _heads(lines[index]) and len(works) < room:
        bullet = lines[index].startswith(("-", "*", "・", "■", "●"))
        line = _plain(lines[index].lstrip("-・■●"))
        section = bool(_SECTION_NUMBER.match(line))
        if works and section and not numbered:
            break  # the letter's next numbered section, not a numbered list of works
        wrapped = not bullet and line[:1].islower() and "://" not in line
        if works and wrapped and not works[-1].endswith((".", "!", "?", "。")):
            works[-1] = f"{works[-1]} {line}"[:2000]
        else:
            works.append(line[:2000])
        numbered = section
        index += 1
    return works, index


def works_of(text: str) -> tuple[str, ...]:
    """The works a letter names: in labelled lines (``Work: …``, ``作品名\uff1a…``), or on the lines
    below a label, heading or form question that asks for them (``Identification of copyrighted
    work(s):``, the web form's "description of the original copyrighted work")."""
    lines = [line.strip() for line in text.splitlines()[:20_000]]
    works: list[str] = []
    index = 0
    while index < len(lines) and len(works) < 100:
        line = lines[index]
        index += 1
        stripped = line.lstrip("-*・■●").strip()
        label, sep, value = "", "", ""
        for separator in _SEPARATORS:
            label, sep, value = stripped.partition(separator)
            if sep:
                break
        value = _plain(value)
        if sep and "//" not in label and _work_label(label):
            if value:
                works.append(value[:2000])
                continue
        elif (sep and value) or not stripped or not _asks_for_works(line):
            continue
        below, index = _works_below(lines, index, 100 - len(works))
        works.extend(below)
    return tuple(works)


def contact(view: MailView, text: str) -> dict[str, str | None]:
    """The complainant: the letter's labelled block where it has one, else the message's headers."""
    fields = labelled(text)
    email = fields.get("email", "").strip("<> ").lower() or view.reply_to or view.from_address
    if email and "@" not in email:
        email = view.reply_to or view.from_address
    return {
        "name": fields.get("name") or view.from_name or None,
        "email": email or None,
        "address": fields.get("address"),
        "phone": fields.get("phone"),
        "organization": fields.get("organization"),
        "on_behalf_of": fields.get("on_behalf_of"),
    }
