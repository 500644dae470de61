"""Statements of reasons (DSA Art. 17): one for every restriction when it is imposed, with a unique
puid and the Transparency Database vocabulary, sent to the customer and kept."""

from __future__ import annotations

import re
import typing
from datetime import timedelta

from staydown.due_process import service as due_process
from staydown.due_process.schemas import DsaStatement
from staydown.due_process.statements import FIELD_NAMES, StatementFields
from tests.conftest import Api
from tests.due_process.support import feed, outbox
from tests.support import active_zone, notice_body

PUID = re.compile(r"^[A-Za-z0-9_-]{1,500}$")
DECISION_GROUNDS = {"DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"}
SOURCES = {
    "SOURCE_ARTICLE_16",
    "SOURCE_TRUSTED_FLAGGER",
    "SOURCE_TYPE_OTHER_NOTIFICATION",
    "SOURCE_VOLUNTARY",
}
AUTOMATED = {"AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY", "AUTOMATED_DECISION_NOT_AUTOMATED"}


def _statements(api: Api) -> list[dict[str, object]]:
    r = api.as_("agent").get("/v1/statements", params={"limit": 10_000})
    assert r.status_code == 200, r.text
    return list(r.json())


def test_every_restriction_has_a_statement_sent_to_the_customer(api: Api) -> None:
    zone = active_zone(api, "sor.example.test", service_type="platform")
    other = active_zone(api, "sor2.example.test", name="second")
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"

    trusted = (
        api.as_("trusted_flagger")
        .post(
            "/v1/notices",
            json=notice_body(
                [f"http://sor.example.test/p{n}.jpg" for n in range(3)] + ["http://sor2.example.test/q"]
            ),
        )
        .json()
    )
    assert trusted["status"] == "actioned"
    mine = customer.get("/v1/statements").json()
    assert len(mine) == 3 and {s["customer_id"] for s in mine} == {zone["customer_id"]}
    first = mine[0]
    assert first["source_type"] == "SOURCE_TRUSTED_FLAGGER"
    assert first["automated_decision"] == "AUTOMATED_DECISION_FULLY"
    assert first["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert first["content_type"] == ["CONTENT_TYPE_IMAGE"]
    assert first["application_date"] == "2026-11-02"
    assert "Demo Manga, volume 1" in first["decision_facts"]
    letters = [m for m in customer.get("/v1/outbox").json() if m["kind"] == "statement_of_reasons"]
    assert len(letters) == 1
    assert all(s["puid"] in letters[0]["body"] for s in mine)
    assert all(s["message_id"] == letters[0]["id"] for s in mine)
    assert "internal complaint" in letters[0]["body"]

    # A second notice for content already blocked restricts nothing new: no new statement.
    again = api.as_("trusted_flagger").post(
        "/v1/notices", json=notice_body(["http://sor.example.test/p0.jpg"])
    )
    assert again.json()["items"][0]["duplicate_of"] is not None
    assert len(customer.get("/v1/statements").json()) == 3

    # An agent's decision on a reviewed notice.
    reviewed = api.as_("submitter").post("/v1/notices", json=notice_body(["http://sor2.example.test/r.html"]))
    item = reviewed.json()["items"][0]["id"]
    api.clock.advance(hours=5)
    api.as_("agent").post(
        f"/v1/notices/{reviewed.json()['id']}/decision",
        json={"items": {str(item): "action"}, "reason": "copy"},
    )
    [by_agent] = api.as_("agent").get("/v1/statements", params={"item_id": item}).json()
    assert by_agent["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
    assert by_agent["source_type"] == "SOURCE_TYPE_OTHER_NOTIFICATION"
    assert by_agent["content_type"] == ["CONTENT_TYPE_TEXT"]

    # An agent suspends one zone, then reinstates it.
    r = api.as_("agent").post(f"/v1/zones/{other['zone_id']}/suspend", json={"reason": "phishing kit hosted"})
    assert r.status_code == 200, r.text
    [suspended] = (
        api.as_("agent")
        .get("/v1/statements", params={"zone_id": other["zone_id"], "customer_id": other["customer_id"]})
        .json()[-1:]
    )
    assert suspended["restriction"] == "zone_suspended"
    assert suspended["decision_provision"] == "DECISION_PROVISION_PARTIAL_SUSPENSION"
    assert suspended["decision_account"] is None
    assert "phishing kit hosted" in suspended["decision_facts"]
    api.as_("agent").post(f"/v1/zones/{other['zone_id']}/reinstate", json={"reason": "cleaned up"})
    lifted = api.as_("agent").get(f"/v1/statements/{suspended['puid']}").json()
    assert lifted["status"] == "lifted" and lifted["end_reason"] == "cleaned up"

    # Every block and every suspension or termination in the feed has its statement.
    statements = _statements(api)
    blocked = {rec["item_id"] for rec in feed(api) if rec["kind"] == "block"}
    assert blocked == {s["item_id"] for s in statements if s["restriction"] == "content_disabled"}
    restricted_zones = [
        rec for rec in feed(api) if rec["kind"] == "zone" and rec["status"] in ("suspended", "terminated")
    ]
    assert len(restricted_zones) == sum(1 for s in statements if s["restriction"] != "content_disabled")
    puids = [str(s["puid"]) for s in statements]
    assert len(set(puids)) == len(puids) and all(PUID.match(p) for p in puids)
    for s in statements:
        assert s["decision_ground"] in DECISION_GROUNDS
        assert s["source_type"] in SOURCES
        assert s["automated_decision"] in AUTOMATED
        assert s["automated_detection"] in ("Yes", "No")
        assert s["category"] == "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"
        assert s["territorial_scope"] and all(len(str(c)) == 2 for c in s["territorial_scope"])  # type: ignore[attr-defined]

    # The reports package reads them through list_statements, with the DSA field names only.
    with api.database.reader() as session:
        exported = due_process.list_statements(
            session, start=api.clock() - timedelta(days=1), end=api.clock() + timedelta(days=1)
        )
    assert [e.puid for e in exported] == puids
    assert "status" not in exported[0].model_dump() and "decision_ground" in exported[0].model_dump()
    # A submitter does not read statements; a customer only its own.
    assert api.as_("submitter").get("/v1/statements").status_code == 403
    assert customer.get(f"/v1/statements/{suspended['puid']}").status_code == 404


def test_repeat_infringer_suspension_of_the_account_is_explained_per_zone(api: Api) -> None:
    zone = active_zone(api, "repeat.example.test")
    agent = api.as_("agent")
    second = agent.post(
        "/v1/zones",
        json={
            "customer_id": zone["customer_id"],
            "hostname": "repeat2.example.test",
            "origin": "http://127.0.0.1:9",
        },
    ).json()
    for n in range(3):  # three strikes within 90 days suspend the customer (default policy)
        api.clock.advance(days=1)
        r = api.as_("trusted_flagger").post(
            "/v1/notices", json=notice_body([f"http://repeat.example.test/{n}.jpg"])
        )
        assert r.status_code == 201
    zone_statements = [
        s
        for s in _statements(api)
        if s["restriction"] == "zone_suspended" and s["customer_id"] == zone["customer_id"]
    ]
    # The pending second zone is not served, so only the active zone is suspended and explained.
    assert [s["zone_id"] for s in zone_statements] == [zone["zone_id"]]
    [statement] = zone_statements
    assert second["status"] == "pending"
    assert statement["decision_provision"] == "DECISION_PROVISION_TOTAL_SUSPENSION"
    assert statement["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
    assert statement["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert statement["incompatible_content_illegal"] == "Yes"
    assert statement["automated_decision"] == "AUTOMATED_DECISION_FULLY"
    assert "repeat-infringer policy" in str(statement["incompatible_content_ground"]).lower()
    assert any(
        m["kind"] == "statement_of_reasons" and "suspended" in m["body"]
        for m in outbox(api)
        if m["recipient"] == "repeat@example.com"
    )


def test_a_block_that_is_not_a_notice_item_is_explained_and_lifted_too(api: Api) -> None:
    from staydown.enforcement import service as enforcement

    zone = active_zone(api, "match.example.test")
    url = "http://match.example.test/copy.webp"
    spec = enforcement.BlockSpec(zone["zone_id"], "/copy.webp", url, None, None)
    with api.database.writer() as session:
        enforcement.block(session, [spec], at=api.clock(), reason="stay-down match 7")
        session.commit()
    [statement] = api.as_("agent").get("/v1/statements", params={"zone_id": zone["zone_id"]}).json()
    assert statement["source_type"] == "SOURCE_VOLUNTARY"
    # Found by the provider's own detection: no notice, so no Art. 16 in its ground.
    assert "Art. 16" not in statement["illegal_content_legal_ground"]
    assert "notice" not in statement["illegal_content_legal_ground"]
    assert statement["automated_detection"] == "Yes"
    assert statement["content_type"] == ["CONTENT_TYPE_IMAGE"]
    assert "stay-down match 7" in statement["decision_facts"]
    assert statement["customer_id"] == zone["customer_id"]
    with api.database.writer() as session:
        enforcement.unblock(session, [spec], at=api.clock(), reason="match dismissed")
        session.commit()
    lifted = api.as_("agent").get(f"/v1/statements/{statement['puid']}").json()
    assert lifted["status"] == "lifted" and lifted["end_reason"] == "match dismissed"
    # A rolled-back block leaves no statement behind.
    with api.database.writer() as session:
        enforcement.block(session, [spec], at=api.clock(), reason="never committed")
        session.rollback()
    assert len(api.as_("agent").get("/v1/statements", params={"zone_id": zone["zone_id"]}).json()) == 1


def test_statements_read_what_the_journal_stages(api: Api) -> None:
    # reasons.py reads the staged feed entries through the journal's public reader; if staging
    # changed under it, every restriction would silently go unexplained.
    from staydown.enforcement import service as enforcement

    zone = active_zone(api, "staged.example.test")
    url = "http://staged.example.test/staged.jpg"
    spec = enforcement.BlockSpec(zone["zone_id"], "/staged.jpg", url, None, None)
    with api.database.writer() as session:
        enforcement.block(session, [spec], at=api.clock(), reason="staged")
        [record] = enforcement.staged_records(session)
        assert (record.kind.value, record.target, record.seq) == ("block", "/staged.jpg", None)
        session.commit()
        assert enforcement.staged_records(session) == [] and record.seq is not None
    [statement] = api.as_("agent").get("/v1/statements", params={"zone_id": zone["zone_id"]}).json()
    assert statement["status"] == "in_force"


def test_the_api_schema_and_the_statement_name_the_same_dsa_fields() -> None:
    """The DSA fields are listed twice, as the API's schema and as the statement the workflow builds
    by the thousand (a plain dataclass); they must agree field for field, in order and in type."""
    schema = {name: field.annotation for name, field in DsaStatement.model_fields.items() if name != "puid"}
    built = typing.get_type_hints(StatementFields)
    assert list(schema) == list(FIELD_NAMES) == list(built)
    assert schema == built


def test_the_explanation_is_cut_to_what_the_transparency_database_takes(api: Api) -> None:
    active_zone(api, "long.example.test", service_type="platform")
    body = notice_body(["http://long.example.test/a.jpg"], regime="dsa", explanation="x" * 3000)
    notice = api.as_("submitter").post("/v1/notices", json=body).json()
    item = notice["items"][0]["id"]
    r = api.as_("agent").post(
        f"/v1/notices/{notice['id']}/decision", json={"items": {str(item): "action"}, "reason": "copy"}
    )
    assert r.status_code == 200, r.text
    [statement] = api.as_("agent").get("/v1/statements", params={"notice_id": notice["id"]}).json()
    assert len(statement["illegal_content_explanation"]) == 2000
