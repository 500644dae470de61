"""The dossier page in Chromium: the figures and the timeline chart of a serial site whose host
stays silent, and an agent deciding the serial-infringer review from it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from staydown.config import Settings
from staydown.hosts import service as hosts
from tests.browser import ARTIFACTS, NEEDS_CHROMIUM
from tests.conftest import Api, settings_for
from tests.dnsserver import LocalDnsServer
from tests.edge.harness import ScriptedOrigin, live_zone
from tests.hosts.rdapserver import ABUSE_EMAIL, RdapServer
from tests.support import notice_body

HOST = "serial-manga.example.test"

try:
    from playwright.sync_api import Browser, expect, sync_playwright
except ImportError:  # pragma: no cover - CI installs it with the test extra
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    *NEEDS_CHROMIUM,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
def rdap() -> Iterator[RdapServer]:
    with RdapServer() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, database_url: str, dns: LocalDnsServer, rdap: RdapServer) -> Settings:
    return settings_for(
        tmp_path,
        database_url,
        dns,
        rdap_url=rdap.url,
        serial_review_works=6,
        serial_review_rightsholders=3,
    )


def _notice(api: Api, principal: str, titles: list[str]) -> None:
    slug = principal.lower().replace(" ", "-")
    body = notice_body(
        [],
        submitter={
            "name": f"Agent of {principal}",
            "email": f"notices@{slug}.example",
            "on_behalf_of": principal,
        },
        works=[{"description": t, "reference_urls": [f"https://{slug}.example/{t}"]} for t in titles],
        items=[{"url": f"http://{HOST}/{t}/001.jpg", "work": i} for i, t in enumerate(titles)],
    )
    r = api.as_("trusted_flagger").post("/v1/notices", json=body)
    assert r.status_code == 201, r.text
    hosts.run_forwards(api.database, now=api.clock(), settings=api.settings)


def test_an_agent_reads_the_dossier_and_terminates_from_the_review(api: Api, browser: Browser) -> None:
    with ScriptedOrigin() as origin:
        zone = live_zone(api, origin, HOST)
    _notice(api, "Kodama Books", ["moon-river", "paper-crane"])
    api.clock.advance(days=4)
    _notice(api, "Sakura Comics", ["iron-bloom", "night-train"])
    api.clock.advance(days=6)
    hosts.run_reminders(api.database, now=api.clock(), settings=api.settings)  # the host is reminded
    _notice(api, "Hoshi Press", ["blue-fox", "salt-road"])
    api.clock.advance(days=2)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{api.url}/desk/signin")
    page.get_by_label("API key").fill(api.keys["agent"])
    page.get_by_role("button", name="Sign in with the key").click()
    page.goto(f"{api.url}/desk/customers/{zone['customer_id']}/dossier")
    figures = page.locator("#figures")
    expect(figures).to_contain_text("All sites")
    expect(figures.locator("tbody tr").first).to_contain_text("6")  # works
    expect(page.locator("#host")).to_contain_text(ABUSE_EMAIL)
    expect(page.locator("#host")).to_contain_text("no answer to")
    chart = page.locator("#timeline-chart img")
    expect(chart).to_be_visible()
    assert chart.evaluate("img => img.complete && img.naturalWidth") > 500  # the SVG decoded
    expect(chart).to_have_attribute("alt", re.compile(r"suspension.*review opened"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dossier.png"), full_page=True)

    review = page.locator("article.review").first
    expect(review).to_contain_text("6 distinct works from 3 rightsholders")
    review.get_by_label("Terminate").check()
    review.get_by_label("Reasons").fill(
        "Six works of three publishers in twelve days; the host never answered."
    )
    review.get_by_role("button", name="Decide review").click()
    expect(page.locator(".flash")).to_contain_text("Review decided: terminate")
    expect(page.locator("h1")).to_contain_text("terminated")
    expect(page.locator("#events")).to_contain_text("termination")
    page.screenshot(path=str(ARTIFACTS / "dossier-decided.png"), full_page=True)
    page.close()
    zone_now = api.as_("agent").get(f"/v1/zones/{zone['zone_id']}").json()
    assert zone_now["status"] == "terminated"
