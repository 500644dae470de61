"""Who did something, as a person reads it: "Agent Sato (agent)", not ``key:3``.

Audit entries, decisions and matches record their actor as ``key:N`` (an API key), ``user:N`` (a
desk user signed in with a password) or a word for the service itself (``system``, ``timer``,
``demo``). The desk names them: a key by its name and role, a user by the e-mail they sign in with
and their key's role. Lookups are made once per page.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.db.engine import Database
from staydown.desk import labels
from staydown.desk.models import DeskUser
from staydown.i18n import Message, _, render_text

_SERVICE = {
    "system": _("the service"),
    "timer": _("the service (timer)"),
    "worker": _("the service (worker)"),
    "demo": _("the demo"),
}


def describe(session: Session, actor: str, locale: str = "en") -> str:
    """The name a person reads for ``actor``, in ``locale``."""

    def say(text: Message) -> str:
        return render_text(text, locale, "desk")

    kind, _sep, number = actor.partition(":")
    if not number.isdigit():
        known = _SERVICE.get(actor)
        return say(known) if known is not None else actor.replace("_", " ")
    if kind == "key":
        key = accounts.get_key(session, int(number))
        if key is None:
            return say(_("a removed key"))
        role = labels.label(key.role, locale)
        name = key.name.strip() or say(_("%(role)s key %(id)s", role=role.capitalize(), id=key.id))
        return f"{name} ({role})"
    if kind == "user":
        user = session.get(DeskUser, int(number))
        if user is None:
            return say(_("a removed user"))
        key = accounts.get_key(session, user.api_key_id)
        suffix = f" ({labels.label(key.role, locale)})" if key is not None else ""
        return f"{user.email}{suffix}"
    return actor


def namer(database: Database, locale: str = "en") -> Callable[[str | None], str]:
    """A function naming actors for one page (in ``locale``), each looked up once."""
    seen: dict[str, str] = {}

    def name(actor: str | None) -> str:
        if not actor:
            return ""
        if actor not in seen:
            with database.reader() as session:
                seen[actor] = describe(session, actor, locale)
        return seen[actor]

    return name
