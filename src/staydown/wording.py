"""The words of letters, the published policy and the legal explanations in one reader's language.

Every text that leaves staydown for a person outside the desk (a letter to a notifier, a customer
or a host; the repeat-infringer policy; what a notice's legal elements mean) is written as an
English message id, marked ``_("...")`` so that the ``letters`` catalog is extracted from it, and
rendered with ``Words(locale)``: the ``%(name)s`` placeholders are filled after translation, dates
and numbers are written the way a reader of the locale writes them.

Which locale: a letter goes out in its recipient's language (``recipient_locale``), everything
else in the language the request asks for.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

from staydown.i18n import LOCALES, format_date, format_datetime, format_number, translations

DOMAIN: Final = "letters"


def mark(message: str) -> str:
    """Mark a message for extraction where it is only stored (translated where it is shown); import
    it as ``_`` so that the extractor finds it."""
    return message


class Words:
    """The ``letters`` catalog in one locale: ``words("Notice #%(id)s", id=7)``."""

    __slots__ = ("_gettext", "locale")

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._gettext = translations(locale, DOMAIN).gettext

    def __call__(self, message: str, /, **params: object) -> str:
        text = self._gettext(message)
        return text % params if params else text

    def when(self, moment: datetime) -> str:
        """An instant as the reader reads it (in UTC, saying so)."""
        return format_datetime(moment, self.locale)

    def day(self, value: date) -> str:
        return format_date(value, self.locale)

    def number(self, value: int | float) -> str:
        return format_number(value, self.locale)

    def join(self, parts: list[str]) -> str:
        """Items of a sentence's list: ``a, b`` in English, ``a、b`` in Japanese."""
        return ("、" if self.locale == "ja" else ", ").join(parts)


def recipient_locale(stated: str | None, default: str) -> str:
    """The language of a letter: the one the recipient stated, else the configured default."""
    return stated if stated in LOCALES else default
