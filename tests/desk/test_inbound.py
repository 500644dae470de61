"""The mail triage queue in a real browser (Chromium through Playwright): an agent turns a letter
that named no URL into a notice from the pre-filled form, and answers another; screenshots go to
``tests/artifacts/``."""

from __future__ import annotations

import httpx
import pytest

from tests.browser import ARTIFACTS, NEEDS_CHROMIUM
from tests.conftest import Api
from tests.inbound import samples

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - CI installs it with the test extra
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    *NEEDS_CHROMIUM,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

LETTER = """Dear abuse team,

Your customer publishes scans of our manga on the site named in the subject, chapter one onwards.

Work: Demo Manga, volume 1
I have a good faith belief that this use is not authorized by the copyright owner, its agent, or the law.
Under penalty of perjury, the information in this notice is accurate and I am authorized to act on
behalf of the owner.
Address: 2-1 Otemachi, Tokyo
Phone: +81 3 1111 2222

Sincerely,
Rights Agent
"""


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _gateway(api: Api, raw: bytes) -> dict[str, object]:
    key = api.as_("admin").post("/v1/keys", json={"role": "mail_gateway"}).json()["key"]
    r = httpx.post(
        f"{api.url}/v1/inbound", content=raw, headers={"authorization": f"Bearer {key}"}, timeout=30
    )
    assert r.status_code == 202, r.text
    body: dict[str, object] = r.json()
    return body


def test_agent_makes_a_notice_from_a_letter_and_answers_another(api: Api, browser: Browser) -> None:
    letter = _gateway(
        api, samples.message(LETTER, sender="Rights Agent <agent@rights.example>", subject="manga copies")
    )
    question = _gateway(api, samples.message("Do you take notices by fax?", sender="q@pub.example"))
    assert letter["status"] == question["status"] == "triage"
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(f"{api.url}/desk/")
    page.get_by_label("API key").fill(api.keys["agent"])
    page.get_by_role("button", name="Sign in with the key").click()
    page.get_by_role("link", name="Mail triage").click()
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_text("names no URL").first).to_be_visible()
    _shot(page, "inbound_queue")
    page.get_by_role("link", name=f"Message {letter['id']}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Inbound message {letter['id']}")
    # Filled in from the letter: who wrote it, the work, the statements, the signature.
    expect(page.get_by_label("E-mail address")).to_have_value("agent@rights.example")
    expect(page.get_by_label("Postal address")).to_have_value("2-1 Otemachi, Tokyo")
    expect(page.get_by_label("The work infringed")).to_have_value("Demo Manga, volume 1")
    expect(page.get_by_label("Signature")).to_have_value("Rights Agent")
    for statement in ("good_faith", "accurate", "authorized"):
        expect(page.locator(f"#{statement}")).to_be_checked()
    page.get_by_label("URLs, one per line").fill("http://manga.demo.test/chapter-1/page-01.jpg")
    _shot(page, "inbound_message")
    page.get_by_role("button", name="Make the notice").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Notice ")
    notice_id = int(page.url.rsplit("/", 1)[1])
    notice = api.as_("agent").get(f"/v1/notices/{notice_id}").json()
    assert notice["submitter"]["email"] == "agent@rights.example"
    assert notice["items"][0]["url"] == "http://manga.demo.test/chapter-1/page-01.jpg"
    assert notice["missing_elements"] == []
    page.goto(f"{api.url}/desk/inbound/{question['id']}")
    page.get_by_role("textbox", name="Answer").fill(
        "We take notices by e-mail at this address, or at /desk/submit."
    )
    page.get_by_role("button", name="Send the answer").click()
    expect(page.get_by_text(f"Inbound message {question['id']} answered.")).to_be_visible()
    expect(page.get_by_text("Nothing to read.")).to_be_visible()
    _shot(page, "inbound_answered")
    made = api.as_("agent").get(f"/v1/inbound/{letter['id']}").json()
    assert made["status"] == "notice" and made["notice_id"] == notice_id
    answers = [m for m in api.as_("agent").get("/v1/outbox").json() if m["kind"] == "inbound_answer"]
    assert [m["recipient"] for m in answers] == ["q@pub.example"]
    page.close()
