"""The service's front page (``GET /``): where a person who opens the bare address is sent on."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from staydown.desk.web import render
from staydown.i18n import _

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request) -> Response:
    return render(request, "home.html", {"title": _("Home")})
