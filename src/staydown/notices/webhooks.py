"""Submitter webhooks: a bulk sender hears about its notices as they move, without polling.

A submitter's key registers one URL and receives a secret. Each event (``notice.received``,
``notice.decided``, ``notice.restored``, ``notice.counter_noticed``) is written to the outbox in the
same unit of work as the step that caused it, and the worker delivers it like any webhook: with a
stable ``Idempotency-Key``, retries with back-off, never to an address the origin policy refuses,
and signed at the moment it leaves (``X-Staydown-Signature: t=<unix>,v1=<hex>``, HMAC-SHA256 of
``"<t>.<body>"`` under the key's secret), so a receiver can refuse stale or forged deliveries.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel, OutboxMessage
from staydown.netguard import DEFAULT_PORTS, OriginGuard, OriginRefused
from staydown.notices.flows import ItemStatus
from staydown.notices.models import Notice, NoticeItem, SubmitterWebhook
from staydown.notices.records import NoticeError

WEBHOOK_KIND = "submitter_webhook"
EVENTS = ("notice.received", "notice.decided", "notice.restored", "notice.counter_noticed")
MAX_ITEMS = 1000  # items named per delivery; ``items_total`` says how many the event moved

# The event an item's new state announces to the notice's submitter.
EVENT_OF_STATUS = {
    ItemStatus.actioned: "notice.decided",
    ItemStatus.rejected: "notice.decided",
    ItemStatus.restored: "notice.restored",
    ItemStatus.counter_noticed: "notice.counter_noticed",
}


def register(
    session: Session, key_id: int, url: str, *, now: datetime, guard: OriginGuard
) -> SubmitterWebhook:
    """Register (or replace) the webhook of ``key_id`` with a new secret; refuse a URL that is not
    http(s) or that resolves only to addresses the origin policy refuses."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        raise NoticeError(
            "invalid_webhook_url", "a webhook URL is an absolute http or https URL without credentials"
        )
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise NoticeError("invalid_webhook_url", "the webhook URL's port is not valid") from None
    try:
        guard.addresses(parts.hostname, port)
    except OriginRefused as exc:
        raise NoticeError("webhook_not_allowed", exc.reason) from None
    except OSError:
        pass  # a name that does not resolve yet: every delivery checks it again
    hook = get(session, key_id)
    if hook is None:
        hook = SubmitterWebhook(key_id=key_id, url=url, secret="", created_at=now)
        session.add(hook)
    hook.url, hook.created_at = url, now
    hook.secret = "whsec_" + secrets.token_hex(32)
    session.flush()
    return hook


def get(session: Session, key_id: int) -> SubmitterWebhook | None:
    return session.scalar(select(SubmitterWebhook).where(SubmitterWebhook.key_id == key_id))


def remove(session: Session, key_id: int) -> bool:
    """Stop deliveries to ``key_id``'s webhook (those still in the outbox fail unsent)."""
    result = session.execute(delete(SubmitterWebhook).where(SubmitterWebhook.key_id == key_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def announce(
    session: Session,
    notice: Notice,
    event: str,
    item_ids: Sequence[int],
    *,
    at: datetime,
    rejected: int = 0,
) -> None:
    """Write ``event`` about ``item_ids`` of ``notice`` for its submitter's webhook, if it has one."""
    if notice.submitter_key_id is None:
        return
    hook = get(session, notice.submitter_key_id)
    if hook is None:
        return
    named = list(item_ids[:MAX_ITEMS])
    items: list[dict[str, Any]] = []
    for start in range(0, len(named), 500):
        rows = session.execute(
            select(NoticeItem.id, NoticeItem.external_id, NoticeItem.canonical_url, NoticeItem.status).where(
                NoticeItem.id.in_(named[start : start + 500])
            )
        )
        items += [
            {"id": i, "external_id": external, "url": url, "status": status.value}
            for i, external, url, status in rows
        ]
    items.sort(key=lambda item: item["id"])
    payload = {
        "event": event,
        "at": at.isoformat(),
        "notice_id": notice.id,
        "external_id": notice.external_id,
        "notice_status": notice.status.value,
        "items": items,
        "items_total": len(item_ids),
        "items_truncated": len(item_ids) > len(named),
        "rejected": rejected,
    }
    enforcement.enqueue_message(
        session,
        at=at,
        kind=WEBHOOK_KIND,
        channel=Channel.webhook,
        recipient=hook.url,
        subject=f"{event} #{notice.id}",
        body="",
        payload=payload,
        notice_id=notice.id,
    )


def signing_secret(session: Session, message: OutboxMessage) -> str | None:
    """The secret ``message`` is signed with when it leaves: its submitter's webhook secret (None
    for other webhooks). Raise ``LookupError`` when the webhook was removed or moved since."""
    if message.kind != WEBHOOK_KIND:
        return None
    key_id = session.scalar(select(Notice.submitter_key_id).where(Notice.id == message.notice_id))
    hook = get(session, key_id) if key_id is not None else None
    if hook is None or hook.url != message.recipient:
        raise LookupError("the submitter's webhook was removed or changed since the event")
    return hook.secret
