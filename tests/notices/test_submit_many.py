"""Notices taken in together (the mail reader's batch, ``notices.submit_many``): each is taken in as
it would be alone, in order, and one refused takes nothing of the others with it; a notice that acts
at once on a resource is the original of the next notice's copy of it in the same batch."""

from __future__ import annotations

from typing import Any

import pytest

from staydown.accounts import service as accounts
from staydown.notices import service as notices
from staydown.notices.schemas import NoticeCreate
from tests.conftest import Api
from tests.support import active_zone, notice_body

URL = "http://manga.example.test/chapter-2/page-03.jpg"
OTHER_SPELLING = "http://MANGA.example.test/chapter-2/./page-03.jpg"


@pytest.fixture
def zone(api: Api) -> dict[str, Any]:
    return active_zone(api, "manga.example.test")


def items(api: Api, notice_id: int) -> list[dict[str, Any]]:
    r = api.as_("agent").get(f"/v1/notices/{notice_id}")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_a_batch_takes_each_notice_in_as_alone(api: Api, zone: dict[str, Any]) -> None:
    with api.database.reader() as session:
        trusted = accounts.authenticate(session, api.keys["trusted_flagger"])
        assert trusted is not None
        trusted_id = trusted.id
    batch = [
        (notice_body([URL]), notices.Submitter(key_id=trusted_id, trusted=True, actor="flagger")),
        (notice_body(["ftp://manga.example.test/a"]), notices.Submitter(None, False, "mail:a@b.example")),
        (
            notice_body([OTHER_SPELLING, "http://elsewhere.example/x.jpg"]),
            notices.Submitter(None, False, "mail:c@d.example"),
        ),
        (notice_body([URL], signature=None), notices.Submitter(None, False, "mail:e@f.example")),
    ]
    with api.database.transaction() as session:
        taken = notices.submit_many(
            session,
            [(NoticeCreate.model_validate(body), by) for body, by in batch],
            now=api.clock(),
            settings=api.settings,
        )
        outcomes = [t.code if isinstance(t, notices.NoticeError) else (t.id, t.status.value) for t in taken]
    assert len(outcomes) == 4
    (acted, acted_status), refused, (copy, copy_status), (incomplete, incomplete_status) = outcomes
    assert refused == "invalid_items"
    assert acted_status == "actioned"  # a trusted flagger's complete notice is acted on at once
    [original] = items(api, acted)
    assert original["status"] == "actioned"
    # The next notice names the resource the first one just blocked: its copy is "already blocked".
    on_network, elsewhere = items(api, copy)
    assert (on_network["status"], on_network["duplicate_of"]) == ("actioned", original["id"])
    assert elsewhere["status"] == "not_on_network"
    assert copy_status == "actioned"
    assert incomplete_status == "incomplete"
    [waiting] = items(api, incomplete)
    assert waiting["status"] == "pending_review"
    listed = api.as_("agent").get("/v1/notices").json()
    assert listed["total"] == 3
