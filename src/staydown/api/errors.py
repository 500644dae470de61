"""One error shape for every failure: ``{"error": {"code", "message", "details"}}``.

An error answer never repeats the request back: a validation error says where (``loc``), what
(``msg``, ``type``) and at most a short repr of a scalar input, so the answer stays small and is
valid JSON whatever the body held (``NaN``, infinities, lone surrogates, megabytes of array).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from staydown.accounts.service import AccountError
from staydown.db.base import ROW_ID_LIMIT
from staydown.notices.service import NoticeError
from staydown.policy.service import PolicyError
from staydown.types import Regime

log = logging.getLogger(__name__)

BEARER_CHALLENGE = 'Bearer realm="staydown"'
JSON_MEDIA_TYPE = "application/json"

# The widest integer SQLite stores (the id columns' limit on PostgreSQL is db.base.ROW_ID_LIMIT).
_INT64_LIMIT = 2**63
# SQLSTATE numeric_value_out_of_range: PostgreSQL's "integer out of range" and kin.
_SQLSTATE_OUT_OF_RANGE = "22003"

OUT_OF_RANGE = "a number in the request is larger (or smaller) than the service can store"

_MAX_INPUT_CHARS = 40
_MAX_LOC_CHARS = 64
_MAX_MSG_CHARS = 300
_PROBED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class ApiError(Exception):
    """An error raised by a route, rendered in the common shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = dict(headers or {})


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Render an error in the common shape; a 401 always carries a Bearer challenge."""
    body = {"error": {"code": code, "message": message, "details": jsonable_encoder(details)}}
    merged = dict(headers or {})
    if status == 401 and not any(name.lower() == "www-authenticate" for name in merged):
        merged["WWW-Authenticate"] = BEARER_CHALLENGE
    return JSONResponse(body, status_code=status, headers=merged or None)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def safe_text(value: object, limit: int) -> str:
    """``value`` as text of at most ``limit`` characters that always encodes as UTF-8 JSON."""
    if isinstance(value, int) and value.bit_length() > 128:
        text = f"<integer of {value.bit_length()} bits>"
    else:
        text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    # A lone surrogate (from a "\ud800" escape) cannot be encoded; show it as its escape.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _short_repr(value: object) -> str | None:
    """A short repr of a scalar input, or None for containers and raw bodies."""
    if isinstance(value, str):
        cut = value[:_MAX_INPUT_CHARS]
        return repr(cut) + ("…" if len(value) > len(cut) else "")
    if isinstance(value, int) and not isinstance(value, bool):
        return safe_text(value, _MAX_INPUT_CHARS)
    if isinstance(value, bool | float) or value is None:
        return repr(value)
    return None


def _detail(error: Mapping[str, Any]) -> dict[str, Any]:
    loc = [
        part if isinstance(part, int) and abs(part) < _INT64_LIMIT else safe_text(part, _MAX_LOC_CHARS)
        for part in error.get("loc", ())
    ]
    kind = str(error.get("type", "value_error"))
    msg = str(error.get("msg", ""))
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error")
        msg = f"{msg}: {reason}" if reason else msg
    detail: dict[str, Any] = {"loc": loc, "msg": safe_text(msg, _MAX_MSG_CHARS), "type": kind}
    shown = None if kind == "json_invalid" else _short_repr(error.get("input"))
    if shown is not None:
        detail["input"] = shown
    return detail


def _unsupported_media_type(request: Request) -> JSONResponse:
    received = request.headers.get("content-type")
    return error_response(
        415,
        "unsupported_media_type",
        f"send the body as JSON with 'Content-Type: {JSON_MEDIA_TYPE}'",
        {"expected": JSON_MEDIA_TYPE, "received": safe_text(received, 100) if received else None},
    )


def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    documented = request.app.openapi().get("paths", {}).get(request.scope["path"])
    if documented and request.method.lower() not in documented:
        # /v1/works/import is its own resource, not work "import" of /v1/works/{work_id}: a method
        # it does not take is refused as such, not as a bad work id.
        allowed = _allowed_methods(request, "")
        return error_response(405, "method_not_allowed", "Method Not Allowed", headers={"Allow": allowed})
    errors = exc.errors()
    # FastAPI hands a route the raw bytes only when the body was not declared as JSON.
    if any(
        tuple(error.get("loc", ()))[:1] == ("body",) and isinstance(error.get("input"), bytes | bytearray)
        for error in errors
    ):
        return _unsupported_media_type(request)
    if any(error.get("type") == "json_invalid" for error in errors):
        return error_response(
            400, "malformed_json", "the request body is not valid JSON", [_detail(e) for e in errors[:5]]
        )
    if any(tuple(error.get("loc", ()))[-1:] == ("regime",) for error in errors):
        return error_response(
            422,
            "unknown_regime",
            "regime must be one of " + ", ".join(repr(regime.value) for regime in Regime),
            [_detail(e) for e in errors[:20]],
        )
    details = [_detail(e) for e in errors[:50]]
    fields = sorted({".".join(str(part) for part in detail["loc"][1:4]) for detail in details})
    message = "the request is not valid: " + ", ".join(f or "body" for f in fields[:10])
    return error_response(422, "validation_error", safe_text(message, 1000), details)


def _integer_outside(value: object, limit: int) -> bool:
    """Whether ``value`` is an integer literal outside ``[-limit, limit)``."""
    if isinstance(value, int) and not isinstance(value, bool):  # a path converted by ``:int``
        return not -limit <= value < limit
    if not isinstance(value, str):
        return False
    digits = value.removeprefix("-").removeprefix("+").lstrip("0")
    if not digits:
        return False
    if not (digits.isascii() and digits.isdigit()):
        return False
    if len(digits) > 19:
        return True
    return not -limit <= int(value) < limit


def _out_of_range(request: Request, limit: int) -> JSONResponse:
    """A number the database cannot hold: an id in the path names nothing; anything else is refused."""
    for name, value in request.path_params.items():
        if _integer_outside(value, limit):
            noun = name.removesuffix("_id").replace("_", " ")
            return error_response(404, "not_found", f"{noun} {safe_text(value, 40)} does not exist")
    return error_response(422, "out_of_range", OUT_OF_RANGE)


def _allowed_methods(request: Request, declared: str) -> str:
    """Every method the target resource takes: the route's own and those of routes on the same path."""
    # A fixed path (/v1/works/import) names its own resource, not a value of a neighbour's
    # parameter (/v1/works/{work_id}), whose methods the router may have named: the methods
    # documented for exactly that path are the resource's.
    documented = request.app.openapi().get("paths", {}).get(request.scope["path"])
    if documented:
        methods = {m.upper() for m in documented if m.upper() in _PROBED_METHODS}
        if "GET" in methods:
            methods.add("HEAD")
        return ", ".join(sorted(methods))
    methods = {m.strip().upper() for m in declared.split(",") if m.strip()}
    routes = request.app.router.routes
    for method in _PROBED_METHODS:
        probe = {
            "type": "http",
            "method": method,
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "headers": [],
            "query_string": b"",
        }
        if any(not isinstance(r, Mount) and r.matches(probe)[0] == Match.FULL for r in routes):
            methods.add(method)
    if not methods:
        # Only a mounted static directory refuses a method without naming the ones it takes.
        methods.add("GET")
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    """Register the handlers that render every failure in the common shape."""

    @app.exception_handler(ApiError)
    async def _api(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, headers=exc.headers)

    @app.exception_handler(NoticeError)
    async def _notice(_request: Request, exc: NoticeError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(AccountError)
    async def _account(_request: Request, exc: AccountError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(PolicyError)
    async def _policy(_request: Request, exc: PolicyError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation(request, exc)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        # SQLite's driver refuses integers beyond 64 bits before the statement runs.
        log.info("number out of range on %s %s: %s", request.method, request.url.path, exc)
        return _out_of_range(request, _INT64_LIMIT)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        if getattr(exc.orig, "sqlstate", None) == _SQLSTATE_OUT_OF_RANGE:
            log.info("number out of range on %s %s: %s", request.method, request.url.path, exc.orig)
            return _out_of_range(request, ROW_ID_LIMIT)
        return _internal(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            declared = next((v for k, v in headers.items() if k.lower() == "allow"), "")
            headers = {k: v for k, v in headers.items() if k.lower() != "allow"}
            headers["Allow"] = _allowed_methods(request, declared)
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _internal(request, exc)


def _internal(request: Request, exc: Exception) -> JSONResponse:
    return internal_error(request.method, request.url.path, exc)


def internal_error(method: str, path: str, exc: Exception) -> JSONResponse:
    """Log an unexpected failure and answer 500 in the common shape, saying no more."""
    log.error("unhandled error on %s %s", method, path, exc_info=exc)
    return error_response(500, "internal_error", "an internal error occurred; it has been logged")
