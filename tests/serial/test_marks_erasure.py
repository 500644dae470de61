"""What the identity marks hold: the configured public mail providers link nobody, and a terminated
customer's marks go with its identity when that is erased (its sites' marks stay)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from staydown.accounts.models import Customer
from staydown.config import Settings
from staydown.serial import linking
from staydown.serial import service as serial
from staydown.serial.linking import IdentityRecord
from staydown.serial.models import IdentityMark
from tests.conftest import Api
from tests.support import ChallengeOrigin, customer_body


@pytest.fixture
def settings(settings: Settings) -> Iterator[Settings]:
    # An operator's own mail service (public here) and one built-in provider taken out.
    yield settings.model_copy(update={"public_mail_domains": ["mail.hoster.biz", "-fastmail.com"]})
    serial.configure(settings)  # the next tests' processes have the built-in list again


def test_configured_public_mail_domains_amend_the_built_in_list() -> None:
    amended = linking.public_mail_domains(["Mail.Hoster.BIZ.", "-gmail.com"])
    assert "mail.hoster.biz" in amended and "gmail.com" not in amended and "outlook.com" in amended
    assert linking.public_mail_domains(["-*", "only.example.net"]) == {"only.example.net"}
    assert linking.public_mail_domains([]) == linking.PUBLIC_MAIL_DOMAINS

    def domain_marked(email: str, public: frozenset[str]) -> bool:
        found = linking.marks(IdentityRecord(email=email, public_mail_domains=public))
        return ("email_domain", email.split("@")[1]) in found

    assert domain_marked("a@mail.hoster.biz", linking.PUBLIC_MAIL_DOMAINS)
    assert not domain_marked("a@mail.hoster.biz", amended)
    assert domain_marked("a@gmail.com", amended)


@pytest.mark.parametrize("bad", ["user@gmail.com", "no dots", "-", "gmail", "x..com"])
def test_a_bad_public_mail_domain_is_a_loud_configuration_error(bad: str) -> None:
    with pytest.raises(ValidationError, match="not a mail domain"):
        Settings(public_mail_domains=f"proton.me,{bad}")  # type: ignore[arg-type]
    assert Settings(public_mail_domains=" Proton.ME , -gmail.com,-*").public_mail_domains == [  # type: ignore[arg-type]
        "proton.me",
        "-gmail.com",
        "-*",
    ]


def _customer(api: Api, name: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("address", f"{len(name)} {name} Street")  # no two share one by chance
    r = api.as_("agent").post("/v1/customers", json=customer_body(name, **fields))
    assert r.status_code == 201, r.text
    customer: dict[str, Any] = r.json()
    return customer


def _terminate(api: Api, customer_id: int) -> None:
    r = api.as_("agent").post(f"/v1/customers/{customer_id}/terminate", json={"reason": "repeat infringer"})
    assert r.status_code == 200, r.text


def _links(api: Api, customer_id: int) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = api.as_("agent").get(f"/v1/customers/{customer_id}/links").json()
    return links


def test_the_configured_public_mail_domains_link_nobody(api: Api) -> None:
    old = _customer(api, name="Old One", email="old@mail.hoster.biz", phone="+81 3 1111 2222")
    _terminate(api, old["id"])
    assert not _links(
        api, _customer(api, name="New One", email="new@mail.hoster.biz", phone="+1 202 555 0101")["id"]
    )
    # A built-in provider the setting took out is one operator's domain again.
    other = _customer(api, name="Older One", email="boss@fastmail.com", phone="+81 3 3333 4444")
    _terminate(api, other["id"])
    [link] = _links(
        api, _customer(api, name="Newer One", email="ceo@fastmail.com", phone="+1 202 555 0102")["id"]
    )
    assert link["linked_customer_id"] == other["id"]
    assert {e["mark"] for e in link["evidence"]} == {"email_domain"}


def _marks(api: Api, customer_id: int) -> set[str]:
    with api.database.reader() as session:
        return set(session.scalars(select(IdentityMark.kind).where(IdentityMark.customer_id == customer_id)))


def test_erasing_a_terminated_customers_identity_erases_its_identity_marks(api: Api) -> None:
    with ChallengeOrigin() as origin:
        agent = api.as_("agent")
        old = _customer(api, name="Gone Pirate", email="boss@gonepirate.biz", phone="+81 90 5555 6666")
        agent.post(
            f"/v1/customers/{old['id']}/verification/decision", json={"level": "identity", "reason": "ok"}
        )
        zone = agent.post(
            "/v1/zones",
            json={"customer_id": old["id"], "hostname": "gone.pirate-site.co.uk", "origin": origin.url},
        ).json()
        _terminate(api, old["id"])
        # Linked before the erasure, by the telephone number.
        before = _customer(api, name="Early Return", email="x@early.biz", phone="090-5555-6666")
        [link] = _links(api, before["id"])
        assert {e["mark"]: e["value"] for e in link["evidence"]}["phone"] == "055556666"
        assert _marks(api, old["id"]) >= {"name", "email", "email_domain", "phone", "address", "origin_host"}

        r = api.as_("admin").post(f"/v1/customers/{old['id']}/erasure", json={"reason": "retention ended"})
        assert r.status_code == 200, r.text

        kinds = _marks(api, old["id"])
        assert kinds and not kinds & linking.IDENTITY_KINDS  # the sites' marks stay
        assert kinds <= {"origin_host", "origin_address", "registered_domain"}
        [link] = _links(api, before["id"])
        assert link["evidence"] == [{"mark": "phone", "label": "telephone number", "value": "(erased)"}]
        trail = api.as_("legal").get(f"/v1/audit/customer/{old['id']}").json()
        assert trail[-1]["action"] == "customer.identity_erased" and trail[-1]["data"]["identity_marks"] == 5

        # The same person signs up again: nothing of the erased identity recognises them, and the
        # erased placeholders link no two erased customers; the same site still does.
        again = _customer(api, name="Gone Pirate", email="boss@gonepirate.biz", phone="+81 90 5555 6666")
        assert not _links(api, again["id"])
        agent.post(
            f"/v1/customers/{again['id']}/verification/decision", json={"level": "identity", "reason": "ok"}
        )
        assert not _links(api, again["id"])
        with api.database.transaction() as session:
            erased = session.get(Customer, old["id"])
            assert erased is not None and erased.name == "(erased)"
            serial.store_marks(session, erased)
        assert not _marks(api, old["id"]) & linking.IDENTITY_KINDS  # recomputing does not bring them back
        agent.post(
            "/v1/zones",
            json={"customer_id": again["id"], "hostname": "www.pirate-site.co.uk", "origin": origin.url},
        )
        [link] = _links(api, again["id"])
        assert link["linked_customer_id"] == old["id"]
        assert {e["mark"] for e in link["evidence"]} == {"origin_host", "registered_domain"}
    assert zone["customer_id"] == old["id"]
