"""The signed-in person's own settings: the language the desk speaks to them.

The choice is kept on the key they act through (a desk user's key is theirs alone), so it follows
them to every browser; "as my browser asks" clears it (``Accept-Language``, then the default).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from staydown.desk import service
from staydown.desk.web import (
    PREFIX,
    AnyDesk,
    DeskRoute,
    csrf_protect,
    database_of,
    now_of,
    redirect,
    render,
)
from staydown.i18n import LOCALES, _, negotiate

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])

# Each language named in itself, as a reader looking for their own finds it.
LANGUAGE_NAMES = {"en": "English", "ja": "日本語"}


@router.get("/settings", include_in_schema=False)
def settings_page(request: Request, who: AnyDesk) -> Response:
    return render(
        request,
        "settings.html",
        {
            "title": _("Settings"),
            "chosen": who.locale,
            "languages": [(code, LANGUAGE_NAMES[code]) for code in LOCALES],
        },
    )


@router.post("/settings", include_in_schema=False)
def save_settings(request: Request, who: AnyDesk, locale: Annotated[str, Form()] = "") -> Response:
    chosen = locale or None
    with database_of(request).writer() as session:
        service.set_locale(session, who.key_id, chosen, now=now_of(request), actor=who.actor)
        session.commit()
    # The confirmation is read in the language just chosen.
    request.state.desk_locale = negotiate(
        request.headers.get("accept-language"),
        preferred=chosen,
        default=request.app.state.settings.default_locale,
    )
    return redirect(request, f"{PREFIX}/settings", _("Settings saved."))
