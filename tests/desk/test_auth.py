"""Signing in to the desk: API keys and passwords, CSRF on every form, expiry, role-aware pages."""

from __future__ import annotations

import httpx

from staydown.desk import service
from staydown.types import Role
from tests.conftest import Api
from tests.desk.support import DeskClient

PASSWORD = "correct horse battery staple"


def make_user(api: Api, email: str, role: Role, **extra: object) -> None:
    with api.database.transaction() as session:
        service.create_user(
            session, email=email, password=PASSWORD, role=role, now=api.clock(), actor="test", **extra
        )


def test_agent_signs_in_with_a_key_and_sees_agent_navigation(api: Api) -> None:
    desk = DeskClient(api)
    first = desk.get("/desk/queue")
    assert first.status_code == 303 and first.headers["location"].startswith("/desk/signin?next=")
    desk.sign_in_with_key(api.keys["agent"])
    page = desk.get("/desk/queue")
    assert page.status_code == 200
    assert "Review queue" in page.text and "Repeat infringers" in page.text
    assert "Submit a notice" not in page.text
    cookie = next(c for c in desk.http.cookies.jar if c.name == "staydown_desk")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/desk"
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_roles_only_reach_their_pages(api: Api) -> None:
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["submitter"])
    assert desk.get("/desk/queue").status_code == 403
    assert desk.get("/desk/customers").status_code == 403
    page = desk.get("/desk/my/notices")
    assert page.status_code == 200 and "Submit a notice" in page.text and "Review queue" not in page.text


def test_edge_and_unknown_keys_cannot_sign_in(api: Api) -> None:
    desk = DeskClient(api)
    desk.get("/desk/signin")
    refused = desk.post("/desk/signin/key", {"key": api.keys["edge"]})
    assert refused.status_code == 401 and "not valid for the desk" in refused.text
    assert desk.post("/desk/signin/key", {"key": "sd_nothing"}).status_code == 401
    assert "staydown_desk" not in desk.http.cookies


def test_password_sign_in_counts_failures_and_locks(api: Api) -> None:
    make_user(api, "agent@desk.example", Role.agent)
    desk = DeskClient(api)
    wrong = desk.sign_in("agent@desk.example", "not the password")
    assert wrong.status_code == 401 and "not right" in wrong.text
    assert desk.sign_in("nobody@desk.example", PASSWORD).status_code == 401
    ok = desk.sign_in("AGENT@desk.example", PASSWORD)
    assert ok.status_code == 303
    assert "agent@desk.example" in desk.get("/desk/queue").text
    other = DeskClient(api)
    for _ in range(service.MAX_FAILED_ATTEMPTS):
        assert other.sign_in("agent@desk.example", "guess").status_code == 401
    locked = other.sign_in("agent@desk.example", PASSWORD)
    assert locked.status_code == 429
    api.clock.advance(minutes=16)
    assert other.sign_in("agent@desk.example", PASSWORD).status_code == 303


def test_password_users_act_through_their_own_key(api: Api) -> None:
    make_user(api, "rights@desk.example", Role.submitter)
    desk = DeskClient(api)
    desk.sign_in("rights@desk.example", PASSWORD)
    page = desk.get("/desk/my/notices")
    assert page.status_code == 200 and "rights@desk.example" in page.text
    audit = api.as_("admin").get("/v1/audit/verify").json()
    assert audit["ok"] is True


def test_forms_without_the_csrf_token_are_refused(api: Api) -> None:
    plain = httpx.post(f"{api.url}/desk/signin/key", data={"key": api.keys["agent"]})
    assert plain.status_code == 403
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["agent"])
    no_token = desk.http.post("/desk/customers", data={"name": "X", "email": "x@example.com"})
    assert no_token.status_code == 403 and "security token" in no_token.text
    wrong = desk.http.post(
        "/desk/customers", data={"name": "X", "email": "x@example.com", "csrf_token": "forged"}
    )
    assert wrong.status_code == 403
    cross = desk.http.post(
        "/desk/customers",
        data={"name": "X", "email": "x@example.com", "csrf_token": desk.csrf},
        headers={"origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    ok = desk.post("/desk/customers", {"name": "X Shop", "email": "x@example.com"})
    assert ok.status_code == 303


def test_sessions_expire_when_idle_and_end_on_sign_out(api: Api) -> None:
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["agent"])
    api.clock.advance(minutes=20)
    assert desk.get("/desk/queue").status_code == 200
    api.clock.advance(minutes=20)
    assert desk.get("/desk/queue").status_code == 200  # activity 20 minutes ago keeps it alive
    api.clock.advance(minutes=31)
    assert desk.get("/desk/queue").status_code == 303
    desk.sign_in_with_key(api.keys["agent"])
    assert desk.post("/desk/signout").status_code == 303
    stolen = httpx.Client(base_url=api.url, cookies={"staydown_desk": "x"})
    assert stolen.get("/desk/queue").status_code == 303
    stolen.close()
    assert desk.get("/desk/queue").status_code == 303


def test_sessions_end_when_the_key_is_revoked(api: Api) -> None:
    from staydown.accounts.models import ApiKey

    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["agent2"])
    with api.database.transaction() as session:
        key = session.query(ApiKey).filter_by(name="agent2").one()
        key.revoked_at = api.clock()
    assert desk.get("/desk/queue").status_code == 303
