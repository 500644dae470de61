"""The desk in Japanese and English, in Chromium: the reader's setting, else the browser's language.

An agent whose browser speaks English chooses Japanese on the Settings page and from then on reads
the desk in Japanese (dates written 年月日), whatever the browser says; a submitter whose browser
asks for Japanese gets it without a setting; a reader whose browser asks for English gets English.
A screenshot of a Japanese page goes to ``tests/artifacts/desk-ja.png``.
"""

from __future__ import annotations

import re

import pytest

from tests.browser import ARTIFACTS, NEEDS_CHROMIUM
from tests.conftest import Api
from tests.support import active_zone, notice_body

try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - CI installs it with the test extra
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    *NEEDS_CHROMIUM,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def _context(browser: Browser, language: str) -> BrowserContext:
    """A browser whose ``Accept-Language`` is ``language`` (as Chromium set to that language sends)."""
    return browser.new_context(locale=language, extra_http_headers={"Accept-Language": language})


def _sign_in(page: Page, api: Api, key: str, *, field: str, button: str) -> None:
    page.goto(f"{api.url}/desk/")
    page.get_by_label(field, exact=True).fill(key)
    page.get_by_role("button", name=button).click()


def test_desk_speaks_the_readers_language(api: Api, browser: Browser) -> None:
    active_zone(api, "manga.example")
    api.as_("submitter").post(
        "/v1/notices", json=notice_body(["http://manga.example/a.png"])
    ).raise_for_status()

    # An agent with an English browser reads English, then chooses Japanese for themselves.
    english = _context(browser, "en-US")
    page = english.new_page()
    _sign_in(page, api, api.keys["agent"], field="API key", button="Sign in with the key")
    expect(page.locator("h1")).to_have_text("Review queue")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto(f"{api.url}/desk/settings")
    page.get_by_label("Language of the desk").select_option("ja")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_have_text("設定を保存しました。")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.get_by_role("navigation", name="メイン").get_by_role("link", name="審査キュー").click()
    expect(page.locator("h1")).to_have_text("審査キュー")
    received = page.locator("table.list tbody tr td").nth(2)
    expect(received).to_have_text(re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日 \d{1,2}:\d{2} UTC$"))
    expect(page.locator("time.sla")).to_have_text(re.compile(r"^残り \d+日\d+時間$"))  # the live clock too
    expect(page.get_by_role("button", name="サインアウト")).to_be_visible()
    page.goto(f"{api.url}/desk/notices/999999")  # an error page speaks Japanese too
    expect(page.locator("h1")).to_have_text("見つかりません")
    expect(page.locator(".error-message")).to_have_text("通知 999999 は存在しません")
    page.goto(f"{api.url}/desk/board")
    expect(page.locator("h1")).to_have_text("反復侵害者")
    page.goto(f"{api.url}/desk/queue")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "desk-ja.png"), full_page=True)
    body = page.locator("main").inner_text()
    assert "Review queue" not in body and "pending review" not in body
    english.close()

    # A submitter whose browser asks for Japanese gets it, from the sign-in page on, with no setting.
    japanese = _context(browser, "ja-JP")
    page = japanese.new_page()
    page.goto(f"{api.url}/desk/")
    expect(page.locator("h1")).to_have_text("権利侵害対応窓口にサインイン")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    _sign_in(page, api, api.keys["submitter"], field="APIキー", button="キーでサインイン")
    expect(page.locator("h1")).to_have_text("自分の通知")
    expect(page.get_by_role("link", name="通知を提出", exact=True)).to_be_visible()
    expect(page.locator("table.list caption")).to_have_text("提出した通知 1 件")
    expect(page.locator("table.list .badge").first).to_have_text(re.compile("審査待ち|受理済み|不備あり"))
    japanese.close()

    # Another reader whose browser asks for English reads English, and the agent's setting is theirs.
    other = _context(browser, "en-GB")
    page = other.new_page()
    _sign_in(page, api, api.keys["legal"], field="API key", button="Sign in with the key")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Disclosure orders")
    other.close()
