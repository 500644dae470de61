"""Desk users and sessions: password hashing (argon2), sign-in by password or API key, expiry.

A session always acts through an API key (the user's own key, or the key signed in with), so a
desk page is allowed exactly what an API call with that key would be, and its actions carry the
same audit identity.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from staydown import i18n
from staydown.accounts import service as accounts
from staydown.accounts.models import ApiKey
from staydown.audit import service as audit
from staydown.config import Settings
from staydown.desk.models import DeskSession, DeskUser
from staydown.i18n import Message, _
from staydown.types import Role

# Why these numbers: five wrong passwords lock the account long enough to stop guessing without
# locking a person out for the day. (How long a session lives is a setting: ``SessionLimits``.)
TOUCH_EVERY = timedelta(seconds=60)
MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
DESK_ROLES = frozenset({Role.admin, Role.agent, Role.legal, Role.submitter, Role.customer})

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a miss costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class DeskError(Exception):
    """A desk request that cannot be carried out; rendered as a page with ``status``."""

    def __init__(self, status: int, message: str | Message) -> None:
        super().__init__(str(message))
        self.status, self.message = status, message


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """How long a session lives: ``idle`` without a request, ``lifetime`` at most from sign-in."""

    idle: timedelta
    lifetime: timedelta

    @classmethod
    def of(cls, settings: Settings) -> SessionLimits:
        return cls(
            idle=timedelta(minutes=settings.desk_session_idle_minutes),
            lifetime=timedelta(hours=settings.desk_session_max_hours),
        )


@dataclass(frozen=True, slots=True)
class DeskPrincipal:
    """Who is signed in: the key they act through, and how to name them in the audit chain."""

    session_id: str
    key_id: int
    role: Role
    trusted: bool
    customer_id: int | None
    user_id: int | None
    label: str
    csrf_token: str
    # The language chosen on the desk's Settings page (kept on the key: a desk user's key is
    # theirs alone); None: the browser's.
    locale: str | None = None

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}" if self.user_id is not None else f"key:{self.key_id}"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role,
    now: datetime,
    actor: str,
    trusted: bool = False,
    customer_id: int | None = None,
    locale: str | None = None,
) -> DeskUser:
    """Create a user with their own API key for ``role`` (and the desk's language for them)."""
    email = email.strip().lower()
    if locale is not None and locale not in i18n.LOCALES:
        raise DeskError(
            422,
            _("the desk speaks %(locales)s, not %(locale)r", locales=", ".join(i18n.LOCALES), locale=locale),
        )
    if "@" not in email or len(email) > 320:
        raise DeskError(422, _("%(email)r is not an e-mail address", email=email))
    if role not in DESK_ROLES:
        raise DeskError(422, _("the %(value)s role cannot sign in to the desk", value=role.value))
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DeskError(
            422,
            _(
                "the password must have at least %(count)s characters",
                count=MIN_PASSWORD_LENGTH,
            ),
        )
    if session.scalar(select(DeskUser.id).where(DeskUser.email == email)) is not None:
        raise DeskError(409, _("a user with e-mail %(email)s already exists", email=email))
    key, _secret = accounts.create_key(
        session,
        role=role,
        now=now,
        name=f"desk user {email}"[:200],
        trusted=trusted,
        customer_id=customer_id,
        actor=actor,
    )
    key.locale = locale
    user = DeskUser(
        email=email,
        password_hash=hash_password(password),
        api_key_id=key.id,
        created_at=now,
        password_changed_at=now,
        failed_attempts=0,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="desk.user_created",
        entity=("desk_user", user.id),
        data={"email": email, "role": role.value, "api_key_id": key.id, "customer_id": customer_id},
    )
    return user


def _live_key(session: Session, key_id: int) -> ApiKey | None:
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None or key.role not in DESK_ROLES:
        return None
    return key


def sign_in_with_password(
    session: Session, *, email: str, password: str, now: datetime, limits: SessionLimits
) -> tuple[DeskSession, str]:
    """Check a password and open a session; return it with the cookie token (shown once)."""
    refusal = DeskError(401, _("the e-mail or the password is not right"))
    user = session.scalar(select(DeskUser).where(DeskUser.email == email.strip().lower()))
    if user is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        raise refusal
    if user.disabled_at is not None:
        raise refusal
    if user.locked_until is not None and user.locked_until > now:
        raise DeskError(429, _("too many wrong passwords; try again in a few minutes"))
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_attempts += 1
        if user.failed_attempts >= MAX_FAILED_ATTEMPTS:
            user.locked_until = now + LOCKOUT
            user.failed_attempts = 0
            audit.record(
                session,
                at=now,
                actor=f"user:{user.id}",
                action="desk.user_locked",
                entity=("desk_user", user.id),
                data={"until": user.locked_until.isoformat()},
            )
        raise refusal from None
    key = _live_key(session, user.api_key_id)
    if key is None:
        raise refusal
    user.failed_attempts = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return _open(session, key_id=key.id, user_id=user.id, now=now, limits=limits)


def sign_in_with_key(
    session: Session, *, secret: str, now: datetime, limits: SessionLimits
) -> tuple[DeskSession, str]:
    """Open a session for an API key; edge keys cannot sign in."""
    key = accounts.authenticate(session, secret.strip())
    if key is None or key.role not in DESK_ROLES:
        raise DeskError(401, _("the API key is not valid for the desk"))
    return _open(session, key_id=key.id, user_id=None, now=now, limits=limits)


def _open(
    session: Session, *, key_id: int, user_id: int | None, now: datetime, limits: SessionLimits
) -> tuple[DeskSession, str]:
    token = secrets.token_urlsafe(32)
    desk_session = DeskSession(
        id=_token_hash(token),
        api_key_id=key_id,
        user_id=user_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + limits.lifetime,
    )
    session.add(desk_session)
    session.flush()
    actor = f"user:{user_id}" if user_id is not None else f"key:{key_id}"
    audit.record(
        session,
        at=now,
        actor=actor,
        action="desk.signed_in",
        entity=("api_key", key_id),
        data={"method": "password" if user_id is not None else "api_key"},
    )
    return desk_session, token


def resolve(
    session: Session, token: str, *, now: datetime, limits: SessionLimits
) -> tuple[DeskPrincipal, bool] | None:
    """Return who a cookie token signs in, and whether its last-seen time is stale; None if expired."""
    if not token or len(token) > 128:
        return None
    row = session.execute(
        select(DeskSession, ApiKey, DeskUser.email)
        .join(ApiKey, ApiKey.id == DeskSession.api_key_id)
        .outerjoin(DeskUser, DeskUser.id == DeskSession.user_id)
        .where(DeskSession.id == _token_hash(token))
    ).first()
    if row is None:
        return None
    desk_session, key, email = row
    if (
        desk_session.ended_at is not None
        or now >= desk_session.expires_at
        or now - desk_session.last_seen_at >= limits.idle
        or key.revoked_at is not None
        or key.role not in DESK_ROLES
    ):
        return None
    principal = DeskPrincipal(
        session_id=desk_session.id,
        key_id=key.id,
        role=key.role,
        trusted=key.trusted,
        customer_id=key.customer_id,
        user_id=desk_session.user_id,
        label=email or f"{key.name} ({key.prefix}…)",
        csrf_token=desk_session.csrf_token,
        locale=key.locale,
    )
    return principal, now - desk_session.last_seen_at >= TOUCH_EVERY


def set_locale(session: Session, key_id: int, locale: str | None, *, now: datetime, actor: str) -> None:
    """Choose the desk's language for whoever signs in with key ``key_id`` (None: the browser's)."""
    if locale is not None and locale not in i18n.LOCALES:
        raise DeskError(
            422,
            _("the desk speaks %(locales)s, not %(locale)r", locales=", ".join(i18n.LOCALES), locale=locale),
        )
    key = session.get(ApiKey, key_id)
    if key is None:
        raise DeskError(404, _("the key of this session no longer exists"))
    key.locale = locale
    audit.record(
        session,
        at=now,
        actor=actor,
        action="desk.locale_set",
        entity=("api_key", key_id),
        data={"locale": locale},
    )


def touch(session: Session, session_id: str, *, now: datetime) -> None:
    """Record activity (at most once a minute, so reading pages rarely writes)."""
    desk_session = session.get(DeskSession, session_id)
    if desk_session is not None and desk_session.ended_at is None:
        desk_session.last_seen_at = now


def sign_out(session: Session, session_id: str, *, now: datetime, actor: str) -> None:
    desk_session = session.get(DeskSession, session_id)
    if desk_session is None or desk_session.ended_at is not None:
        return
    desk_session.ended_at = now
    audit.record(
        session,
        at=now,
        actor=actor,
        action="desk.signed_out",
        entity=("api_key", desk_session.api_key_id),
    )


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
