"""The desk's certificates page in a real browser: every zone's certificate with its expiry, the
one about to expire raised as an alert, and no private key anywhere on the page."""

from __future__ import annotations

import pytest

from tests.browser import ARTIFACTS, CHROMIUM
from tests.certificates.factories import chain
from tests.conftest import Api
from tests.desk.support import DeskClient
from tests.support import active_zone

try:
    from playwright.sync_api import Browser, expect, sync_playwright
except ImportError:  # pragma: no cover - CI installs it with the test extra
    sync_playwright = None  # type: ignore[assignment]


def serve_uploads(api: Api) -> list[bytes]:
    """Two zones with uploaded certificates, one expiring in 5 days; return their keys."""
    keys = []
    for hostname, days in (("shop.example.com", 5), ("gallery.example.org", 90)):
        zone = active_zone(api, hostname)
        made = chain([hostname], now=api.clock(), days=days)
        r = api.as_("agent").post(
            f"/v1/zones/{zone['zone_id']}/certificate",
            json={"certificate": made.pem().decode(), "private_key": made.key().decode()},
        )
        assert r.status_code == 201, r.text
        keys.append(made.key())
    return keys


def key_lines(keys: list[bytes]) -> list[str]:
    return [line for key in keys for line in key.decode().splitlines() if "-----" not in line]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_certificates_page_lists_expiry_and_alerts(api: Api) -> None:
    keys = serve_uploads(api)
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["agent"])
    page = desk.get("/desk/certificates")
    assert page.status_code == 200
    assert 'href="/desk/certificates"' in page.text  # in the navigation
    assert "1 certificate(s) and 0 ACME order(s) need attention: zone 1 (expiring)" in page.text
    assert "PRIVATE KEY" not in page.text and not any(line in page.text for line in key_lines(keys))
    customer = DeskClient(api)
    customer.sign_in_with_key(api.keys["submitter"])
    assert customer.get("/desk/certificates").status_code in (303, 403)


@pytest.mark.skipif(sync_playwright is None, reason="the playwright package is not installed")
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_certificates_page_in_a_browser(api: Api, browser: Browser) -> None:
    keys = serve_uploads(api)
    page = browser.new_page()
    try:
        page.goto(f"{api.url}/desk/")
        page.get_by_label("API key").fill(api.keys["agent"])
        page.get_by_role("button", name="Sign in with the key").click()
        page.get_by_role("link", name="Certificates").click()
        expect(page.get_by_role("heading", name="Certificates", level=1)).to_be_visible()
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("zone 1 (expiring)")
        rows = page.locator("table.certificates tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("shop.example.com")  # the soonest to expire first
        expect(rows.first).to_contain_text("expiring")
        expect(rows.nth(1)).to_contain_text("gallery.example.org")
        expect(rows.nth(1)).to_contain_text("by the customer")
        html = page.content()
        assert "PRIVATE KEY" not in html and not any(line in html for line in key_lines(keys))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "desk-certificates.png"), full_page=True)
    finally:
        page.close()
