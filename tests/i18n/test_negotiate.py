"""Which language a reader gets, and how dates and numbers read in it (pure functions)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import Environment

from staydown import i18n
from staydown.config import Settings


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ja", "ja"),
        ("ja-JP", "ja"),
        ("JA-jp", "ja"),
        ("ja-JP,ja;q=0.9,en-US;q=0.8,en;q=0.7", "ja"),  # Chrome in Japanese
        ("en-US,en;q=0.9,ja;q=0.8", "en"),
        ("en;q=0.5, ja;q=0.8", "ja"),
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "en"),
        ("fr, de", "en"),  # nothing staydown speaks: the default
        ("de, *;q=0.1", "en"),  # the wildcard: the default first
        ("*, en;q=0", "ja"),  # English refused
        ("ja;q=0, *", "en"),
        ("ja;q=0", "en"),
        ("ja;q=1.000", "ja"),
        ("en;q=0.5, ja;q=0.5", "en"),  # a tie: the first named
        ("ja;q=0.5, en;q=0.5", "ja"),
        ("ja-JP;q=0.2, ja;q=0.9, en;q=0.5", "ja"),  # the best range for a locale counts
        (",, ja ,", "ja"),  # empty elements are allowed
        ("", "en"),
        (None, "en"),
    ],
)
def test_accept_language(header: str | None, expected: str) -> None:
    assert i18n.negotiate(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        "ja;q=2",
        "ja;q=0.5555",
        "ja;q=",
        "ja;level=1",
        "ja_JP",
        "日本語",
        "ja-",
        "toolonglanguage",
        "ja;q=0.9 en",
        ";q=0.9",
        "ja," * 40,  # more ranges than are read
        "ja-" + "a" * 2000,
    ],
)
def test_malformed_header_gives_the_default(header: str) -> None:
    assert i18n.negotiate(header) == "en"
    assert i18n.negotiate(header, default="ja") == "ja"


def test_the_readers_setting_wins() -> None:
    assert i18n.negotiate("en", preferred="ja") == "ja"
    assert i18n.negotiate("ja", preferred="en") == "en"
    assert i18n.negotiate("ja", preferred="fr") == "ja"  # not a locale staydown speaks: ignored
    assert i18n.negotiate(None, preferred=None, default="ja") == "ja"


def test_unknown_default_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown locale"):
        i18n.negotiate(None, default="fr")


def test_default_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAYDOWN_DEFAULT_LOCALE", "ja")
    assert Settings().default_locale == "ja"
    monkeypatch.setenv("STAYDOWN_DEFAULT_LOCALE", "fr")
    with pytest.raises(ValueError, match="default_locale"):
        Settings()


@given(st.text(max_size=300))
def test_any_header_gives_a_locale(header: str) -> None:
    assert i18n.negotiate(header) in i18n.LOCALES


def test_long_headers_take_linear_time() -> None:
    # A header at the length limit made of the worst elements parses as fast as a short one scaled.
    worst = ("a-" * 500)[: i18n.MAX_ACCEPT_LANGUAGE]
    started = time.perf_counter()
    for _ in range(200):
        i18n.negotiate(worst)
        i18n.negotiate("x" * 1_000_000)
    assert time.perf_counter() - started < 2.0


def test_formats_per_locale() -> None:
    moment = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert i18n.format_datetime(moment, "en") == "2026-12-01 08:00 UTC"
    assert i18n.format_datetime(moment, "ja") == "2026年12月1日 8:00 UTC"
    tokyo = moment.astimezone(timezone(timedelta(hours=9)))
    assert i18n.format_datetime(tokyo, "ja") == "2026年12月1日 8:00 UTC"
    assert i18n.format_date(date(2026, 12, 15), "en") == "2026-12-15 (Tue)"
    assert i18n.format_date(date(2026, 12, 15), "ja") == "2026年12月15日(火)"
    assert i18n.format_number(3000, "en") == "3,000"
    assert i18n.format_number(3000, "ja") == "3,000"
    assert i18n.format_number(0.5, "en") == "0.5"


def test_messages_render_in_the_readers_language() -> None:
    message = i18n._("Signed out.")
    assert str(message) == "Signed out."
    assert message.render("en", "desk") == "Signed out."
    assert message.render("ja", "desk") == "サインアウトしました。"
    assert i18n.render_text("as is", "ja", "desk") == "as is"


def test_a_jinja_environment_renders_in_a_locale() -> None:
    japanese = i18n.jinja_env_install(Environment(autoescape=True), "ja", "desk")
    english = i18n.jinja_env_install(Environment(autoescape=True), "en", "desk")
    source = "{% trans %}Signed out.{% endtrans %} {{ when|datetime }} {{ 1234|number }} {{ locale }}"
    moment = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert (
        japanese.from_string(source).render(when=moment)
        == "サインアウトしました。 2026年12月1日 8:00 UTC 1,234 ja"
    )
    assert english.from_string(source).render(when=moment) == "Signed out. 2026-12-01 08:00 UTC 1,234 en"


def test_translations_are_cached_and_unknown_locales_refused() -> None:
    assert i18n.translations("ja", "desk") is i18n.translations("ja", "desk")
    with pytest.raises(ValueError, match="unknown locale"):
        i18n.translations("fr", "desk")
