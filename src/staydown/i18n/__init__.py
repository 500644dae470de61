"""Languages of the desk and the letters: which one a reader gets, its messages, its formats.

A reader's language is their own setting, else what their browser asks for (``Accept-Language``,
RFC 9110 §12.5.4), else the configured default (``STAYDOWN_DEFAULT_LOCALE``); see ``negotiate``.

Messages live in gettext catalogs, ``staydown/locale/<locale>/LC_MESSAGES/<domain>.po``, one
domain per surface (``desk``, ``letters``). The ``.po`` files are read when first needed and
compiled in memory, so there is no compile step and no stale ``.mo`` file. English catalogs may
leave ``msgstr`` empty (the ``msgid`` is the English text); Japanese ones are complete, which
``tests/test_i18n_catalogs.py`` checks against the strings extracted from the source.
See docs/i18n.md for adding a string or a locale.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Final

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment

LOCALES: Final = ("en", "ja")
DOMAINS: Final = ("desk", "letters")
CATALOGS: Final = Path(__file__).resolve().parent.parent / "locale"

# Accept-Language longer than this, or with more ranges, is not read (the default applies).
MAX_ACCEPT_LANGUAGE = 1024
MAX_RANGES = 32

# One element of Accept-Language: a language range (RFC 4647 §2.1) and an optional weight
# (RFC 9110 §12.4.2): "q=" then 0, 0.xxx, 1 or 1.000.
_ELEMENT = re.compile(
    r"[ \t]*(?P<range>\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)"
    r"(?:[ \t]*;[ \t]*[qQ]=(?P<q>0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?))?[ \t]*"
)

# How dates read in each language. English keeps the unambiguous ISO order the desk has always
# shown; Japanese writes 年月日. Times are shown in UTC, and say so.
_DATETIME_PATTERNS: Final = {"en": "yyyy-MM-dd HH:mm 'UTC'", "ja": "y年M月d日 H:mm 'UTC'"}
_DATE_PATTERNS: Final = {"en": "yyyy-MM-dd (EEE)", "ja": "y年M月d日(E)"}


def _known(locale: str) -> str:
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}; staydown speaks {', '.join(LOCALES)}")
    return locale


def _locale_of_range(language_range: str) -> str | None:
    """The locale a language range names (RFC 4647 §3.4 lookup: ``ja-JP`` falls back to ``ja``)."""
    parts = language_range.lower().split("-")
    while parts:
        candidate = "-".join(parts)
        if candidate in LOCALES:
            return candidate
        parts.pop()
    return None


def parse_accept_language(header: str) -> list[tuple[str, float]] | None:
    """The (range, weight) pairs of an ``Accept-Language`` value in order; None if it is malformed.

    Empty elements (``a,,b``) are allowed as RFC 9110 §5.6.1 asks. Linear in the header's length,
    which is bounded by ``MAX_ACCEPT_LANGUAGE``.
    """
    if len(header) > MAX_ACCEPT_LANGUAGE:
        return None
    pairs: list[tuple[str, float]] = []
    for element in header.split(","):
        if not element.strip(" \t"):
            continue
        found = _ELEMENT.fullmatch(element)
        if found is None or len(pairs) == MAX_RANGES:
            return None
        weight = found.group("q")
        pairs.append((found.group("range"), float(weight) if weight is not None else 1.0))
    return pairs


def negotiate(accept_language: str | None, preferred: str | None = None, default: str = "en") -> str:
    """The locale to speak: the reader's own ``preferred`` setting, else the best of
    ``accept_language`` that staydown speaks, else ``default``.

    Among the ranges the header names, the highest weight wins and, at equal weight, the first
    named; ``*`` stands for every locale the header does not name; weight 0 refuses a locale.
    A malformed or overlong header is ignored as a whole.
    """
    if preferred in LOCALES:
        return str(preferred)
    default = _known(default)
    if not accept_language:
        return default
    pairs = parse_accept_language(accept_language)
    if pairs is None:
        return default
    named: dict[str, tuple[float, int]] = {}
    star: tuple[float, int] | None = None
    for position, (language_range, weight) in enumerate(pairs):
        if language_range == "*":
            star = star or (weight, position)
            continue
        locale = _locale_of_range(language_range)
        # Several ranges may fall back to one locale ("ja-JP, ja;q=0.5"): the best of them counts.
        if locale is not None and (locale not in named or weight > named[locale][0]):
            named[locale] = (weight, position)
    choices = dict(named)
    if star is not None:
        for locale in LOCALES:
            choices.setdefault(locale, star)
    # Highest weight, then first named; among the locales of one "*", the default, then LOCALES' order.
    acceptable = [
        (weight, -position, locale == default, -LOCALES.index(locale), locale)
        for locale, (weight, position) in choices.items()
        if weight > 0
    ]
    return max(acceptable)[-1] if acceptable else default


def catalog_path(locale: str, domain: str) -> Path:
    return CATALOGS / _known(locale) / "LC_MESSAGES" / f"{domain}.po"


@cache
def translations(locale: str, domain: str) -> Translations:
    """The messages of ``domain`` in ``locale``, read from its ``.po`` file (once per process).

    Fuzzy entries are left out (they show the English text), as ``msgfmt`` would.
    """
    path = catalog_path(locale, domain)
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(fp=compiled, domain=domain)


def _localized(value: object, locale: str, domain: str) -> object:
    if isinstance(value, Message):
        return value.render(locale, domain)
    if isinstance(value, datetime):
        return format_datetime(value, locale)
    if isinstance(value, date):
        return format_date(value, locale)
    return value


def translate(locale: str, domain: str, message: str, /, **params: object) -> str:
    """``message`` in ``locale``, with ``%(name)s`` placeholders filled from ``params``: dates and
    times written as the locale writes them, ``Message`` values (a label) in the locale too."""
    text = translations(locale, domain).gettext(message)
    if not params:
        return text
    return text % {name: _localized(value, locale, domain) for name, value in params.items()}


@dataclass(frozen=True)
class Message:
    """A message to be shown later, in a language not yet known (a flash, an error's text).

    Made with ``_("Notice %(id)s decided", id=7)``, which marks the text for extraction; rendered
    with ``render(locale, domain)``. ``str()`` is the English text (logs, tests, the API).
    """

    msgid: str
    params: Mapping[str, object] = field(default_factory=dict)

    def render(self, locale: str, domain: str) -> str:
        return translate(locale, domain, self.msgid, **self.params)

    def __str__(self) -> str:
        if not self.params:
            return self.msgid
        return self.msgid % {
            name: str(value) if isinstance(value, Message) else _localized(value, "en", "")
            for name, value in self.params.items()
        }


def _(msgid: str, /, **params: object) -> Message:
    """Mark ``msgid`` for extraction; the reader's language is applied when it is shown."""
    return Message(msgid, params)


def render_text(text: str | Message, locale: str, domain: str) -> str:
    """``text`` in ``locale`` if it is a ``Message``; a plain string is shown as it is."""
    return text.render(locale, domain) if isinstance(text, Message) else text


def format_datetime(value: datetime, locale: str) -> str:
    """A moment as a reader of ``locale`` reads it, in UTC (naive values are taken as UTC)."""
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return babel_dates.format_datetime(
        moment, _DATETIME_PATTERNS[_known(locale)], tzinfo=UTC, locale=Locale.parse(locale)
    )


def format_date(value: date, locale: str) -> str:
    """A day (a deadline, a business day) with its weekday, as a reader of ``locale`` reads it."""
    day = value.astimezone(UTC).date() if isinstance(value, datetime) else value
    return babel_dates.format_date(day, _DATE_PATTERNS[_known(locale)], locale=Locale.parse(locale))


def format_number(value: int | float, locale: str) -> str:
    """A count or amount with the locale's grouping (``3,000``)."""
    return babel_numbers.format_decimal(value, locale=Locale.parse(_known(locale)))


def jinja_env_install(env: Environment, locale: str, domain: str) -> Environment:
    """Make ``env`` (which has the ``jinja2.ext.i18n`` extension) render in ``locale``.

    Installs the domain's messages (new-style gettext: ``{% trans %}``, ``_()`` and ``gettext()``
    autoescape and fill ``%(name)s`` themselves), the filters ``datetime``, ``date`` and ``number``
    in the locale's formats, and the global ``locale``. Use one environment per locale: an
    environment holds one language.
    """
    if "jinja2.ext.InternationalizationExtension" not in env.extensions:
        env.add_extension("jinja2.ext.i18n")
    _known(locale)
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(locale, domain), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        datetime=lambda value: "" if value is None else format_datetime(value, locale),
        date=lambda value: "" if value is None else format_date(value, locale),
        number=lambda value: "" if value is None else format_number(value, locale),
    )
    env.globals["locale"] = locale
    return env
