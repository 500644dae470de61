"""Sign-in by e-mail and password or by API key, and sign-out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from staydown.desk import service
from staydown.desk.service import DeskError
from staydown.desk.web import (
    PRE_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    AnyDesk,
    DeskRoute,
    csrf_protect,
    current,
    database_of,
    now_of,
    redirect,
    render,
    secure_request,
    session_limits,
)
from staydown.i18n import _

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])


def _safe_next(target: str | None) -> str:
    """Only a path inside the desk: never another site (no open redirect)."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


@router.get("/signin", include_in_schema=False)
def signin_page(request: Request, next: str | None = None, error: str | None = None) -> Response:
    if current(request) is not None:
        return redirect(request, _safe_next(next))
    token = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "signin.html",
        {"csrf": token, "next": _safe_next(next), "error": error, "title": _("Sign in")},
        status=401 if error else 200,
    )
    response.set_cookie(
        PRE_CSRF_COOKIE, token, path=PREFIX, httponly=True, samesite="strict", secure=secure_request(request)
    )
    return response


def _signed_in(request: Request, token: str, target: str) -> Response:
    response = redirect(request, _safe_next(target))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(session_limits(request).lifetime.total_seconds()),
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=secure_request(request),
    )
    response.delete_cookie(PRE_CSRF_COOKIE, path=PREFIX)
    return response


def _refused(request: Request, exc: DeskError, target: str) -> Response:
    return render(
        request,
        "signin.html",
        {"next": _safe_next(target), "error": exc.message, "title": _("Sign in")},
        status=exc.status,
    )


@router.post("/signin", include_in_schema=False)
def signin_password(
    request: Request,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "",
) -> Response:
    database = database_of(request)
    try:
        with database.writer() as session:
            try:
                _desk_session, token = service.sign_in_with_password(
                    session,
                    email=email,
                    password=password,
                    now=now_of(request),
                    limits=session_limits(request),
                )
            finally:
                # Failed attempts are counted even when the sign-in is refused.
                session.commit()
    except DeskError as exc:
        return _refused(request, exc, next)
    return _signed_in(request, token, next)


@router.post("/signin/key", include_in_schema=False)
def signin_key(request: Request, key: Annotated[str, Form()], next: Annotated[str, Form()] = "") -> Response:
    try:
        with database_of(request).writer() as session:
            _desk_session, token = service.sign_in_with_key(
                session, secret=key, now=now_of(request), limits=session_limits(request)
            )
            session.commit()
    except DeskError as exc:
        return _refused(request, exc, next)
    return _signed_in(request, token, next)


@router.post("/signout", include_in_schema=False)
def signout(request: Request, who: AnyDesk) -> Response:
    with database_of(request).writer() as session:
        service.sign_out(session, who.session_id, now=now_of(request), actor=who.actor)
        session.commit()
    response = redirect(request, f"{PREFIX}/signin", _("Signed out."))
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response
