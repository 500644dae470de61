"""Letters over HTTP: what of the complainant each recipient is given (the regime's personal-data
table) and which remedies are promised (the zone's service type)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from staydown.enforcement.models import OutboxMessage
from tests.conftest import Api
from tests.due_process.support import outbox
from tests.support import active_zone, notice_body

PHONE, ADDRESS, EMAIL = "+81 3 1111 2222", "2-1 Otemachi, Tokyo", "agent@rights.example"


def _actioned(api: Api, host: str, regime: str) -> dict[str, Any]:
    r = api.as_("trusted_flagger").post(
        "/v1/notices", json=notice_body([f"http://{host}/a.jpg"], regime=regime)
    )
    assert r.status_code == 201, r.text
    notice: dict[str, Any] = r.json()
    if notice["status"] != "actioned":
        item = notice["items"][0]["id"]
        r = api.as_("agent").post(
            f"/v1/notices/{notice['id']}/decision", json={"items": {str(item): "action"}, "reason": "copy"}
        )
        assert r.status_code == 200, r.text
    return notice


def _payload(api: Api, message_id: int) -> Any:
    with api.database.reader() as session:
        return session.scalar(select(OutboxMessage.payload).where(OutboxMessage.id == message_id))


def _letters(api: Api, notice_id: int, kind: str) -> list[dict[str, Any]]:
    return [m for m in outbox(api, notice_id=notice_id) if m["kind"] == kind]


@pytest.mark.parametrize("regime", ["dsa", "jp"])
def test_a_dsa_or_jp_letter_to_the_customer_and_host_carries_no_complainant_phone_address_or_email(
    api: Api, regime: str
) -> None:
    active_zone(api, "letters.example.test", service_type="platform")
    notice = _actioned(api, "letters.example.test", regime)
    letters = _letters(api, notice["id"], "notice_forward_customer")
    letters += _letters(api, notice["id"], "notice_forward_host")
    assert len(letters) == 2
    for letter in letters:
        for value in (PHONE, ADDRESS, EMAIL):
            assert value not in letter["body"]
            assert value not in str(_payload(api, letter["id"]))
        assert "Rights Agency" in letter["body"] and "Manga Publisher" in letter["body"]


def test_a_dmca_letter_gives_the_customer_the_contact_it_answers_and_the_host_less(api: Api) -> None:
    active_zone(api, "letters.example.test")
    notice = _actioned(api, "letters.example.test", "dmca")
    [customer] = _letters(api, notice["id"], "notice_forward_customer")
    assert all(value in customer["body"] for value in (PHONE, ADDRESS, EMAIL))
    [host] = _letters(api, notice["id"], "notice_forward_host")
    assert EMAIL in host["body"] and PHONE not in host["body"] and ADDRESS not in host["body"]


def test_remedies_promised_follow_the_service_type(api: Api) -> None:
    active_zone(api, "cache.example.test")
    active_zone(api, "platform.example.test", service_type="platform")
    cached = _actioned(api, "cache.example.test", "dsa")
    [letter] = _letters(api, cached["id"], "notice_forward_customer")
    assert "Art. 20" not in letter["body"] and "Art. 21" not in letter["body"]
    platform = _actioned(api, "platform.example.test", "dsa")
    [letter] = _letters(api, platform["id"], "notice_forward_customer")
    assert "Art. 20" in letter["body"] and "Art. 21" in letter["body"]
    [told] = _letters(api, platform["id"], "notice_decision")
    assert "Art. 20" in told["body"]


def test_a_zone_states_its_service_type_and_caching_removals_record_their_512b_trigger(api: Api) -> None:
    zone = active_zone(api, "cache.example.test")
    assert api.as_("agent").get(f"/v1/zones/{zone['zone_id']}").json()["service_type"] == "caching"
    r = api.as_("submitter").post("/v1/notices", json=notice_body(["http://cache.example.test/a.jpg"]))
    notice = r.json()
    item = notice["items"][0]["id"]
    r = api.as_("agent").post(
        f"/v1/notices/{notice['id']}/decision",
        json={
            "items": {str(item): "action"},
            "reason": "gone at the origin",
            "caching_trigger": "origin_removed",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["items"][0]["caching_trigger"] == "origin_removed"
    bad = api.as_("agent").post(
        f"/v1/notices/{notice['id']}/decision",
        json={"items": {str(item): "action"}, "reason": "x", "caching_trigger": "because"},
    )
    assert bad.status_code == 422
