"""Each regime's statutory elements over HTTP: only what the statute requires blocks, agents can act
on incomplete notices (actual knowledge), incomplete notices age out, and a notifier's Art. 23
suspension reaches DSA notices on platforms only."""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from staydown.notices.regimes import RULES
from staydown.notices.regimes.base import RegimeRules
from staydown.types import Recipient, Regime
from tests.conftest import Api
from tests.due_process.support import feed, outbox
from tests.due_process.test_flaggers import award_status
from tests.notices.test_deadline import timers_run
from tests.support import active_zone, notice_body

HOST = "law.example.test"


def _post(api: Api, role: str, body: dict[str, Any]) -> dict[str, Any]:
    r = api.as_(role).post("/v1/notices", json=body)
    assert r.status_code == 201, r.text
    notice: dict[str, Any] = r.json()
    return notice


def test_a_dmca_notice_with_name_email_and_address_but_no_phone_is_complete(api: Api) -> None:
    active_zone(api, HOST)
    body = notice_body([f"http://{HOST}/a.jpg"])
    body["submitter"]["phone"] = None
    notice = _post(api, "submitter", body)
    assert notice["status"] == "accepted"
    assert notice["missing_elements"] == []


def test_a_jp_notice_without_the_forms_declaration_and_signature_is_complete(api: Api) -> None:
    active_zone(api, HOST)
    body = notice_body([f"http://{HOST}/a.jpg"], regime="jp", signature=None)
    body["statements"] = {"good_faith": False, "accurate": False, "authorized": False}
    notice = _post(api, "submitter", body)
    assert notice["status"] == "accepted"
    assert notice["missing_elements"] == []
    assert notice["advisory_elements"] == [
        "IDPA removal request: declaration of truth (guideline form)",
        "IDPA removal request: signature of the requester (guideline form)",
    ]


def test_an_agent_actions_an_item_of_an_incomplete_notice_on_actual_knowledge(api: Api) -> None:
    active_zone(api, HOST)
    notice = _post(api, "submitter", notice_body([f"http://{HOST}/a.jpg"], signature=None))
    assert notice["status"] == "incomplete"
    item = notice["items"][0]["id"]
    r = api.as_("agent").post(
        f"/v1/notices/{notice['id']}/decision",
        json={"items": {str(item): "action"}, "reason": "the page is a verbatim copy of the volume"},
    )
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["status"] == "actioned"
    assert decided["items"][0]["status"] == "actioned"
    assert "actual knowledge" in decided["items"][0]["decision_reason"]
    assert [record["item_id"] for record in feed(api) if record["kind"] == "block"] == [item]
    # Settled, it no longer ages out.
    timers_run(api, (api.clock() + timedelta(days=30)).isoformat())
    assert api.as_("agent").get(f"/v1/notices/{notice['id']}").json()["status"] == "actioned"


def test_an_incomplete_notice_ages_out_with_a_letter(api: Api) -> None:
    active_zone(api, HOST)
    notice = _post(api, "submitter", notice_body([f"http://{HOST}/a.jpg"], signature=None))
    assert notice["status"] == "incomplete"
    received = api.clock()
    timers_run(api, (received + timedelta(days=13)).isoformat())
    assert api.as_("agent").get(f"/v1/notices/{notice['id']}").json()["status"] == "incomplete"
    assert timers_run(api, (received + timedelta(days=15)).isoformat())["ran"] == 1
    closed = api.as_("agent").get(f"/v1/notices/{notice['id']}").json()
    assert closed["status"] == "closed"
    assert [item["status"] for item in closed["items"]] == ["rejected"]
    letters = [m for m in outbox(api, notice_id=notice["id"]) if m["kind"] == "notice_expired"]
    assert len(letters) == 1 and letters[0]["recipient"] == "agent@rights.example"
    r = api.as_("submitter").post(f"/v1/notices/{notice['id']}/supplement", json={"signature": "R"})
    assert r.status_code == 409


def _suspend(api: Api, host: str) -> None:
    """Have the submitter found manifestly unfounded until it is suspended (DSA Art. 23(2))."""
    for n in range(4):
        api.clock.advance(days=1)
        notice = _post(api, "submitter", notice_body([f"http://{host}/u{n}.jpg"], regime="dsa"))
        r = api.as_("agent").post(
            f"/v1/notices/{notice['id']}/manifestly-unfounded",
            json={"reason": "claims a public-domain work it does not own"},
        )
        assert r.status_code == 201, r.text
    measure = r.json()["measure"]
    assert measure is not None and measure["kind"] == "suspension", measure


def test_a_notifier_suspended_under_art_23_still_has_its_dmca_and_jp_notices_taken_in(api: Api) -> None:
    active_zone(api, "platform.example.test", service_type="platform")
    active_zone(api, "cdn.example.test")
    _suspend(api, "platform.example.test")

    for regime in ("dmca", "jp"):
        notice = _post(api, "submitter", notice_body(["http://platform.example.test/x.jpg"], regime=regime))
        assert notice["status"] == "accepted", notice
        assert "Art. 23(2)" in notice["sanction"] and "assessed on its merits" in notice["sanction"]
        assert notice["items"][0]["status"] == "pending_review"
        [receipt] = [m for m in outbox(api, notice_id=notice["id"]) if m["kind"] == "notice_receipt"]
        assert "Art. 23(2)" in receipt["body"]

    # Art. 23 binds online platforms: a DSA notice about a platform's content is not processed...
    refused = api.as_("submitter").post(
        "/v1/notices", json=notice_body(["http://platform.example.test/y.jpg"], regime="dsa")
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "notifier_suspended"
    # ...while one about cached content of another zone is.
    cached = _post(api, "submitter", notice_body(["http://cdn.example.test/y.jpg"], regime="dsa"))
    assert cached["status"] == "accepted" and cached["sanction"]
    # A mixed notice: the platform's items are not processed, the others are.
    mixed = _post(
        api,
        "submitter",
        notice_body(["http://platform.example.test/z.jpg", "http://cdn.example.test/z.jpg"], regime="dsa"),
    )
    assert [item["status"] for item in mixed["items"]] == ["rejected", "pending_review"]


def test_a_dsa_trusted_flagger_gets_priority_review_not_automatic_action(api: Api) -> None:
    """Art. 22: trusted flaggers' notices are decided with priority; a DMCA or Japanese notice of a
    trusted organisation keeps the direct path."""
    active_zone(api, HOST)
    award_status(api, "trusted_flagger")
    received = api.clock()
    dsa = _post(api, "trusted_flagger", notice_body([f"http://{HOST}/eu.jpg"], regime="dsa"))
    assert dsa["status"] == "accepted" and dsa["items"][0]["status"] == "pending_review"
    assert dsa["trusted"] is True
    assert dsa["deadline_at"].startswith((received + timedelta(hours=6)).isoformat()[:16])
    assert not [record for record in feed(api) if record["kind"] == "block"]
    dmca = _post(api, "trusted_flagger", notice_body([f"http://{HOST}/us.jpg"]))
    assert dmca["status"] == "actioned"


SRC = Path(__file__).resolve().parents[2] / "src" / "staydown"
# Where a regime may be named: its own package, the enum that lists them, and the schema's history.
_MAY_NAME = (("notices", "regimes"), ("db", "migrations"), ("types.py",))


def _names_a_regime(path: Path) -> list[str]:
    values = {regime.value for regime in Regime}
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "Regime"
            and node.attr in Regime.__members__
        ):
            found.append(f"{node.lineno}: Regime.{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.lower() in values:
            found.append(f"{node.lineno}: {node.value!r}")
    return found


def test_no_module_outside_the_regimes_package_branches_on_a_regime() -> None:
    """Everything that differs between regimes is read from the regime's class: no code or template
    elsewhere names one, so adding a regime is adding its class (and its value to ``Regime``)."""
    literal = re.compile("[\"'](" + "|".join(r.value for r in Regime) + ")[\"']", re.IGNORECASE)
    found: list[str] = []
    for path in sorted(SRC.rglob("*")):
        rel = path.relative_to(SRC)
        if any(rel.parts[: len(prefix)] == prefix for prefix in _MAY_NAME):
            continue
        if path.suffix == ".py":
            found += [f"{rel}:{hit}" for hit in _names_a_regime(path)]
        elif path.suffix in (".html", ".js", ".txt", ".j2"):
            text = path.read_text()
            found += [f"{rel}: {m.group(0)}" for m in literal.finditer(text)]
    assert found == []


def test_the_check_finds_a_branch_on_a_regime(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from staydown.types import Regime\n"
        "def f(notice):\n"
        "    if notice.regime is Regime.dsa:\n"
        "        return 1\n"
        "    return 2 if notice.regime.value == 'jp' else 3\n"
    )
    assert _names_a_regime(sample) == ["3: Regime.dsa", "5: 'jp'"]


def test_every_regime_declares_all_a_regime_decides() -> None:
    assert set(RULES) == set(Regime)
    for regime, rules in RULES.items():
        assert isinstance(rules, RegimeRules) and rules.regime is regime
        for name in ("label", "title", "lumen_type", "legal_ground", "source_type", "jurisdictions"):
            assert getattr(rules, name), (regime, name)
        assert rules.elements and all(e.name and e.explanation for e in rules.elements.values())
        assert isinstance(rules.counter_notice, bool)
        # Contact fields: the public archive never gets a private complainant's details.
        assert rules.shared(Recipient.lumen, party="complainant", organisation=False) == frozenset()
        assert rules.shared(Recipient.customer, party="complainant", organisation=True) <= {
            "name",
            "organization",
            "on_behalf_of",
            "email",
            "phone",
            "address",
        }
