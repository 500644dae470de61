"""Request dependencies: settings, database sessions, the clock and the caller's role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.api.errors import BEARER_CHALLENGE, ApiError
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.i18n import negotiate
from staydown.netguard import OriginGuard
from staydown.types import Clock, Role


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    key_id: int
    role: Role
    trusted: bool
    customer_id: int | None

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"


# The request's shared objects are async on purpose: FastAPI runs a plain function dependency in
# its thread pool, a thread hop per dependency per request for a lookup of an attribute.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_origin_guard(request: Request) -> OriginGuard:
    guard: OriginGuard = request.app.state.origin_guard
    return guard


async def get_now(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock()


def writer(database: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    """A writing session; routes commit it themselves before answering, and a failure rolls it back."""
    with database.writer() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise


def reader(database: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    with database.reader() as session:
        yield session


# Declares the bearer scheme in the OpenAPI document (and on every operation that needs a key); the
# check itself is below, so that every refusal has the common error shape.
bearer = HTTPBearer(auto_error=False, description="An API key: 'Authorization: Bearer KEY'.")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def principal(
    request: Request,
    database: Annotated[Database, Depends(get_database)],
    _credentials: BearerCredentials = None,
) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "unauthorized", "send an API key as 'Authorization: Bearer KEY'")
    with database.reader() as session:
        key = accounts.authenticate(session, secret.strip())
        if key is None:
            raise ApiError(
                401,
                "unauthorized",
                "the API key is not valid or has been revoked",
                headers={"WWW-Authenticate": f'{BEARER_CHALLENGE}, error="invalid_token"'},
            )
        return Principal(key.id, key.role, key.trusted, key.customer_id)


def admitted(who: Principal, *roles: Role) -> Principal:
    """``who`` when its role is one of ``roles`` or ``admin`` (who may do everything), else 403."""
    allowed = {*roles, Role.admin}
    if who.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise ApiError(403, "forbidden", f"this needs one of the roles: {names}; the key is {who.role.value}")
    return who


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting ``roles`` (and ``admin``)."""

    # async: a plain function would cost a thread hop, and a wait for the event loop, on every
    # request that needs a role (see get_settings).
    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        return admitted(who, *roles)

    return check


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
NowDep = Annotated[datetime, Depends(get_now)]
GuardDep = Annotated[OriginGuard, Depends(get_origin_guard)]
Writer = Annotated[Session, Depends(writer)]
Reader = Annotated[Session, Depends(reader)]
AnyRole = Annotated[Principal, Depends(principal)]


async def request_locale(request: Request, settings: SettingsDep) -> str:
    """The language a request asks for (``Accept-Language``), else the configured default."""
    return negotiate(request.headers.get("accept-language"), default=settings.default_locale)


LocaleDep = Annotated[str, Depends(request_locale)]
