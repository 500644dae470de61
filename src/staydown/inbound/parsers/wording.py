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


# The statements a notice must make, as senders word them. A phrase is found as a plain substring.
_GOOD_FAITH = (
    "good faith belief",
    "good-faith belief",
    "believe in good faith",
    "believes in good faith",
    "in good faith",
    "bona fide belief",
    "bona fide",
    "誠実に信じ",
    "誠実に",
    "善意",
)
_ACCURATE = (
    "is accurate",
    "are accurate",
    "accurate and complete",
    "information in this notice is true",
    "情報は正確",
    "正確であ",
    "正確です",
    "真実であ",
)
_AUTHORIZED = (
    "authorized to act",
    "authorised to act",
    "authorized to make",
    "authorised to make",
    "authorized on behalf",
    "authorised on behalf",
    "authorized agent",
    "authorised agent",
    "権限を有",
    "権限があ",
    "代理人",
    "権利者本人",
)
_PERJURY = ("penalty of perjury", "偽証", "虚偽")
_INFRINGEMENT = ("権利侵害", "著作権侵害", "侵害", "copyright infringement", "infring")


@dataclass(frozen=True, slots=True)
class Statements:
    good_faith: bool
    accurate: bool
    authorized: bool
    perjury: bool
    infringement_stated: bool


def statements(text: str) -> Statements:
    """Which of the legal statements the letter makes, recognised by their wording."""
    folded = normalise(text)
    perjury = any(p in folded for p in _PERJURY)
    return Statements(
        good_faith=any(p in folded for p in _GOOD_FAITH),
        accurate=any(p in folded for p in _ACCURATE),
        authorized=any(p in folded for p in _AUTHORIZED) or (perjury and "authori" in folded),
        perjury=perjury,
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
_CLOSINGS = (
    "sincerely",
    "regards",
    "best regards",
    "kind regards",
    "respectfully",
    "yours faithfully",
    "yours truly",
    "敬具",
    "以上",
)


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


def signature_of(text: str) -> str | None:
    """The signature: a ``/s/ Name`` line, a labelled one, or the line after the closing."""
    lines = [line.strip() for line in text.splitlines()[:50_000]]
    for line in lines:
        if line.startswith("/s/") and len(line) > 4:
            return line[3:].strip()[:300]
    sign = labelled(text).get("signature")
    if sign:
        return sign[:300]
    for index, line in enumerate(lines):
        if normalise(line).rstrip(",.") in _CLOSINGS:
            for after in lines[index + 1 : index + 4]:
                if after and after != "--":
                    return after[:300]
    return None


def works_of(text: str) -> tuple[str, ...]:
    """The works a letter names in labelled lines (``Work: …``, ``作品名\uff1a…``)."""
    works = []
    for line in text.splitlines()[:20_000]:
        stripped = line.strip().lstrip("-*・■●")
        for separator in _SEPARATORS:
            label, sep, value = stripped.partition(separator)
            if sep:
                if normalise(label) in _LABELS["work"] and value.strip():
                    works.append(value.strip()[:2000])
                break
        if len(works) >= 100:
            break
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
