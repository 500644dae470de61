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

from staydown import i18n
from staydown.accounts.service import AccountError
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.desk import labels, names, service
from staydown.desk.service import DeskError, DeskPrincipal
from staydown.disclosure.service import DisclosureError
from staydown.due_process.service import DueProcessError
from staydown.fingerprints.service import StaydownError
from staydown.i18n import Message, _
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


def _duration(seconds: float, locale: str = "en") -> str:
    """A span of time as ``3d 4h``, ``2h 05m`` or ``7m`` (``3日4時間`` in Japanese)."""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = _("%(days)sd %(hours)sh", days=days, hours=hours)
    elif hours:
        padded = str(minutes).zfill(2)
        text = _("%(hours)sh %(minutes)sm", hours=hours, minutes=padded)
    else:
        text = _("%(minutes)sm", minutes=minutes)
    return text.render(locale, DOMAIN)


def _iso(value: datetime | None) -> str:
    return "" if value is None else as_utc(value).isoformat()


def _make_environment(locale: str) -> Environment:
    """The desk's templates rendering in ``locale``: its messages, dates, numbers and labels."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        extensions=["jinja2.ext.i18n"],
    )
    i18n.jinja_env_install(env, locale, DOMAIN)
    env.filters.update(
        duration=lambda seconds: _duration(seconds, locale),
        when=env.filters["datetime"],
        iso=_iso,
        label=lambda value: labels.label(value, locale),
        t=lambda text: i18n.render_text(text, locale, DOMAIN),
        law=lambda rules: labels.regime_title(rules, locale),
        action=lambda code: labels.action_label(code, locale),
        blocker=lambda text: labels.blocker_text(text, locale),
        trigger=lambda text: labels.trigger_text(text, locale),
    )
    env.globals.update(prefix=PREFIX, Role=Role)
    return env


DOMAIN = "desk"
environments = {locale: _make_environment(locale) for locale in i18n.LOCALES}
environment = environments["en"]


def environment_for(request: Request) -> Environment:
    """The templates in the request's language."""
    return environments[locale_of(request)]


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
                return error_page(
                    request, 422, _("the form is not complete: %(fields)s", fields=", ".join(fields))
                )

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


def locale_of(request: Request) -> str:
    """The request's language: the signed-in user's (or key's) setting, else the browser's
    ``Accept-Language``, else ``STAYDOWN_DEFAULT_LOCALE`` (cached on the request)."""
    if hasattr(request.state, "desk_locale"):
        cached: str = request.state.desk_locale
        return cached
    who = current(request)
    locale = i18n.negotiate(
        request.headers.get("accept-language"),
        preferred=who.locale if who is not None else None,
        default=settings_of(request).default_locale,
    )
    request.state.desk_locale = locale
    return locale


def text_of(request: Request, text: str | Message) -> str:
    """``text`` in the request's language (a plain string is shown as it is)."""
    return i18n.render_text(text, locale_of(request), DOMAIN)


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
            raise DeskError(
                403,
                _(
                    "this page is for: %(roles)s; you are signed in as %(role)s",
                    roles=names,
                    role=who.role.value,
                ),
            )
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
        raise DeskError(403, _("cross-site form submission refused"))
    given = request.headers.get("x-csrf-token")
    if given is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    who = current(request)
    expected = who.csrf_token if who is not None else request.cookies.get(PRE_CSRF_COOKIE, "")
    if not expected or not service.csrf_matches(expected, given):
        raise DeskError(403, _("the form's security token is missing or out of date; reload the page"))


def flash(response: Response, message: str | Message, request: Request) -> Response:
    response.set_cookie(
        FLASH_COOKIE,
        quote(text_of(request, message)[:400]),
        max_age=60,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=secure_request(request),
    )
    return response


def redirect(request: Request, path: str, message: str | Message | None = None) -> Response:
    response = RedirectResponse(path, status_code=303)
    return flash(response, message, request) if message else response


def nav_for(who: DeskPrincipal | None) -> list[tuple[str, Message]]:
    """The navigation a role sees: (path, label)."""
    if who is None:
        return []
    links: list[tuple[str, Message]] = []
    staff = who.role in (Role.agent, Role.admin)
    if staff:
        links += [
            (f"{PREFIX}/queue", _("Review queue")),
            (f"{PREFIX}/inbound", _("Mail triage")),
            (f"{PREFIX}/notices", _("All notices")),
            (f"{PREFIX}/board", _("Repeat infringers")),
            (f"{PREFIX}/customers", _("Customers")),
            (f"{PREFIX}/matches", _("Stay-down matches")),
            (f"{PREFIX}/trusted-flaggers", _("Trusted flaggers")),
            (f"{PREFIX}/edges", _("Edges")),
            (f"{PREFIX}/certificates", _("Certificates")),
            (f"{PREFIX}/bank", _("Hash bank")),
        ]
    if who.role is Role.legal:
        # Disclosure is the legal role's alone (not admin's): see desk/legal.py.
        links += [
            (f"{PREFIX}/legal", _("Disclosure orders")),
            (f"{PREFIX}/legal/holds", _("Legal holds")),
            (f"{PREFIX}/notices", _("Notices")),
            (f"{PREFIX}/customers", _("Customers")),
        ]
    if who.role in (Role.agent, Role.legal, Role.admin):
        links += [(f"{PREFIX}/transparency", _("Transparency"))]
    if who.role is Role.submitter:
        links += [
            (f"{PREFIX}/submit", _("Submit a notice")),
            (f"{PREFIX}/submit/bulk", _("Bulk upload")),
            (f"{PREFIX}/my/notices", _("My notices")),
            (f"{PREFIX}/works", _("Works")),
        ]
    if who.role is Role.customer:
        links += [
            (f"{PREFIX}/account", _("Account")),
            (f"{PREFIX}/account/zones", _("Zones")),
            (f"{PREFIX}/account/notices", _("Notices")),
            (f"{PREFIX}/account/restrictions", _("Restrictions")),
            (f"{PREFIX}/account/strikes", _("Strikes and policy")),
        ]
    return links


def current_link(links: list[tuple[str, Message]], path: str) -> str | None:
    """The navigation link a page belongs to: the longest one that is the path or a parent of it."""
    found = [href for href, _ in links if path == href or path.startswith(href + "/")]
    return max(found, key=len, default=None)


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render a page with the layout's shared context (principal, navigation, flash, CSRF)."""
    who = current(request)
    locale = locale_of(request)
    flash_message = unquote(request.cookies.get(FLASH_COOKIE, "")) or None
    csrf = who.csrf_token if who is not None else request.cookies.get(PRE_CSRF_COOKIE, "")
    nav = nav_for(who)
    variables: dict[str, Any] = {
        "request": request,
        "who": who,
        "lang": locale,
        "nav": [(href, i18n.render_text(label, locale, DOMAIN)) for href, label in nav],
        "nav_current": current_link(nav, request.url.path),
        "path": request.url.path,
        "flash": flash_message,
        "csrf": csrf,
        "provider": settings_of(request).provider_name,
        "server_now": now_of(request),
        "actor": names.namer(database_of(request), locale),
    }
    # Titles and other messages made in Python are shown in the page's language.
    variables.update(
        {
            name: i18n.render_text(value, locale, DOMAIN) if isinstance(value, Message) else value
            for name, value in (context or {}).items()
        }
    )
    page = environments[locale].get_template(template).render(variables)
    response = HTMLResponse(page, status_code=status)
    response.headers["cache-control"] = "no-store"
    response.headers["content-language"] = locale
    response.headers["vary"] = "Accept-Language, Cookie"
    response.headers["x-frame-options"] = "DENY"
    response.headers["referrer-policy"] = "same-origin"
    response.headers["content-security-policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    if flash_message:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    return response


def error_page(request: Request, status: int, message: str | Message) -> HTMLResponse:
    titles = {
        401: _("Not signed in"),
        403: _("Not allowed"),
        404: _("Not found"),
        409: _("Not possible now"),
    }
    return render(
        request,
        "error.html",
        {
            "status": status,
            "title": titles.get(status, _("Something is not right")),
            "message": text_of(request, message),
        },
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
            raise DeskError(422, _("%(value)r is not an item id", value=value))
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
