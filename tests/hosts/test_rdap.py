"""RDAP lookups against a real local server: the RFC 9083 answer read, cached for its max-age, and
every bad answer (slow, garbage, huge, redirected away or in circles, missing) turned into a
recorded reason within the bounds."""

from __future__ import annotations

import ipaddress
import time
from datetime import timedelta

import pytest

from staydown.config import Settings
from staydown.db.engine import Database
from staydown.hosts import rdap
from staydown.hosts.models import LookupStatus
from staydown.hosts.service import Rdap
from tests.conftest import Clock
from tests.hosts.rdapserver import ABUSE_EMAIL, NETWORK, RdapServer

ADDRESS = ipaddress.ip_address("127.0.0.1")


def test_the_rfc_example_names_the_holder_and_its_abuse_desk() -> None:
    holder = rdap.read_network(NETWORK)
    assert holder.abuse is not None and holder.abuse.emails == (ABUSE_EMAIL,)
    assert (holder.holder, holder.handle, holder.network) == (
        "Example Hosting",
        "XXXX-RIR",
        "127.0.0.0 - 127.255.255.255",
    )


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"entities": "not a list"},
        {
            "entities": [
                {"roles": ["abuse"], "vcardArray": ["vcard", [["email", {}, "text", "not an address"]]]}
            ]
        },
        {"entities": [{"roles": ["abuse"], "vcardArray": "garbage"}]},
        {"entities": [{"roles": [1, None], "vcardArray": ["vcard", [["email"]]]}]},
    ],
)
def test_answers_without_a_usable_abuse_entity_name_no_contact(document: dict[str, object]) -> None:
    assert rdap.read_network(document).abuse is None


def test_deeply_nested_or_wide_entities_are_read_within_bounds() -> None:
    node: dict[str, object] = {
        "roles": ["abuse"],
        "vcardArray": ["vcard", [["email", {}, "text", "deep@x.example"]]],
    }
    for _ in range(5000):
        node = {"entities": [node]}
    assert rdap.read_network(node).abuse is None  # deeper than MAX_DEPTH: not reached
    wide = {"entities": [{"roles": ["tech"]}] * 100_000}
    started = time.monotonic()
    assert rdap.read_network(wide).abuse is None
    assert time.monotonic() - started < 1


def test_a_lookup_is_kept_for_the_registrys_max_age(
    database: Database, settings: Settings, rdap: RdapServer, clock: Clock
) -> None:
    lookups = Rdap(settings)
    found = lookups.lookup(database, ADDRESS, now=clock())
    assert found.status is LookupStatus.found and found.abuse_email == ABUSE_EMAIL
    assert found.source == f"{rdap.url}/ip/127.0.0.1"
    assert found.expires_at == clock() + timedelta(seconds=3600)
    lookups.lookup(database, ADDRESS, now=clock.advance(minutes=59))
    assert len(rdap.requests) == 1
    lookups.lookup(database, ADDRESS, now=clock.advance(minutes=2))
    assert len(rdap.requests) == 2


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("no_abuse", "names no abuse contact"),
        ("garbage", "not JSON"),
        ("huge", "more than 100000 bytes"),
        ("slow", "did not answer in time"),
        ("loop", "more than 3 redirects"),
        ("missing", "has no record (404)"),
    ],
)
def test_bad_answers_are_recorded_with_their_reason(
    database: Database, settings: Settings, rdap: RdapServer, clock: Clock, mode: str, reason: str
) -> None:
    rdap.mode = mode
    started = time.monotonic()
    found = Rdap(settings).lookup(database, ADDRESS, now=clock())
    assert time.monotonic() - started < 2.5
    assert found.status is (LookupStatus.no_contact if mode == "no_abuse" else LookupStatus.failed)
    assert found.reason is not None and reason in found.reason
    asked = len(rdap.requests)
    Rdap(settings).lookup(database, ADDRESS, now=clock.advance(minutes=30))
    assert len(rdap.requests) == asked  # a failure is kept for the error cache time too


def test_a_redirect_is_followed_only_to_an_allowed_address(
    database: Database, settings: Settings, rdap: RdapServer, clock: Clock
) -> None:
    rdap.mode, rdap.redirect_to = "redirect", "/final/ip/127.0.0.1"
    found = Rdap(settings).lookup(database, ADDRESS, now=clock())
    assert found.status is LookupStatus.found and found.source == f"{rdap.url}/final/ip/127.0.0.1"

    rdap.redirect_to = "http://10.1.2.3/ip/127.0.0.1"
    rdap.requests.clear()
    found = Rdap(settings).lookup(database, ADDRESS, now=clock.advance(days=2))
    assert found.status is LookupStatus.failed
    assert found.reason is not None and "a private address" in found.reason
    assert rdap.requests == ["/ip/127.0.0.1"]

    rdap.redirect_to = "file:///etc/passwd"
    found = Rdap(settings).lookup(database, ADDRESS, now=clock.advance(days=2))
    assert found.reason == "redirected to a URL that is not http or https"


def test_without_a_configured_service_the_bootstrap_names_none_for_loopback(
    database: Database, settings: Settings, clock: Clock, rdap: RdapServer
) -> None:
    found = Rdap(settings.model_copy(update={"rdap_url": None})).lookup(database, ADDRESS, now=clock())
    assert found.status is LookupStatus.failed
    assert found.reason == "no RDAP service in the bootstrap registry covers 127.0.0.1"
    assert rdap.requests == []


def test_a_service_that_does_not_listen_is_a_reason_too(
    database: Database, settings: Settings, clock: Clock
) -> None:
    found = Rdap(settings.model_copy(update={"rdap_url": "http://127.0.0.1:9/"})).lookup(
        database, ADDRESS, now=clock()
    )
    assert found.status is LookupStatus.failed and found.reason is not None
    assert "could not be read" in found.reason
