"""The desk's router, mounted by the control plane at ``/desk`` (its static files at ``/desk/static``)."""

from __future__ import annotations

from fastapi import APIRouter

from staydown.desk import (
    agent,
    bank,
    certificates,
    contest,
    customer,
    dossier,
    flaggers,
    fleet,
    home,
    inbound,
    legal,
    rightsholder,
    settings,
    signin,
    staydown,
    transparency,
    works,
)
from staydown.desk.web import PREFIX, STATIC_DIR

__all__ = ["STATIC_DIR", "home_router", "router"]

home_router = home.router  # served at the root, outside the desk's prefix

router = APIRouter(prefix=PREFIX, include_in_schema=False)
for _part in (
    signin.router,
    agent.router,
    rightsholder.router,
    customer.router,
    dossier.router,
    contest.router,
    fleet.router,
    flaggers.router,
    certificates.router,
    inbound.router,
    legal.router,
    works.router,
    staydown.router,
    bank.router,
    transparency.router,
    settings.router,
):
    router.include_router(_part)
