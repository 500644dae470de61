"""The OpenAPI document as a client needs it: who may call, and every way a call can fail.

FastAPI describes each operation's success and its request validation; the rest of what the API
answers comes from shared layers every operation passes through — the bearer key check (401, 403),
the body limit (413), the JSON reader (400, 415), the services' refusals (404 for what does not
exist, 409 for a state that does not allow the step) — so those answers are added here from the
operation's traits, all with the one error shape of ``api/errors.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA = "Error"
_ERROR_BODY: dict[str, Any] = {
    "title": ERROR_SCHEMA,
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "A stable, machine-readable reason."},
                "message": {"type": "string", "description": "What went wrong, for a person."},
                "details": {"description": "Structured particulars (fields, limits), or null."},
            },
        }
    },
}

_DESCRIPTIONS = {
    "400": "The request is malformed (its body is not valid JSON, or a header is invalid).",
    "401": "No API key, or a key that is not valid or has been revoked.",
    "403": "The key's role may not do this, or the object is not the caller's.",
    "404": "Something the request names does not exist (or is not visible to the caller).",
    "409": "The state of what the request names does not allow it now (the feed: reset past its log).",
    "413": "The request body is larger than the service accepts.",
    "415": "The body is not sent as JSON.",
    "422": "The request is well-formed but not valid; the details name each field.",
}


def error_statuses(*, secured: bool, has_body: bool) -> list[str]:
    """The error statuses an operation with these traits can answer."""
    statuses = {"404", "409", "413", "422"}
    if secured:
        statuses |= {"401", "403"}
    if has_body:
        statuses |= {"400", "415"}
    return sorted(statuses)


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add the error shape and each operation's error answers to an OpenAPI document."""
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})[ERROR_SCHEMA] = _ERROR_BODY
    reference = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in {"get", "head", "post", "put", "patch", "delete", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            statuses = error_statuses(
                secured=bool(operation.get("security")),
                has_body="requestBody" in operation,
            )
            for status in statuses:
                answer = responses.setdefault(status, {"description": _DESCRIPTIONS[status]})
                answer["content"] = {"application/json": {"schema": reference}}
    return document


def install(app: FastAPI) -> None:
    """Serve the completed document at ``/openapi.json`` (built once, on first request)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    openapi: Callable[[], dict[str, Any]] = build
    app.openapi = openapi  # type: ignore[method-assign]
