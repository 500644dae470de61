"""Which language the desk speaks, over HTTP, with a Japanese operator's default (``ja``).

The reader's own setting wins, then their browser's ``Accept-Language``, then the default; the
page says which (``<html lang>``, ``Content-Language``).
"""

from __future__ import annotations

import re

import pytest

from staydown.config import Settings
from tests.conftest import Api
from tests.desk.support import DeskClient


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"default_locale": "ja"})


def _lang(page: str) -> str:
    found = re.search(r'<html lang="([a-z]+)">', page)
    assert found is not None
    return found.group(1)


def test_setting_then_browser_then_default(api: Api) -> None:
    desk = DeskClient(api)
    signin = desk.get("/desk/signin")
    assert _lang(signin.text) == "ja" and signin.headers["content-language"] == "ja"  # the default
    assert "権利侵害対応窓口にサインイン" in signin.text
    english = desk.get("/desk/signin", headers={"accept-language": "en-US,en;q=0.9"})
    assert _lang(english.text) == "en" and "Sign in to the abuse desk" in english.text
    assert _lang(desk.get("/desk/signin", headers={"accept-language": "en;q=x"}).text) == "ja"  # malformed

    desk.sign_in_with_key(api.keys["agent"])
    saved = desk.post("/desk/settings", {"locale": "en"}, headers={"accept-language": "ja"})
    assert saved.status_code == 303
    queue = desk.get("/desk/queue", headers={"accept-language": "ja"})
    assert _lang(queue.text) == "en" and "<h1>Review queue</h1>" in queue.text  # the setting wins
    settings_page = desk.get("/desk/settings")
    assert re.search(r'<option value="en" lang="en" selected>English</option>', settings_page.text)

    refused = desk.post("/desk/settings", {"locale": "fr"})
    assert refused.status_code == 422 and "the desk speaks en, ja, not &#39;fr&#39;" in refused.text

    desk.post("/desk/settings", {"locale": ""})  # back to the browser's choice
    assert _lang(desk.get("/desk/queue", headers={"accept-language": "en"}).text) == "en"
    assert "<h1>審査キュー</h1>" in desk.get("/desk/queue").text
    report = desk.get("/desk/transparency/report.html", params={"from": "2020-01-01", "to": "2020-12-31"})
    assert _lang(report.text) == "ja" and "<th>通知の総数</th>" in report.text  # the framed report too
