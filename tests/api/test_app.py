"""The assembled API over HTTP: HEAD wherever GET is answered, and 405 naming what is allowed."""

from __future__ import annotations

from tests.conftest import Api


def allowed(value: str) -> set[str]:
    return {method.strip() for method in value.split(",")}


def test_a_refused_method_is_answered_with_every_allowed_one(api: Api) -> None:
    admin = api.as_("admin")
    r = admin.put("/v1/notices")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert allowed(r.headers["allow"]) == {"GET", "HEAD", "POST"}
    assert allowed(admin.delete("/v1/notices/1").headers["allow"]) == {"GET", "HEAD"}
    assert allowed(admin.get("/v1/zones/1/rate-limit").headers["allow"]) == {"POST"}
    assert allowed(admin.post("/healthz").headers["allow"]) == {"GET", "HEAD"}


def test_head_answers_as_get_without_a_body(api: Api) -> None:
    admin = api.as_("admin")
    for path in ("/healthz", "/v1/notices", "/openapi.json"):
        got, head = admin.get(path), admin.head(path)
        assert got.status_code == head.status_code == 200
        assert head.content == b""
        for name in ("content-type", "content-length"):
            assert head.headers[name] == got.headers[name], name

    head = api.client().head("/v1/notices")
    assert head.status_code == 401
    assert head.headers["www-authenticate"].startswith("Bearer")
    assert head.content == b""
    head = admin.head("/v1/notices/12345")
    assert head.status_code == 404
    head = admin.head("/v1/zones/1/rate-limit")
    assert head.status_code == 405
    assert allowed(head.headers["allow"]) == {"POST"}
