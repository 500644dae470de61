"""The audit chain: every step is chained, and tampering with any row is found and named."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import Api
from tests.support import active_zone, notice_body


def test_tampering_with_one_row_is_named(api: Api) -> None:
    active_zone(api, "audit.example.test")
    api.as_("trusted_flagger").post("/v1/notices", json=notice_body(["http://audit.example.test/a.jpg"]))
    ok = api.as_("agent").get("/v1/audit/verify").json()
    assert ok["ok"] is True and ok["first_bad"] is None
    total = ok["entries"]
    assert total >= 8
    with api.database.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_entries SET actor = 'someone-else' WHERE seq = :seq"), {"seq": total // 2}
        )
    broken = api.as_("legal").get("/v1/audit/verify").json()
    assert broken == {"ok": False, "entries": total // 2, "first_bad": total // 2, "reason": broken["reason"]}
    assert "digest" in broken["reason"]


def test_deleting_rows_is_found(api: Api) -> None:
    active_zone(api, "gone.example.test")
    total = api.as_("agent").get("/v1/audit/verify").json()["entries"]
    with api.database.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq = 2"))
    assert api.as_("agent").get("/v1/audit/verify").json()["first_bad"] == 2
    with api.database.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq >= 2"))
    tail = api.as_("agent").get("/v1/audit/verify").json()
    assert (tail["ok"], tail["first_bad"]) == (False, 2)
    assert total > 2


def test_rewriting_data_and_its_digest_still_breaks_the_next_link(api: Api) -> None:
    active_zone(api, "chain.example.test")
    with api.database.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET digest = :d WHERE seq = 3"), {"d": "0" * 64})
    result = api.as_("agent").get("/v1/audit/verify").json()
    assert result["first_bad"] == 3


def test_only_staff_verify(api: Api) -> None:
    assert api.as_("submitter").get("/v1/audit/verify").status_code == 403
    assert api.as_("edge").get("/v1/audit/verify").status_code == 403
