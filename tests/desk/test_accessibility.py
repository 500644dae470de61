"""Every desk page passes axe-core (in Chromium) with no serious or critical violation: labels,
contrast, landmarks, names of links and buttons, for every role that signs in."""

from __future__ import annotations

from typing import Any

import pytest

from staydown.desk import decisions
from tests.browser import CHROMIUM
from tests.conftest import Api
from tests.support import active_zone, notice_body

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - CI installs them with the test extra
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="playwright or axe-playwright-python missing"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]
SEVERE = ("serious", "critical")


def _sign_in(page: Page, api: Api, key: str) -> None:
    page.goto(f"{api.url}/desk/signin")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in with the key").click()
    page.wait_for_url(f"{api.url}/desk/**")


def _severe(page: Page) -> list[dict[str, Any]]:
    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in SEVERE:
            nodes = [node.get("target") for node in violation.get("nodes", [])[:3]]
            found.append({"id": violation["id"], "impact": violation["impact"], "nodes": nodes})
    return found


def _pages_of(page: Page, api: Api) -> list[str]:
    links = page.locator("header nav a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    return [f"{api.url}{href}" for href in links if href]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_desk_page_has_no_serious_accessibility_violation(api: Api, browser: Browser) -> None:
    zone = active_zone(api, "axe.example.test")
    notice = api.as_("trusted_flagger").post(
        "/v1/notices", json=notice_body(["http://axe.example.test/a.jpg"])
    )
    assert notice.status_code == 201
    customer_key = (
        api.as_("admin")
        .post("/v1/keys", json={"role": "customer", "customer_id": zone["customer_id"], "name": "Axe shop"})
        .json()["key"]
    )
    job = decisions.create(
        api.database,
        notice.json()["id"],
        [item["id"] for item in notice.json()["items"]],
        verdict="action",
        reason="copies",
        actor="key:1",
        now=api.clock.now,
    )
    extra = {
        "agent": [
            f"/desk/notices/{notice.json()['id']}",
            f"/desk/customers/{zone['customer_id']}",
            f"/desk/decisions/{job}",
        ],
        "customer": [f"/desk/notices/{notice.json()['id']}"],
        "submitter": ["/desk/submit/bulk"],
    }
    keys = {
        "agent": api.keys["agent"],
        "admin": api.keys["admin"],
        "legal": api.keys["legal"],
        "submitter": api.keys["submitter"],
        "customer": customer_key,
    }
    problems: dict[str, list[dict[str, Any]]] = {}
    visited = 0
    for role, key in keys.items():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        _sign_in(page, api, key)
        for url in [*_pages_of(page, api), *(f"{api.url}{path}" for path in extra.get(role, []))]:
            page.goto(url)
            visited += 1
            severe = _severe(page)
            if severe:
                problems[f"{role} {url.removeprefix(api.url)}"] = severe
        context.close()
    page = browser.new_page()
    for path in ("/desk/signin", "/"):
        page.goto(f"{api.url}{path}")
        visited += 1
        if severe := _severe(page):
            problems[f"anonymous {path}"] = severe
    page.close()
    assert visited > 20
    assert problems == {}


def test_the_check_finds_what_it_looks_for(browser: Browser) -> None:
    page = browser.new_page()
    page.set_content(
        '<html><body><main><input type="text"><p style="color:#eee;background:#fff">faint</p>'
        "<button></button></main></body></html>"
    )
    found = {violation["id"] for violation in _severe(page)}
    page.close()
    assert {"label", "button-name"} <= found
