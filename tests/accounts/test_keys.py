"""API keys over HTTP: administrators list and revoke them, and a revoked key is refused at once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from staydown.accounts import service as accounts
from tests.conftest import Api
from tests.support import customer_body, notice_body

HUGE_ID = "99999999999999999999"


def listed(api: Api) -> dict[str, dict[str, Any]]:
    """The keys as GET /v1/keys shows them, by name."""
    r = api.as_("admin").get("/v1/keys")
    assert r.status_code == 200, r.text
    return {key["name"]: key for key in r.json()}


def customer_key(api: Api) -> tuple[str, int]:
    customer = api.as_("agent").post("/v1/customers", json=customer_body("Key Holder")).json()
    r = api.as_("admin").post(
        "/v1/keys", json={"role": "customer", "name": "customer", "customer_id": customer["id"]}
    )
    assert r.status_code == 201, r.text
    return r.json()["key"], customer["id"]


def with_key(api: Api, secret: str) -> httpx.Client:
    client = httpx.Client(base_url=api.url, headers={"authorization": f"Bearer {secret}"}, timeout=30)
    api.clients.append(client)
    return client


def test_admin_lists_every_key_without_its_secret(api: Api) -> None:
    secret, customer_id = customer_key(api)
    r = api.as_("admin").get("/v1/keys")
    keys = {key["name"]: key for key in r.json()}
    assert set(keys) == {*api.keys, "customer"}
    assert [key["id"] for key in r.json()] == sorted(key["id"] for key in r.json())
    assert keys["trusted_flagger"] | {"id": None} == {
        "id": None,
        "name": "trusted_flagger",
        "role": "submitter",
        "trusted": True,
        "customer_id": None,
        "prefix": api.keys["trusted_flagger"][:10],
        "created_at": "2026-11-02T09:00:00Z",
        "revoked_at": None,
    }
    assert keys["customer"]["role"] == "customer"
    assert keys["customer"]["customer_id"] == customer_id
    for full in [*api.keys.values(), secret]:
        assert full not in r.text
        assert accounts.hash_key(full) not in r.text


@pytest.mark.parametrize("role", ["agent", "legal", "submitter", "trusted_flagger", "edge", "customer"])
def test_only_an_admin_lists_or_revokes_keys(api: Api, role: str) -> None:
    secret, _customer_id = customer_key(api)
    caller = with_key(api, secret) if role == "customer" else api.as_(role)
    target = listed(api)["agent2"]["id"]
    r = caller.get("/v1/keys")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    r = caller.delete(f"/v1/keys/{target}")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    assert listed(api)["agent2"]["revoked_at"] is None
    assert api.as_("agent2").get("/v1/keys").status_code == 403  # still authenticated: not 401


def test_revoked_key_is_refused_on_its_very_next_request(api: Api) -> None:
    edge = api.as_("edge")
    submitter = api.as_("submitter")
    assert edge.get("/v1/edge/feed", params={"after": 0}).status_code == 200
    assert submitter.post("/v1/notices", json=notice_body(["http://x.test/a"])).status_code == 201
    keys = listed(api)
    admin_id = keys["admin"]["id"]

    api.clock.advance(minutes=5)
    for name in ("edge", "submitter"):
        r = api.as_("admin").delete(f"/v1/keys/{keys[name]['id']}")
        assert r.status_code == 204
        assert r.content == b""

    r = edge.get("/v1/edge/feed", params={"after": 0})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert submitter.post("/v1/notices", json=notice_body(["http://x.test/b"])).status_code == 401
    assert api.as_("agent").get("/v1/audit/verify").status_code == 200  # other keys still work

    revoked = listed(api)
    assert revoked["edge"]["revoked_at"] == "2026-11-02T09:05:00Z"
    assert revoked["agent"]["revoked_at"] is None

    trail = api.as_("agent").get(f"/v1/audit/api_key/{keys['edge']['id']}").json()
    assert [(e["action"], e["actor"]) for e in trail] == [
        ("key.created", "system"),
        ("key.revoked", f"key:{admin_id}"),
    ]
    assert trail[-1]["data"]["key_id"] == keys["edge"]["id"]
    assert api.as_("agent").get("/v1/audit/verify").json()["ok"] is True


def test_revoking_twice_is_harmless(api: Api) -> None:
    key_id = listed(api)["agent2"]["id"]
    assert api.as_("admin").delete(f"/v1/keys/{key_id}").status_code == 204
    first = listed(api)["agent2"]["revoked_at"]
    api.clock.advance(hours=1)
    assert api.as_("admin").delete(f"/v1/keys/{key_id}").status_code == 204
    assert listed(api)["agent2"]["revoked_at"] == first
    trail = api.as_("agent").get(f"/v1/audit/api_key/{key_id}").json()
    assert [e["action"] for e in trail] == ["key.created", "key.revoked"]
    assert api.as_("agent2").get("/v1/audit/verify").status_code == 401


def test_unknown_key_is_not_found(api: Api) -> None:
    for key_id in ("424242", "3000000000", HUGE_ID, "0", "-1"):
        r = api.as_("admin").delete(f"/v1/keys/{key_id}")
        assert r.status_code == 404, (key_id, r.text)
        assert r.json()["error"]["code"] == "not_found"


def test_an_admin_cannot_revoke_the_key_it_is_using(api: Api) -> None:
    admin_id = listed(api)["admin"]["id"]
    r = api.as_("admin").delete(f"/v1/keys/{admin_id}")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "cannot_revoke_own_key"
    assert "another admin key" in r.json()["error"]["message"]
    assert listed(api)["admin"]["revoked_at"] is None
    assert [e["action"] for e in api.as_("agent").get(f"/v1/audit/api_key/{admin_id}").json()] == [
        "key.created"
    ]

    second = api.as_("admin").post("/v1/keys", json={"role": "admin", "name": "admin2"}).json()
    assert with_key(api, second["key"]).delete(f"/v1/keys/{admin_id}").status_code == 204
    assert api.as_("admin").get("/v1/keys").status_code == 401


def test_a_customer_id_that_names_no_customer_is_not_found(api: Api) -> None:
    for customer_id in (424242, 3_000_000_000, int(HUGE_ID)):
        r = api.as_("admin").post("/v1/keys", json={"role": "customer", "customer_id": customer_id})
        assert r.status_code == 404, r.text
        assert r.json()["error"] == {
            "code": "not_found",
            "message": f"customer {customer_id} does not exist",
            "details": None,
        }
    assert api.as_("agent").get(f"/v1/customers/{HUGE_ID}").status_code == 404
    assert api.as_("agent").get(f"/v1/zones/{HUGE_ID}").status_code == 404
    assert set(listed(api)) == set(api.keys)
