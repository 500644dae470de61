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
from staydown.desk.models import DeskUser

_SERVICE = {
    "system": "the service",
    "timer": "the service (timer)",
    "worker": "the service (worker)",
    "demo": "the demo",
}


def _role_label(value: str) -> str:
    return value.replace("_", " ")


def describe(session: Session, actor: str) -> str:
    """The name a person reads for ``actor``."""
    kind, _, number = actor.partition(":")
    if not number.isdigit():
        return _SERVICE.get(actor, actor.replace("_", " "))
    if kind == "key":
        key = accounts.get_key(session, int(number))
        if key is None:
            return "a removed key"
        name = key.name.strip() or f"{_role_label(key.role.value).capitalize()} key {key.id}"
        return f"{name} ({_role_label(key.role.value)})"
    if kind == "user":
        user = session.get(DeskUser, int(number))
        if user is None:
            return "a removed user"
        key = accounts.get_key(session, user.api_key_id)
        role = f" ({_role_label(key.role.value)})" if key is not None else ""
        return f"{user.email}{role}"
    return actor


def namer(database: Database) -> Callable[[str | None], str]:
    """A function naming actors for one page, each looked up once."""
    seen: dict[str, str] = {}

    def name(actor: str | None) -> str:
        if not actor:
            return ""
        if actor not in seen:
            with database.reader() as session:
                seen[actor] = describe(session, actor)
        return seen[actor]

    return name
