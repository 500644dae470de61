"""Two workers at once forward each notice to its host once and remind each silent host once
(claims with leases; reminders under FOR UPDATE SKIP LOCKED), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from sqlalchemy import select

from staydown.accounts import service as accounts
from staydown.enforcement.models import OutboxMessage
from staydown.hosts import service as hosts
from staydown.hosts.models import HostLookup
from tests.conftest import Api
from tests.hosts.rdapserver import RdapServer
from tests.support import active_zone, notice_body

NOTICES = 24


def together(work: Callable[[str], int]) -> list[int]:
    barrier = threading.Barrier(2)
    done: list[int] = []
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            barrier.wait(10)
            while n := work(name):
                done.append(n)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return done


def kinds(api: Api) -> Counter[str]:
    with api.database.reader() as session:
        return Counter(session.scalars(select(OutboxMessage.kind)))


def test_two_workers_forward_and_remind_each_once(api: Api, rdap: RdapServer) -> None:
    zone = active_zone(api, "busy.example.test", host_contact=None)
    # One notice, forwarded many times over (as many notices about one site would be).
    notice = api.as_("trusted_flagger").post(
        "/v1/notices", json=notice_body(["http://busy.example.test/a.jpg"])
    )
    with api.database.transaction() as session:
        stored = accounts.get_zone(session, zone["zone_id"])
        assert stored is not None
        for n in range(NOTICES - 1):
            hosts.forward_notice(
                session,
                stored,
                notice_id=notice.json()["id"],
                urls=[f"http://busy.example.test/{n}.jpg"],
                subject=f"notice {n}",
                body="the notice",
                payload={},
                complainant_email="agent@rights.example",
                complainant_trusted=False,
                now=api.clock(),
                settings=api.settings,
            )

    sent = together(
        lambda name: hosts.run_forwards(
            api.database, now=api.clock(), settings=api.settings, claimant=name, limit=3
        )
    )
    assert sum(sent) == NOTICES
    assert kinds(api)["notice_forward_host"] == NOTICES == kinds(api)["notice_host_receipt"]
    with api.database.reader() as session:
        assert len(session.scalars(select(HostLookup)).all()) == 1
    assert 1 <= len(rdap.requests) <= 2  # at most one lookup per worker before the answer is cached

    api.clock.advance(days=5, minutes=1)
    reminded = together(
        lambda _name: hosts.run_reminders(api.database, now=api.clock(), settings=api.settings, limit=4)
    )
    assert sum(reminded) == NOTICES == kinds(api)["notice_forward_host_reminder"]
