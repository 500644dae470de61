"""What every desk page shares: templates, the signed-in principal, CSRF, flash messages, errors.

Routes of the desk use ``DeskRoute``, which turns refusals and domain errors into HTML pages (or a
redirect to sign in) instead of the API's JSON error envelope.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlsplit

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from staydown.accounts.service import AccountError
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.desk import names, service
from staydown.desk.service import DeskError, DeskPrincipal
from staydown.disclosure.service import DisclosureError
from staydown.due_process.service import DueProcessError
from staydown.fingerprints.service import StaydownError
from staydown.netguard import OriginGuard
from staydown.notices.service import NoticeError
from staydown.policy.service import PolicyError
from staydown.types import Clock, Role, as_utc
from staydown.works.service import WorkError

PREFIX = "/desk"
TEMPLATES = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")
SESSION_COOKIE = "staydown_desk"
PRE_CSRF_COOKIE = "staydown_desk_csrf"
FLASH_COOKIE = "staydown_desk_flash"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _duration(seconds: float) -> str:
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


def _when(value: datetime | None) -> str:
    return "" if value is None else as_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def _iso(value: datetime | None) -> str:
    return "" if value is None else as_utc(value).isoformat()


def _label(value: object) -> str:
    text = getattr(value, "value", value)
    return str(text).replace("_", " ")


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg"]),
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
environment.filters.update(duration=_duration, when=_when, iso=_iso, label=_label)
environment.globals.update(prefix=PREFIX, Role=Role)


class SignInRequired(Exception):
    """No live session: send the browser to the sign-in page."""


class DeskRoute(APIRoute):
    """Render refusals and domain errors as desk pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def render_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{PREFIX}/signin?next={quote(target)}", status_code=303)
            except DeskError as exc:
                return error_page(request, exc.status, exc.message)
            except (
                NoticeError,
                AccountError,
                PolicyError,
                DueProcessError,
                DisclosureError,
                StaydownError,
                WorkError,
            ) as exc:
                return error_page(request, exc.status, exc.message)
            except RequestValidationError as exc:
                fields = sorted(
                    {".".join(str(p) for p in e.get("loc", ())[1:]) or "form" for e in exc.errors()}
                )
                return error_page(request, 422, "the form is not complete: " + ", ".join(fields))

        return render_errors


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def guard_of(request: Request) -> OriginGuard:
    """The guard every connection to a zone origin is made through (see ``netguard``)."""
    guard: OriginGuard = request.app.state.origin_guard
    return guard


def database_of(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def session_limits(request: Request) -> service.SessionLimits:
    return service.SessionLimits.of(settings_of(request))


def now_of(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock()


def secure_request(request: Request) -> bool:
    return request.url.scheme == "https"


def current(request: Request) -> DeskPrincipal | None:
    """The principal of the request's session cookie, or None (cached on the request)."""
    if hasattr(request.state, "desk_principal"):
        cached: DeskPrincipal | None = request.state.desk_principal
        return cached
    token = request.cookies.get(SESSION_COOKIE, "")
    found: DeskPrincipal | None = None
    if token:
        now = now_of(request)
        database = database_of(request)
        with database.reader() as session:
            resolved = service.resolve(session, token, now=now, limits=session_limits(request))
        if resolved is not None:
            found, stale = resolved
            if stale:
                with database.transaction() as session:
                    service.touch(session, found.session_id, now=now)
    request.state.desk_principal = found
    return found


def signed_in(request: Request) -> DeskPrincipal:
    who = current(request)
    if who is None:
        raise SignInRequired
    return who


def allow(*roles: Role) -> Callable[[Request], DeskPrincipal]:
    """A dependency admitting signed-in ``roles`` (and admin)."""
    allowed = {*roles, Role.admin}

    def check(request: Request) -> DeskPrincipal:
        who = signed_in(request)
        if who.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise DeskError(403, f"this page is for: {names}; you are signed in as {who.role.value}")
        return who

    return check


async def csrf_protect(request: Request) -> None:
    """Refuse a state-changing request whose form does not carry the session's CSRF token.

    Before sign-in the token is the one set in a cookie with the sign-in form (double submit);
    afterwards it is the session's own. A cross-site ``Origin`` is refused outright.
    """
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise DeskError(403, "cross-site form submission refused")
    given = request.headers.get("x-csrf-token")
    if given is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    who = current(request)
    expected = who.csrf_token if who is not None else request.cookies.get(PRE_CSRF_COOKIE, "")
    if not expected or not service.csrf_matches(expected, given):
        raise DeskError(403, "the form's security token is missing or out of date; reload the page")


def flash(response: Response, message: str, request: Request) -> Response:
    response.set_cookie(
        FLASH_COOKIE,
        quote(message[:400]),
        max_age=60,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=secure_request(request),
    )
    return response


def redirect(request: Request, path: str, message: str | None = None) -> Response:
    response = RedirectResponse(path, status_code=303)
    return flash(response, message, request) if message else response


def nav_for(who: DeskPrincipal | None) -> list[tuple[str, str]]:
    """The navigation a role sees: (path, label)."""
    if who is None:
        return []
    links: list[tuple[str, str]] = []
    staff = who.role in (Role.agent, Role.admin)
    if staff:
        links += [
            (f"{PREFIX}/queue", "Review queue"),
            (f"{PREFIX}/inbound", "Mail triage"),
            (f"{PREFIX}/notices", "All notices"),
            (f"{PREFIX}/board", "Repeat infringers"),
            (f"{PREFIX}/customers", "Customers"),
            (f"{PREFIX}/matches", "Stay-down matches"),
            (f"{PREFIX}/trusted-flaggers", "Trusted flaggers"),
            (f"{PREFIX}/edges", "Edges"),
            (f"{PREFIX}/certificates", "Certificates"),
            (f"{PREFIX}/bank", "Hash bank"),
        ]
    if who.role is Role.legal:
        # Disclosure is the legal role's alone (not admin's): see desk/legal.py.
        links += [
            (f"{PREFIX}/legal", "Disclosure orders"),
            (f"{PREFIX}/legal/holds", "Legal holds"),
            (f"{PREFIX}/notices", "Notices"),
            (f"{PREFIX}/customers", "Customers"),
        ]
    if who.role in (Role.agent, Role.legal, Role.admin):
        links += [(f"{PREFIX}/transparency", "Transparency")]
    if who.role is Role.submitter:
        links += [
            (f"{PREFIX}/submit", "Submit a notice"),
            (f"{PREFIX}/submit/bulk", "Bulk upload"),
            (f"{PREFIX}/my/notices", "My notices"),
            (f"{PREFIX}/works", "Works"),
        ]
    if who.role is Role.customer:
        links += [
            (f"{PREFIX}/account", "Account"),
            (f"{PREFIX}/account/zones", "Zones"),
            (f"{PREFIX}/account/notices", "Notices"),
            (f"{PREFIX}/account/restrictions", "Restrictions"),
            (f"{PREFIX}/account/strikes", "Strikes and policy"),
        ]
    return links


def current_link(links: list[tuple[str, str]], path: str) -> str | None:
    """The navigation link a page belongs to: the longest one that is the path or a parent of it."""
    found = [href for href, _ in links if path == href or path.startswith(href + "/")]
    return max(found, key=len, default=None)


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render a page with the layout's shared context (principal, navigation, flash, CSRF)."""
    who = current(request)
    flash_message = unquote(request.cookies.get(FLASH_COOKIE, "")) or None
    csrf = who.csrf_token if who is not None else request.cookies.get(PRE_CSRF_COOKIE, "")
    variables: dict[str, Any] = {
        "request": request,
        "who": who,
        "nav": nav_for(who),
        "nav_current": current_link(nav_for(who), request.url.path),
        "path": request.url.path,
        "flash": flash_message,
        "csrf": csrf,
        "provider": settings_of(request).provider_name,
        "server_now": now_of(request),
        "actor": names.namer(database_of(request)),
    }
    variables.update(context or {})
    page = environment.get_template(template).render(variables)
    response = HTMLResponse(page, status_code=status)
    response.headers["cache-control"] = "no-store"
    response.headers["x-frame-options"] = "DENY"
    response.headers["referrer-policy"] = "same-origin"
    response.headers["content-security-policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    if flash_message:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    titles = {401: "Not signed in", 403: "Not allowed", 404: "Not found", 409: "Not possible now"}
    return render(
        request,
        "error.html",
        {"status": status, "title": titles.get(status, "Something is not right"), "message": message},
        status=status,
    )


class Pager:
    """One page of a list: which rows, and links to the neighbours."""

    def __init__(self, *, page: int, per_page: int, total: int | None, more: bool = False) -> None:
        self.page, self.per_page, self.total = page, per_page, total
        # Without a total (too dear to count), the last known page is the next one if more follow.
        self.pages = max(1, math.ceil(total / per_page)) if total is not None else page + int(more)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def form_ids(values: Iterable[str]) -> list[int]:
    ids = []
    for value in values:
        if not value.isdigit():
            raise DeskError(422, f"{value!r} is not an item id")
        ids.append(int(value))
    return ids


def db_reader(request: Request) -> Session:
    return database_of(request).reader()


Staff = Annotated[DeskPrincipal, Depends(allow(Role.agent))]
StaffOrLegal = Annotated[DeskPrincipal, Depends(allow(Role.agent, Role.legal))]
Legal = Annotated[DeskPrincipal, Depends(allow(Role.legal))]
Submitter = Annotated[DeskPrincipal, Depends(allow(Role.submitter))]
CustomerRole = Annotated[DeskPrincipal, Depends(allow(Role.customer))]
AnyDesk = Annotated[DeskPrincipal, Depends(signed_in)]
