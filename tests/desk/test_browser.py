"""The desk in a real browser (Chromium through Playwright) against the API over a real socket.

An agent opens the overdue notice and actions its items, and the edge then answers 451 for them;
a rightsholder is told which elements a notice lacks; a customer cannot open another customer's
notice. Screenshots of the main pages go to ``tests/artifacts/``.
"""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from staydown.demo.pages import render_page
from tests.browser import ARTIFACTS, NEEDS_CHROMIUM
from tests.conftest import Api
from tests.desk.scenes import jpeg, staydown_scene
from tests.due_process.test_flaggers import award_status
from tests.edge.harness import EdgeThread, Route, ScriptedOrigin
from tests.notices.test_queue import suspend_submitter
from tests.support import active_zone, customer_body, notice_body

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
    from playwright.sync_api import Error as PlaywrightError
except ImportError:  # pragma: no cover - CI installs it with the test extra
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    *NEEDS_CHROMIUM,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "PNG")
    return out.getvalue()


def _zone(api: Api, origin: ScriptedOrigin, hostname: str, name: str) -> dict[str, Any]:
    """A verified customer with an active zone served from ``origin``, and a customer key."""
    agent = api.as_("agent")
    customer = agent.post("/v1/customers", json=customer_body(name)).json()
    agent.post(
        f"/v1/customers/{customer['id']}/verification/decision",
        json={"level": "identity", "reason": "passport checked"},
    ).raise_for_status()
    zone = agent.post(
        "/v1/zones", json={"customer_id": customer["id"], "hostname": hostname, "origin": origin.url}
    ).json()
    challenge = zone["challenge"]
    origin.routes[challenge["http_path"]] = Route(
        challenge["token"].encode(), headers={"Cache-Control": "no-store"}
    )
    assert (
        agent.post(f"/v1/zones/{zone['id']}/validate", json={"method": "http"}).json()["status"] == "active"
    )
    key = (
        api.as_("admin")
        .post("/v1/keys", json={"role": "customer", "customer_id": customer["id"]})
        .json()["key"]
    )
    return {"customer_id": customer["id"], "zone_id": zone["id"], "key": key}


def _sign_in(page: Page, api: Api, key: str) -> None:
    page.goto(f"{api.url}/desk/")
    expect(page).to_have_url(f"{api.url}/desk/signin?next=/desk/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in with the key").click()


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _status(edge: EdgeThread, path: str, host: str) -> int:
    return httpx.get(edge.url + path, headers={"host": host}, timeout=5).status_code


def test_agent_actions_the_overdue_notice_and_the_edge_blocks_it(
    api: Api, browser: Browser, tmp_path: Path
) -> None:
    with ScriptedOrigin() as origin:
        origin.routes["/p/1.png"] = Route(_png((200, 40, 40)), headers={"Content-Type": "image/png"})
        origin.routes["/p/2.png"] = Route(_png((40, 40, 200)), headers={"Content-Type": "image/png"})
        shop = _zone(api, origin, "shop.example", "Shop")
        _zone(api, origin, "other.example", "Other")
        urls = ["http://shop.example/p/1.png", "http://shop.example/p/2.png", "http://shop.example/p/3.png"]
        notice = api.as_("submitter").post("/v1/notices", json=notice_body(urls)).json()
        api.clock.advance(hours=25)  # the first notice is now an hour overdue
        later = api.as_("submitter").post("/v1/notices", json=notice_body(["http://shop.example/p/9.png"]))
        later_id = later.json()["id"]
        with EdgeThread(
            control_plane=api.url, key=api.keys["edge"], data_dir=tmp_path / "edge", settings=api.settings
        ) as edge:
            deadline = time.monotonic() + 10
            while _status(edge, "/p/1.png", "shop.example") != 200:  # the edge has the zone from the feed
                assert time.monotonic() < deadline, "the edge never served the zone"
                time.sleep(0.05)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            _sign_in(page, api, api.keys["agent"])
            expect(page).to_have_url(f"{api.url}/desk/queue")
            overdue = page.locator("tr.row-overdue")
            expect(overdue).to_have_count(1)
            expect(overdue.locator("time.sla")).to_have_text(
                re.compile(r"^overdue by 1h 00m \d\ds$")
            )  # ticking
            expect(page.locator("tr", has_text=f"Notice {later_id}").locator("time.sla")).to_contain_text(
                "left"
            )
            _shot(page, "queue")
            overdue.get_by_role("link", name=f"Notice {notice['id']}").click()
            expect(page.get_by_role("heading", level=1)).to_contain_text(f"Notice {notice['id']}")
            thumbs = page.locator("img.thumb")
            expect(thumbs).to_have_count(3)
            page.wait_for_function(
                "() => [...document.querySelectorAll('img.thumb')]"
                ".every(i => i.complete && i.naturalWidth > 0)"
            )
            _shot(page, "notice")
            page.get_by_label("Select item", exact=False).nth(0).check()
            page.get_by_label("Select item", exact=False).nth(1).check()
            page.get_by_label("Action (block at every edge)").check()
            page.get_by_label("Reason", exact=False).fill("copies of the publisher's pages")
            page.get_by_role("button", name="Apply decision").click()
            expect(page.get_by_role("status")).to_have_text("2 item(s) actioned.")
            expect(page.locator("td .s-actioned")).to_have_count(2)
            deadline = time.monotonic() + 10
            while (
                _status(edge, "/p/1.png", "shop.example") != 451
                or _status(edge, "/p/2.png", "shop.example") != 451
            ):
                assert time.monotonic() < deadline, "the edge never blocked the actioned items"
                time.sleep(0.05)
            assert _status(edge, "/./p/%31.png", "SHOP.example") == 451
            assert _status(edge, "/p/3.png", "shop.example") == 404  # still pending: the origin answers
            page.get_by_role("link", name="Repeat infringers").click()
            expect(page.get_by_role("row", name="Shop")).to_contain_text("1")
            _shot(page, "board")
            page.get_by_role("link", name="Shop", exact=True).click()
            expect(page.get_by_role("heading", name="Strikes")).to_be_visible()
            _shot(page, "customer")
            page.close()
        customer = api.as_("agent").get(f"/v1/customers/{shop['customer_id']}/strikes").json()
        assert customer["active_strikes"] == 1


def test_rightsholder_is_told_which_elements_are_missing(api: Api, browser: Browser) -> None:
    with ScriptedOrigin() as origin:
        _zone(api, origin, "shop.example", "Shop")
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _sign_in(page, api, api.keys["submitter"])
        page.get_by_role("link", name="Submit a notice").click()
        page.get_by_label("Your name").fill("Rights Agent")
        page.get_by_label("E-mail address").fill("agent@rights.example")
        page.get_by_label("Describe the work").fill("Demo Manga, volume 1")
        page.get_by_label("URLs, one per line").fill("http://shop.example/p/1.png")
        missing = page.locator("#missing")
        expect(missing).to_contain_text("512(c)(3)(A)(i) signature")  # named live, before submitting
        page.get_by_label("Signature (type your full name)").fill("Rights Agent")
        expect(missing).not_to_contain_text("512(c)(3)(A)(i) signature")
        expect(missing).to_contain_text("512(c)(3)(A)(v) good-faith statement")
        _shot(page, "submit")
        page.get_by_role("button", name="Submit the notice").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("incomplete")
        section = page.locator("section.missing")
        # An e-mail address is contact information enough (512(c)(3)(A)(iv) "such as").
        expect(section).not_to_contain_text("512(c)(3)(A)(iv) contact information")
        expect(section).to_contain_text("512(c)(3)(A)(vi) accuracy and authority statement")
        expect(section).not_to_contain_text("signature")
        _shot(page, "notice-incomplete")
        page.close()


def test_without_javascript_the_form_still_names_missing_elements(api: Api, browser: Browser) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _sign_in(page, api, api.keys["submitter"])
    page.goto(f"{api.url}/desk/submit")
    page.get_by_label("Which law you rely on").select_option("dsa")
    page.get_by_label("E-mail address").fill("agent@rights.example")
    page.get_by_role("button", name="Check what is missing").click()
    expect(page.locator("#missing")).to_contain_text("DSA Art. 16(2)(a) substantiated explanation")
    expect(page.get_by_label("E-mail address")).to_have_value("agent@rights.example")
    context.close()


def test_customer_cannot_open_another_customers_notice(api: Api, browser: Browser) -> None:
    with ScriptedOrigin() as origin:
        mine = _zone(api, origin, "mine.example", "Mine")
        _zone(api, origin, "theirs.example", "Theirs")
        ours = (
            api.as_("trusted_flagger")
            .post("/v1/notices", json=notice_body(["http://mine.example/a.png"]))
            .json()
        )
        theirs = (
            api.as_("trusted_flagger")
            .post("/v1/notices", json=notice_body(["http://theirs.example/b.png"]))
            .json()
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _sign_in(page, api, mine["key"])
        expect(page).to_have_url(f"{api.url}/desk/account")
        _shot(page, "account")
        page.get_by_role("link", name="Notices").click()
        expect(page.get_by_role("link", name=f"Notice {ours['id']}")).to_be_visible()
        expect(page.get_by_role("link", name=f"Notice {theirs['id']}")).to_have_count(0)
        response = page.goto(f"{api.url}/desk/notices/{theirs['id']}")
        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
        page.goto(f"{api.url}/desk/notices/{ours['id']}")
        expect(page.locator("body")).to_contain_text("agent@rights.example")
        _shot(page, "customer-notice")
        page.get_by_role("link", name="Zones").click()
        _shot(page, "zones")
        page.get_by_role("link", name="Strikes and policy").click()
        published = page.get_by_role("region", name="The published policy")
        expect(published).to_contain_text("repeat-infringer policy")
        _shot(page, "strikes")
        page.close()


def test_customer_files_a_counter_notice(api: Api, browser: Browser) -> None:
    with ScriptedOrigin() as origin:
        mine = _zone(api, origin, "mine.example", "Mine")
        notice = (
            api.as_("trusted_flagger")
            .post("/v1/notices", json=notice_body(["http://mine.example/a.png", "http://mine.example/b.png"]))
            .json()
        )
        assert notice["status"] == "actioned"
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _sign_in(page, api, mine["key"])
        page.goto(f"{api.url}/desk/notices/{notice['id']}")
        page.get_by_role("link", name="File a counter-notice").click()
        expect(page.get_by_label("Name", exact=True)).to_have_value("Mine")  # from the identity record
        page.get_by_label("http://mine.example/b.png").uncheck()
        page.get_by_label("Explanation").fill("These pages are my own drawings.")
        page.get_by_label("Under penalty of perjury", exact=False).check()
        page.get_by_label("I consent to the jurisdiction", exact=False).check()
        page.get_by_label("I will accept service", exact=False).check()
        page.get_by_label("(A) Signature (type your full name)").fill("Mine Owner")
        _shot(page, "counter-notice")
        page.get_by_role("button", name="File the counter-notice").click()
        expect(page.get_by_role("status")).to_contain_text("forwarded to the complainant")
        expect(page.get_by_role("status")).to_contain_text("restored on")
        page.close()
    items = api.as_("agent").get(f"/v1/notices/{notice['id']}").json()["items"]
    assert [i["status"] for i in items] == ["counter_noticed", "actioned"]


def _loaded(page: Page, selector: str) -> None:
    page.wait_for_function(
        f"() => [...document.querySelectorAll({selector!r})].every(i => i.complete && i.naturalWidth > 0)"
    )


def test_legal_user_records_decides_and_downloads_an_order(api: Api, browser: Browser) -> None:
    customer = api.as_("agent").post("/v1/customers", json=customer_body("Pirate Site")).json()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, api, api.keys["legal"])
    expect(page).to_have_url(f"{api.url}/desk/legal")
    page.get_by_role("link", name="Record a new order").click()
    page.get_by_label("Customer number").fill(str(customer["id"]))
    page.get_by_label("Court or authority").fill("Tokyo District Court")
    page.get_by_label("Case number").fill("R8 (wa) 123")
    page.get_by_label("Jurisdiction").fill("JP")
    page.get_by_label("Legal basis", exact=True).select_option("jp_disclosure_order")
    page.get_by_label("Name", exact=True).check()
    page.get_by_label("E-mail", exact=True).check()
    page.get_by_label("Sign-up IP address and time").check()
    page.get_by_label("Deadline to answer").fill("2026-12-01T17:00")
    page.get_by_label("Time zone of these times").select_option("+09:00")
    _shot(page, "legal-order-new")
    page.get_by_role("button", name="Record the order").click()
    expect(page.get_by_role("status")).to_contain_text("recorded")
    expect(page.get_by_role("heading", level=1)).to_contain_text("received")
    expect(page.locator("body")).to_contain_text("2026-12-01 08:00 UTC")
    page.get_by_label("Partially comply", exact=False).check()
    page.locator("fieldset.scope").get_by_label("Name", exact=True).check()
    page.locator("fieldset.scope").get_by_label("E-mail", exact=True).check()
    page.get_by_label("Reason (recorded in the audit log)").fill("the sign-up IP is not needed for the claim")
    page.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("partially complied")
    _shot(page, "legal-order")
    with page.expect_download() as downloaded:
        page.get_by_role("link", name="Download the package (JSON)").click()
    package = json.loads(Path(downloaded.value.path()).read_text())
    assert set(package["identity"]) == {"name", "email"} and package["withheld"] == ["signup_ip"]
    order_id = package["order"]["id"]
    page.get_by_role("link", name="Disclosure orders").click()
    expect(page.get_by_role("link", name=f"Order {order_id}")).to_be_visible()
    _shot(page, "legal-orders")
    page.get_by_role("link", name="Legal holds").click()
    expect(page.get_by_role("button", name=re.compile(r"Release hold \d+"))).to_have_count(1)
    _shot(page, "legal-holds")
    page.get_by_role("link", name="Transparency").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Transparency report")
    _report_is_part_of_the_page(page)
    _shot(page, "transparency")
    page.close()

    agent = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(agent, api, api.keys["agent"])
    expect(agent.get_by_role("link", name="Disclosure orders")).to_have_count(0)
    response = agent.goto(f"{api.url}/desk/legal/orders/{order_id}")
    assert response is not None and response.status == 404
    expect(agent.get_by_role("heading", level=1)).to_have_text("Not found")
    response = agent.goto(f"{api.url}/desk/legal/orders/{order_id}/package.json")
    assert response is not None and response.status == 404
    agent.close()
    trail = api.as_("legal").get(f"/v1/audit/disclosure_order/{order_id}").json()
    assert [e["action"] for e in trail].count("disclosure.package_downloaded") == 1


def _report_is_part_of_the_page(page: Page) -> None:
    """The transparency report sits in the page itself, whole: no frame, no inner scrolling."""
    expect(page.locator("iframe")).to_have_count(0)
    report = page.get_by_role("region", name=re.compile("^Transparency report from"))
    expect(report.get_by_role("heading", name="Notices")).to_be_visible()
    expect(report.get_by_role("img", name=re.compile("^Notices by time from receipt"))).to_be_visible()
    expect(report.get_by_role("img", name=re.compile("^Notices received per day"))).to_be_visible()
    last = report.get_by_role("heading", name="Disclosure orders")
    last.scroll_into_view_if_needed()
    expect(last).to_be_in_viewport()
    clipped = report.evaluate("e => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1")
    assert not clipped


def test_transparency_report_is_read_in_the_page(api: Api, browser: Browser) -> None:
    active_zone(api, "report.example")
    api.as_("trusted_flagger").post("/v1/notices", json=notice_body(["http://report.example/a.jpg"]))
    page = browser.new_page(viewport={"width": 1280, "height": 700})
    _sign_in(page, api, api.keys["legal"])
    page.goto(f"{api.url}/desk/transparency?from=2026-11-01&to=2026-11-30")
    expect(page.get_by_role("heading", level=1)).to_have_text("Transparency report")
    _report_is_part_of_the_page(page)
    assert page.evaluate("document.documentElement.scrollHeight") > 700  # longer than the window
    _shot(page, "transparency-inline")
    page.close()


def test_a_decision_over_3000_items_shows_its_progress(api: Api, browser: Browser) -> None:
    active_zone(api, "bulk.example")
    urls = [f"http://bulk.example/scan-{i}.jpg" for i in range(3000)]
    notice = api.as_("submitter").post("/v1/notices", json=notice_body(urls)).json()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _sign_in(page, api, api.keys["agent"])
    page.goto(f"{api.url}/desk/notices/{notice['id']}")
    page.get_by_label("every pending item of this notice (3,000)").check()
    page.get_by_label("Action (block at every edge)").check()
    page.get_by_label("Reason (recorded in the audit trail").fill("every page scans the publisher's book")
    started = time.monotonic()
    page.get_by_role("button", name="Apply decision").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Decision on notice {notice['id']}")
    answered = time.monotonic() - started
    progress = page.get_by_label("Actioning 3000 item(s)")
    expect(progress).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("of 3000 item(s) done")
    seen: set[int] = set()
    deadline = time.monotonic() + 180
    while "/decisions/" in page.url and time.monotonic() < deadline:
        try:
            value = page.evaluate("() => document.querySelector('progress')?.value ?? null")
        except PlaywrightError:  # the page is being replaced by the notice's
            break
        if value is not None:
            if 0 < value < 3000 and not seen - {0}:
                _shot(page, "decision-progress")  # part of the way
            seen.add(int(value))
        page.wait_for_timeout(100)
    # The script follows the job to its end and brings the agent back to the notice.
    expect(page).to_have_url(f"{api.url}/desk/notices/{notice['id']}", timeout=180_000)
    expect(page.get_by_role("status")).to_contain_text("3000 item(s) actioned.")
    page.screenshot(path=str(ARTIFACTS / "decision-done.png"))  # the top: the notice and its message
    page.close()
    assert answered < 10, answered  # the request answered at once; the work went on behind it
    assert len(seen - {0, 3000}) >= 1, seen  # progress was seen between start and end
    view = api.as_("agent").get(f"/v1/notices/{notice['id']}").json()
    assert view["status"] == "actioned"


def test_agent_confirms_a_pending_review_match(api: Api, browser: Browser) -> None:
    with ScriptedOrigin() as origin:
        scene = staydown_scene(api, origin)
        match_id = scene["review"]["id"]
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _sign_in(page, api, api.keys["agent"])
        page.get_by_role("link", name="Stay-down matches").click()
        card = page.get_by_role("article", name=f"Match {match_id}")
        expect(card).to_contain_text("pending review")
        expect(card).to_contain_text("PDQ distance 40 of 256")
        expect(card.get_by_role("img", name="Original: noticed item", exact=False)).to_be_visible()
        expect(card.get_by_role("img", name="Copy found at", exact=False)).to_be_visible()
        _loaded(page, "article.match img")
        _shot(page, "matches")
        page.set_viewport_size({"width": 390, "height": 844})
        _shot(page, "matches-narrow")
        page.set_viewport_size({"width": 1280, "height": 900})
        card.get_by_label(f"Reason for match {match_id}").fill("the same page, slightly rotated")
        card.get_by_role("button", name="Confirm (block)").click()
        expect(page.get_by_role("status")).to_have_text(f"Match {match_id} confirmed.")
        card = page.get_by_role("article", name=f"Match {match_id}")
        expect(card.locator(".badge")).to_have_text("confirmed")
        expect(card).to_contain_text("the same page, slightly rotated")
        _shot(page, "matches-confirmed")
        page.goto(f"{api.url}/desk/notices/{scene['notice']['id']}")
        expect(page.get_by_role("heading", name="Stay-down")).to_be_visible()
        _loaded(page, "img.thumb")
        _shot(page, "notice-staydown")
        page.close()
    read = api.as_("agent").get(f"/v1/staydown/matches/{match_id}").json()
    assert read["status"] == "confirmed"


def test_rightsholder_registers_a_work(api: Api, browser: Browser, tmp_path: Path) -> None:
    files = []
    for number in (71, 72):
        path = tmp_path / f"page-{number}.jpg"
        path.write_bytes(jpeg(render_page(number)))
        files.append(path)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(files[0].read_bytes()[:500])
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, api, api.keys["submitter"])
    page.get_by_role("link", name="Works").click()
    page.get_by_label("Describe the work").fill("Demo Manga, chapter 12, pages 1-2")
    page.get_by_label("Reference images").set_input_files([*files, broken])
    page.get_by_role("button", name="Register the work").click()
    expect(page.get_by_role("alert")).to_contain_text("broken.jpg")
    expect(page.get_by_label("Describe the work")).to_have_value("Demo Manga, chapter 12, pages 1-2")
    _shot(page, "works-refused")
    page.get_by_label("Reference images").set_input_files(files)
    page.get_by_role("button", name="Register the work").click()
    expect(page.get_by_role("status")).to_contain_text("2 reference image(s)")
    expect(page.get_by_role("table").first).to_contain_text("page-71.jpg")
    _shot(page, "work")
    page.get_by_role("link", name="Works").click()
    expect(page.get_by_role("link", name=re.compile(r"^Work \d+$"))).to_have_count(1)
    _shot(page, "works")
    page.close()


def test_agent_sees_the_coordinators_award_and_the_sanctioned_queue(api: Api, browser: Browser) -> None:
    active_zone(api, "queue.example.test")
    award_status(api, "trusted_flagger")
    suspend_submitter(api)
    sanctioned = (
        api.as_("submitter")
        .post("/v1/notices", json=notice_body(["http://queue.example.test/dmca.jpg"]))
        .json()
    )
    api.clock.advance(hours=1)
    flagged = (
        api.as_("trusted_flagger")
        .post("/v1/notices", json=notice_body(["http://queue.example.test/eu.jpg"], regime="dsa"))
        .json()
    )
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, api, api.keys["agent"])
    page.goto(f"{api.url}/desk/queue")
    rows = page.locator("table.list tbody tr")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    first = next(i for i, t in enumerate(texts) if f"Notice {flagged['id']}" in t)
    last = next(i for i, t in enumerate(texts) if f"Notice {sanctioned['id']}" in t)
    assert first < last and "lower priority" in texts[last]
    _shot(page, "queue-sanctioned")
    page.get_by_role("link", name=f"Notice {flagged['id']}", exact=True).click()
    award = page.locator("dd.award")
    expect(award).to_contain_text("Digital Services Coordinator of DE (Bundesnetzagentur)")
    expect(award).to_contain_text("priority review")
    _shot(page, "notice-trusted-flagger-award")
    page.get_by_role("link", name="Trusted flaggers").click()
    expect(page.locator("table.awards tbody tr")).to_have_count(1)
    expect(page.locator("table.awards")).to_contain_text("DSC-DE-TF-2026-017")
    _shot(page, "trusted-flaggers")


def test_customer_sees_and_contests_a_stay_down_block(api: Api, browser: Browser) -> None:
    from staydown.fingerprints import service as fingerprints

    with ScriptedOrigin() as origin:
        mine = _zone(api, origin, "copies.example", "Copies")
        origin.routes["/a.jpg"] = Route(
            jpeg(render_page(61)), headers={"Content-Type": "image/jpeg", "Cache-Control": "max-age=60"}
        )
        notice = api.as_("trusted_flagger").post(
            "/v1/notices", json=notice_body(["http://copies.example/a.jpg"])
        )
        assert notice.json()["status"] == "actioned"
        fingerprints.run_captures(api.database, now=api.clock(), settings=api.settings)
        records = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["records"]
        entry = next(r for r in records if r["kind"] == "hash_add")
        match = api.as_("edge").post(
            "/v1/edge/matches",
            json={
                "entry_id": entry["entry_id"],
                "zone_id": mine["zone_id"],
                "target": "/gallery/copy.jpg",
                "url": "http://copies.example/gallery/copy.jpg",
                "distance": 0,
                "copy_sha256": "ef" * 32,
            },
        )
        assert match.status_code == 201, match.text
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        _sign_in(page, api, mine["key"])
        page.get_by_role("link", name="Restrictions").click()
        copy = page.get_by_role("region", name="Blocked as a copy of noticed content (stay-down)")
        expect(copy).to_contain_text("http://copies.example/gallery/copy.jpg")
        expect(copy).to_contain_text("stay-down match")
        expect(page.get_by_role("region", name="Blocked under a notice")).to_contain_text(
            "http://copies.example/a.jpg"
        )
        expect(page.get_by_role("link", name="File a counter-notice")).to_be_visible()
        copy.get_by_label("Why this restriction is wrong").fill("This photograph is my own.")
        _shot(page, "restrictions")
        copy.get_by_role("button", name="Lodge a complaint").click()
        expect(page.get_by_role("status")).to_contain_text("lodged; a different person will decide it")
        page.close()
    complaints = api.as_("agent").get("/v1/complaints").json()
    assert [(c["subject"], c["match_id"]) for c in complaints] == [("staydown_match", match.json()["id"])]


def test_notifier_completes_an_incomplete_notice_in_the_desk(api: Api, browser: Browser) -> None:
    active_zone(api, "incomplete.example.test")
    body = notice_body(
        ["http://incomplete.example.test/p1.jpg"],
        statements={"good_faith": False, "accurate": False, "authorized": False},
        signature=None,
    )
    notice = api.as_("submitter").post("/v1/notices", json=body).json()
    assert notice["status"] == "incomplete", notice
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    _sign_in(page, api, api.keys["submitter"])
    page.goto(f"{api.url}/desk/notices/{notice['id']}")
    page.get_by_role("link", name="Supply the missing elements").click()
    missing = page.get_by_role("region", name="Missing")
    expect(missing).to_contain_text("ignature")
    page.get_by_label("I believe in good faith", exact=False).check()
    page.get_by_label("The information in this notice is accurate", exact=False).check()
    page.get_by_label("Under penalty of perjury", exact=False).check()
    page.get_by_label("Signature (type your full name)").fill("Rights Agent")
    _shot(page, "supplement")
    page.get_by_role("button", name="Send the missing elements").click()
    expect(page.get_by_role("status")).to_contain_text(f"Notice {notice['id']} is complete")
    page.close()
    after = api.as_("submitter").get(f"/v1/notices/{notice['id']}").json()
    assert after["status"] != "incomplete" and after["missing_elements"] == []
    # Another notifier cannot open the form; a complete notice has nothing to supply.
    other = browser.new_page()
    _sign_in(other, api, api.keys["trusted_flagger"])
    other.goto(f"{api.url}/desk/notices/{notice['id']}/supplement")
    expect(other.get_by_role("heading", level=1)).to_have_text("Not found")
    other.close()
