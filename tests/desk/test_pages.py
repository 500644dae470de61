"""The desk's pages over HTTP: the same workflow, enforcement and audit as the API, and no peeking."""

from __future__ import annotations

import re

from tests.conftest import Api
from tests.desk.support import DeskClient
from tests.support import ChallengeOrigin, active_zone, customer_body, notice_body


def _agent(api: Api) -> DeskClient:
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["agent"])
    return desk


def test_agent_actions_items_through_the_notice_workflow(api: Api) -> None:
    zone = active_zone(api, "shop.example")
    urls = [f"http://shop.example/p/{i}.jpg" for i in range(3)]
    notice = api.as_("submitter").post("/v1/notices", json=notice_body(urls)).json()
    assert notice["status"] == "accepted"
    api.clock.advance(hours=30)
    desk = _agent(api)
    queue = desk.get("/desk/queue")
    assert f"Notice {notice['id']}" in queue.text
    assert "overdue by 6h 00m" in queue.text and "row-overdue" in queue.text
    page = desk.get(f"/desk/notices/{notice['id']}")
    assert page.status_code == 200
    assert "shop.example" in page.text and "/p/1.jpg" in page.text
    assert "<td>notice received</td>" in page.text  # the audit trail, its action in words
    ids = [item["id"] for item in notice["items"]]
    missing_reason = desk.post(
        f"/desk/notices/{notice['id']}/decision", {"verdict": "action", "item": ids[:2], "reason": ""}
    )
    assert missing_reason.status_code == 422 and "reason" in missing_reason.text
    done = desk.post(
        f"/desk/notices/{notice['id']}/decision",
        {"verdict": "action", "item": ids[:2], "reason": "copies of the publisher's pages"},
    )
    assert done.status_code == 303
    assert "2 item(s) actioned" in desk.get(done.headers["location"]).text
    read = api.as_("agent").get(f"/v1/notices/{notice['id']}").json()
    assert [i["status"] for i in read["items"]] == ["actioned", "actioned", "pending_review"]
    assert read["items"][0]["decision_reason"] == "copies of the publisher's pages"
    feed = api.as_("edge").get("/v1/edge/feed").json()["records"]
    assert sorted(r["item_id"] for r in feed if r["kind"] == "block") == ids[:2]
    rest = desk.post(
        f"/desk/notices/{notice['id']}/decision",
        {"verdict": "reject", "scope": "all_pending", "reason": "licensed copy"},
    )
    assert rest.status_code == 303
    final = api.as_("agent").get(f"/v1/notices/{notice['id']}").json()
    assert final["status"] == "actioned" and final["items"][2]["status"] == "rejected"
    again = desk.post(
        f"/desk/notices/{notice['id']}/decision",
        {"verdict": "reject", "item": ids[:1], "reason": "changed my mind"},
    )
    assert again.status_code == 409 and "cannot be given" in again.text
    assert api.as_("admin").get("/v1/audit/verify").json()["ok"] is True
    board = desk.get("/desk/board")
    assert "shop" in board.text and "strikebar" in board.text
    customer = desk.get(f"/desk/customers/{zone['customer_id']}")
    assert "<strong>strike recorded</strong>" in customer.text and "Terminate customer" in customer.text
    # Everyone who acted is named, never shown as a key number.
    page = desk.get(f"/desk/notices/{notice['id']}")
    assert "agent (agent)" in page.text and "submitter (submitter)" in page.text
    for text in (page.text, customer.text):
        assert not re.search(r"\bkey:\d", text)


def test_customer_sees_its_own_notices_only(api: Api) -> None:
    mine = active_zone(api, "mine.example", name="Mine")
    theirs = active_zone(api, "theirs.example", name="Theirs")
    ours = (
        api.as_("trusted_flagger")
        .post("/v1/notices", json=notice_body(["http://mine.example/a.jpg", "http://theirs.example/b.jpg"]))
        .json()
    )
    only_theirs = (
        api.as_("trusted_flagger")
        .post("/v1/notices", json=notice_body(["http://theirs.example/c.jpg"]))
        .json()
    )
    desk = DeskClient(api)
    desk.sign_in_with_key(mine["key"])
    own = desk.get(f"/desk/notices/{ours['id']}")
    assert own.status_code == 200
    assert "/a.jpg" in own.text and "/b.jpg" not in own.text
    assert "agent@rights.example" in own.text  # a DMCA complainant's contact is shown to the customer
    assert "/desk/customers/" not in own.text and "Audit trail" not in own.text
    hidden = desk.get(f"/desk/notices/{only_theirs['id']}")
    assert hidden.status_code == 404
    assert desk.get("/desk/notices/999999").status_code == 404
    listing = desk.get("/desk/account/notices")
    assert f"Notice {ours['id']}" in listing.text and f"Notice {only_theirs['id']}" not in listing.text
    assert desk.get("/desk/customers").status_code == 403
    assert desk.get(f"/desk/customers/{theirs['customer_id']}").status_code == 403
    strikes = desk.get("/desk/account/strikes")
    assert "repeat-infringer policy" in strikes.text and f"Notice {ours['id']}" in strikes.text
    assert "<h4>Steps</h4>" in strikes.text and "<pre" not in strikes.text  # rendered, not raw Markdown


def test_dsa_complainant_contact_is_limited_for_the_customer(api: Api) -> None:
    mine = active_zone(api, "eu.example", name="Eu")
    notice = (
        api.as_("trusted_flagger")
        .post("/v1/notices", json=notice_body(["http://eu.example/a.jpg"], regime="dsa"))
        .json()
    )
    desk = DeskClient(api)
    desk.sign_in_with_key(mine["key"])
    page = desk.get(f"/desk/notices/{notice['id']}").text
    assert "Rights Agent" in page and "Manga Publisher" in page
    assert "agent@rights.example" not in page and "+81 3 1111 2222" not in page


def test_rightsholder_sees_missing_elements_named(api: Api) -> None:
    active_zone(api, "shop.example")
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["submitter"])
    form = {
        "regime": "dmca",
        "name": "Rights Agent",
        "email": "agent@rights.example",
        "works": "Demo Manga, volume 1",
        "urls": "http://shop.example/p/1.jpg\nhttp://shop.example/p/2.jpg",
    }
    checked = desk.post("/desk/submit/check", form)
    assert checked.status_code == 200
    assert (
        "512(c)(3)(A)(i) signature" in checked.text and "512(c)(3)(A)(v) good-faith statement" in checked.text
    )
    fragment = desk.post("/desk/submit/check?fragment=1", form | {"signature": "Rights Agent"})
    assert "signature" not in fragment.text.split("<ul>")[1]
    submitted = desk.post("/desk/submit", form)
    assert submitted.status_code == 303
    page = desk.get(submitted.headers["location"])
    assert "incomplete" in page.text
    assert "512(c)(3)(A)(vi) accuracy and authority statement" in page.text
    assert "A statement that the notice is accurate" in page.text
    notice_id = int(re.search(r"/notices/(\d+)", submitted.headers["location"]).group(1))  # type: ignore[union-attr]
    assert api.as_("submitter").get(f"/v1/notices/{notice_id}").json()["status"] == "incomplete"
    mine = desk.get("/desk/my/notices")
    assert f"Notice {notice_id}" in mine.text
    bad = desk.post("/desk/submit", form | {"urls": "not a url"})
    assert bad.status_code == 422 and "not submitted" in bad.text
    # At the form a person fixes a bad line: nothing is submitted until every URL is valid.
    mixed = desk.post(
        "/desk/submit", form | {"urls": "http://shop.example/p/3.jpg\nftp://shop.example/p/4.jpg"}
    )
    assert mixed.status_code == 422 and "line 2: ftp://shop.example/p/4.jpg" in mixed.text
    assert "1 of 2 URL(s) are not valid" in mixed.text
    assert api.as_("submitter").get("/v1/notices").json()["total"] == 1
    other = DeskClient(api)
    other.sign_in_with_key(api.keys["trusted_flagger"])
    assert other.get(f"/desk/notices/{notice_id}").status_code == 404


def test_bulk_upload_of_a_csv_of_urls(api: Api) -> None:
    active_zone(api, "shop.example")
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["trusted_flagger"])
    desk.get("/desk/submit/bulk")
    csv = "url\n" + "".join(f"http://shop.example/p/{i}.jpg\n" for i in range(250))
    fields = {
        "csrf_token": desk.csrf,
        "regime": "dmca",
        "name": "Rights Agent",
        "email": "agent@rights.example",
        "address": "2-1 Otemachi, Tokyo",
        "phone": "+81 3 1111 2222",
        "works": "Demo Manga",
        "explanation": "copies",
        "good_faith": "on",
        "accurate": "on",
        "authorized": "on",
        "signature": "Rights Agent",
    }
    response = desk.http.post("/desk/submit/bulk", data=fields, files={"file": ("urls.csv", csv, "text/csv")})
    assert response.status_code == 303, response.text
    page = desk.get(response.headers["location"])
    assert "250 actioned" in page.text and "Page 1 of 3" in page.text
    broken = desk.http.post(
        "/desk/submit/bulk",
        data=fields,
        files={"file": ("urls.csv", "url\n\nhttp://x.example/a\n,\n", "text/csv")},
    )
    assert broken.status_code == 303  # blank rows are skipped
    wrong = desk.http.post(
        "/desk/submit/bulk", data=fields, files={"file": ("u.csv", "name\nfoo\n", "text/csv")}
    )
    assert wrong.status_code == 422 and "u.csv" in wrong.text


def test_customer_decisions_reach_the_zones(api: Api) -> None:
    zone = active_zone(api, "bad.example", name="Bad")
    desk = _agent(api)
    desk.get(f"/desk/customers/{zone['customer_id']}")
    assert desk.post(f"/desk/customers/{zone['customer_id']}/suspend", {"reason": ""}).status_code == 422
    suspended = desk.post(f"/desk/customers/{zone['customer_id']}/suspend", {"reason": "fraud"})
    assert suspended.status_code == 303
    assert api.as_("agent").get(f"/v1/zones/{zone['zone_id']}").json()["status"] == "suspended"
    assert (
        desk.post(f"/desk/customers/{zone['customer_id']}/reinstate", {"reason": "cleared"}).status_code
        == 303
    )
    assert api.as_("agent").get(f"/v1/zones/{zone['zone_id']}").json()["status"] == "active"
    assert (
        desk.post(f"/desk/customers/{zone['customer_id']}/terminate", {"reason": "repeat"}).status_code == 303
    )
    assert api.as_("agent").get(f"/v1/zones/{zone['zone_id']}").json()["status"] == "terminated"
    statuses = [
        r["status"] for r in api.as_("edge").get("/v1/edge/feed").json()["records"] if r["kind"] == "zone"
    ]
    assert statuses[-3:] == ["suspended", "active", "terminated"]
    assert (
        desk.post(f"/desk/customers/{zone['customer_id']}/terminate", {"reason": "again"}).status_code == 409
    )
    # A suspension by hand is a policy step like the automatic ones, with its reason and its letter.
    ledger = api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/strikes").json()
    assert [(s["kind"], s["automatic"], s["reason"]) for s in ledger["steps"]] == [
        ("suspension", False, "fraud"),
        ("reinstatement", False, "cleared"),
        ("termination", False, "repeat"),
    ]
    letters = [m["kind"] for m in api.as_("agent").get("/v1/outbox").json()]
    assert "policy_suspension" in letters


def test_customer_verifies_identity_and_proves_domain_control(api: Api) -> None:
    agent = api.as_("agent")
    customer = agent.post("/v1/customers", json=customer_body("New Shop")).json()
    key = (
        api.as_("admin")
        .post("/v1/keys", json={"role": "customer", "customer_id": customer["id"]})
        .json()["key"]
    )
    desk = DeskClient(api)
    desk.sign_in_with_key(key)
    assert desk.post("/desk/account/evidence", {"kind": "passport", "reference": "X123"}).status_code == 303
    assert "X123" in desk.get("/desk/account").text
    refused = desk.post(
        "/desk/account/zones", {"hostname": "new.example", "origin": "http://169.254.169.254"}
    )
    assert refused.status_code == 422
    assert "the origin 169.254.169.254 is a link-local address" in refused.text
    with ChallengeOrigin() as origin:
        added = desk.post("/desk/account/zones", {"hostname": "new.example", "origin": origin.url})
        assert added.status_code == 303
        zones = desk.get("/desk/account/zones").text
        token = re.search(r"/\.well-known/staydown-challenge/([\w-]+)", zones).group(1)  # type: ignore[union-attr]
        assert "_staydown-challenge.new.example" in zones
        zone_id = int(re.search(r'id="zone-(\d+)"', zones).group(1))  # type: ignore[union-attr]
        failed = desk.post(f"/desk/account/zones/{zone_id}/check?fragment=1", {"method": "http"}).json()
        assert failed["ok"] is False and failed["status"] == "pending"
        origin.files[f"/.well-known/staydown-challenge/{token}"] = token
        passed = desk.post(f"/desk/account/zones/{zone_id}/check", {"method": "http"})
        assert passed.status_code == 303
        assert "The zone is pending" in desk.get("/desk/account/zones").text  # not verified yet
    agent_desk = _agent(api)
    agent_desk.get(f"/desk/customers/{customer['id']}")
    decided = agent_desk.post(
        f"/desk/customers/{customer['id']}/verification", {"level": "identity", "reason": "passport X123"}
    )
    assert decided.status_code == 303
    assert api.as_("agent").get(f"/v1/zones/{zone_id}").json()["status"] == "active"
    other = active_zone(api, "other.example", name="Other")
    assert desk.post(f"/desk/account/zones/{other['zone_id']}/check", {"method": "http"}).status_code == 404


def test_counter_notice_and_complaints_go_through_due_process(api: Api) -> None:
    mine = active_zone(api, "mine.example", name="Mine")
    notice = (
        api.as_("trusted_flagger").post("/v1/notices", json=notice_body(["http://mine.example/a.jpg"])).json()
    )
    item_id = notice["items"][0]["id"]
    desk = DeskClient(api)
    desk.sign_in_with_key(mine["key"])
    form = desk.get(f"/desk/notices/{notice['id']}/counter-notice")
    assert form.status_code == 200 and "512(g)(3)" in form.text
    assert "File a counter-notice" in desk.get(f"/desk/notices/{notice['id']}").text
    # A DSA notice is answered by an internal complaint: its regime has no counter-notice.
    dsa = (
        api.as_("trusted_flagger")
        .post("/v1/notices", json=notice_body(["http://mine.example/b.jpg"], regime="dsa"))
        .json()
    )
    assert "File a counter-notice" not in desk.get(f"/desk/notices/{dsa['id']}").text
    refused = desk.get(f"/desk/notices/{dsa['id']}/counter-notice")
    assert refused.status_code == 422 and "do not answer DSA notices" in refused.text
    lacking = desk.post(f"/desk/notices/{notice['id']}/counter-notice", {"item": [item_id], "name": "Mine"})
    assert lacking.status_code == 303
    assert "lacks" in desk.get(lacking.headers["location"]).text
    complaint = desk.post(
        f"/desk/notices/{notice['id']}/complaint", {"item": [item_id], "explanation": "my own drawing"}
    )
    assert complaint.status_code == 303, complaint.text
    assert "lodged" in desk.get(complaint.headers["location"]).text
    listed = api.as_("agent").get("/v1/complaints").json()
    assert [c["notice_id"] for c in listed] == [notice["id"]]
    rights = DeskClient(api)
    rights.sign_in_with_key(api.keys["submitter"])
    assert rights.get(f"/desk/notices/{notice['id']}/complaint").status_code == 404  # not theirs
    assert desk.get(f"/desk/notices/{dsa['id'] + 1}/counter-notice").status_code == 404


def test_transparency_page_renders_the_report_with_charts(api: Api) -> None:
    active_zone(api, "shop.example")
    api.as_("trusted_flagger").post("/v1/notices", json=notice_body(["http://shop.example/a.jpg"]))
    desk = _agent(api)
    page = desk.get("/desk/transparency?from=2026-11-01&to=2026-11-30")
    assert page.status_code == 200 and 'aria-current="page"' in page.text  # in the desk's layout
    # The report is in the page (no frame): its figures, and its charts as images described in words.
    assert "<iframe" not in page.text and '<td class="n" id="notices-total">1</td>' in page.text
    assert page.text.count('src="data:image/svg+xml;base64,') == 2
    assert "Notices received per day: 1 on 1 day(s) with notices, at most 1 on 2026-11-02." in page.text
    download = "/desk/transparency/report.html?from=2026-11-01&amp;to=2026-11-30"
    assert f'href="{download}"' in page.text
    report = desk.get(download.replace("&amp;", "&"))
    assert report.status_code == 200 and "<svg" in report.text
    assert "frame-ancestors 'self'" in report.headers["content-security-policy"]
    as_json = desk.get("/desk/transparency/report.json?from=2026-11-01&to=2026-11-30")
    assert as_json.json()["notices"]["total"] == 1
    assert "attachment" in as_json.headers["content-disposition"]
    assert desk.get("/desk/transparency/report.csv").text.count("\n") > 5
    assert desk.get("/desk/transparency/report.xml").status_code == 404
    part_4 = desk.get("/desk/transparency/dsa-2835/part-4.csv?from=2026-11-01&to=2026-11-30")
    assert part_4.status_code == 200
    assert 'filename="Part_4_notices.csv"' in part_4.headers["content-disposition"]
    assert part_4.text.startswith("Applicability,Service,Reporting period,Category of illegal content,")
    assert "/desk/transparency/dsa-2835/part-4.csv?from=2026-11-01&amp;to=2026-11-30" in page.text
    assert ">Part 11</a>" in page.text and ">Part 10</a>" not in page.text
    part_5 = desk.get("/desk/transparency/dsa-2835/part-5.csv?from=2026-11-01&to=2026-11-30")
    assert 'filename="Part_5_own_initiative_illegal.csv"' in part_5.headers["content-disposition"]
    assert desk.get("/desk/transparency/dsa-2835/part-10.csv").status_code == 404
    assert desk.get("/desk/transparency").status_code == 200
    assert desk.get("/desk/transparency?from=nonsense").status_code == 422
    assert desk.get("/desk/transparency/report.html?to=nonsense").status_code == 422
    customer = DeskClient(api)
    customer.sign_in_with_key(api.keys["submitter"])
    assert customer.get("/desk/transparency").status_code == 403
    assert customer.get("/desk/transparency/report.json").status_code == 403


def test_notices_are_searched_by_url_submitter_zone_customer_and_sender_id(api: Api) -> None:
    first = active_zone(api, "search-one.example")
    active_zone(api, "search-two.example")
    one = (
        api.as_("submitter")
        .post(
            "/v1/notices",
            json=notice_body(["http://search-one.example/a/b.jpg"], external_id="case-77"),
        )
        .json()
    )
    other = notice_body(["http://search-two.example/c.jpg"])
    other["submitter"] = {**other["submitter"], "name": "Other Agency", "organization": "Other Agency"}
    two = api.as_("trusted_flagger").post("/v1/notices", json=other).json()
    desk = _agent(api)

    def listed(**params: str) -> set[int]:
        page = desk.get("/desk/notices", params=params)
        assert page.status_code == 200
        return {int(n) for n in re.findall(r">Notice (\d+)</a>", page.text)}

    assert listed() == {one["id"], two["id"]}
    assert listed(url="HTTP://Search-One.example:80/a/./b.jpg") == {one["id"]}  # another spelling
    assert listed(submitter="other agency") == {two["id"]}
    assert listed(zone="search-two.example") == {two["id"]}
    assert listed(customer=str(first["customer_id"])) == {one["id"]}
    assert listed(external_id="case-77") == {one["id"]}
    assert listed(submitter="100%_") == set()  # searched as text, not as a pattern
    page = desk.get("/desk/notices", params={"zone": "nowhere.example"})
    assert "no zone is named nowhere.example" in page.text
    columns = desk.get("/desk/notices").text
    assert "Other Agency" in columns and "search-one.example" in columns


def test_a_failed_capture_shows_its_reason_and_is_retried(api: Api) -> None:
    from staydown.demo.pages import render_page
    from staydown.fingerprints import service as fingerprints
    from tests.edge.harness import Route, ScriptedOrigin, live_zone
    from tests.support import jpeg

    with ScriptedOrigin() as origin:
        live_zone(api, origin, "captures.example.test")
        notice = (
            api.as_("trusted_flagger")
            .post("/v1/notices", json=notice_body(["http://captures.example.test/gone.jpg"]))
            .json()
        )
        later = api.clock()
        for _ in range(api.settings.staydown_capture_attempts + 1):
            fingerprints.run_captures(api.database, now=later, settings=api.settings)
            later = api.clock.advance(hours=1)
        desk = _agent(api)
        page = desk.get(f"/desk/notices/{notice['id']}")
        assert "Content that could not be read" in page.text
        assert "the origin answered 404" in page.text
        capture_id = int(re.search(r"/captures/(\d+)/retry", page.text).group(1))  # type: ignore[union-attr]
        origin.routes["/gone.jpg"] = Route(
            jpeg(render_page(71)), headers={"Content-Type": "image/jpeg", "Cache-Control": "max-age=60"}
        )
        retried = desk.post(f"/desk/notices/{notice['id']}/captures/{capture_id}/retry", {})
        assert retried.status_code == 303
        assert fingerprints.run_captures(api.database, now=api.clock(), settings=api.settings) == 1
        page = desk.get(f"/desk/notices/{notice['id']}")
        assert "Content that could not be read" not in page.text and "1 banked" in page.text
        again = desk.post(f"/desk/notices/{notice['id']}/captures/{capture_id}/retry", {})
        assert again.status_code == 409
