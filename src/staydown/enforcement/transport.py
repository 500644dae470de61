"""Notification transports behind one narrow interface: SMTP e-mail and signed webhooks.

Delivery is at-least-once: a worker that dies after a message left but before it recorded that,
sends it again once its claim's lease runs out. Each message therefore carries a key that stays
the same on every attempt (``Message-ID`` for e-mail, ``Idempotency-Key`` for webhooks), so the
receiver can drop the copy.

Webhooks connect only through the origin guard (``netguard``) when one is given: a webhook URL is
as untrusted as a zone's origin and never reaches loopback, private or reserved addresses unless
the operator allows them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

import httpx

from staydown.enforcement.models import OutboxMessage
from staydown.netguard import OriginGuard, OriginRefused

Signer = Callable[[OutboxMessage], str | None]
"""The secret one webhook message is signed with (``X-Staydown-Signature``), or None to fall back
to the transport's own secret; raises ``LookupError`` when the message may no longer be sent."""

SIGNATURE_HEADER = "x-staydown-signature"


def sign(secret: str, body: bytes, *, at: int) -> str:
    """``t=<unix>,v1=<hex>``: HMAC-SHA256 under ``secret`` of ``"<t>." + body``."""
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


class DeliveryError(Exception):
    """A message could not be delivered; ``permanent`` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Transport(Protocol):
    def send(self, message: OutboxMessage) -> None:
        """Deliver ``message`` or raise ``DeliveryError``."""

    def close(self) -> None:
        """Let go of any connection kept between messages (called after each batch)."""


def delivery_key(message: OutboxMessage) -> str:
    """The message's key, the same on every attempt: its outbox id and the instant it was written."""
    return f"outbox-{message.id}-{message.created_at.strftime('%Y%m%d%H%M%S%f')}"


_DELIVERY_KEY = re.compile(r"outbox-(\d{1,18})-(\d{20})@")


def delivery_keys_named(header: str) -> list[tuple[int, str]]:
    """The outbox messages an ``In-Reply-To`` or ``References`` field names, by the key each was
    sent under (``Message-ID: <outbox-ID-STAMP@domain>``): (outbox id, whole key), in order."""
    return [
        (int(m.group(1)), f"outbox-{m.group(1)}-{m.group(2)}")
        for m in _DELIVERY_KEY.finditer(header[:20_000])
    ]


def _domain(sender: str) -> str:
    _, _, domain = sender.rpartition("@")
    return domain.strip(" <>") or "staydown.invalid"


class SmtpTransport:
    """Send outbox messages as plain-text e-mail, with the JSON payload attached."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.starttls, self.username, self.password, self.timeout = starttls, username, password, timeout
        self._client: smtplib.SMTP | None = None

    def build(self, message: OutboxMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.recipient
        email["Subject"] = message.subject
        email["Date"] = formatdate(message.created_at.timestamp(), usegmt=True)
        email["Message-ID"] = f"<{delivery_key(message)}@{_domain(self.sender)}>"
        email["Staydown-Outbox-Id"] = str(message.id)
        replied = message.payload.get("in_reply_to")
        if isinstance(replied, str) and replied.startswith("<") and "\n" not in replied:
            email["In-Reply-To"] = email["References"] = replied  # the answered message, for threading
        email.set_content(message.body)
        email.add_attachment(
            json.dumps(message.payload, indent=2, default=str).encode(),
            maintype="application",
            subtype="json",
            filename="staydown.json",
        )
        return email

    def _connect(self) -> smtplib.SMTP:
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
            if self.username:
                client.login(self.username, self.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def send(self, message: OutboxMessage) -> None:
        email = self.build(message)
        try:
            # One connection per batch: a worker's outbox rate is bound by the round trips, and a
            # new TCP and SMTP handshake for each message would be most of them.
            if self._client is None:
                self._client = self._connect()
            self._client.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc.recipients}", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise DeliveryError(f"SMTP delivery to {self.host}:{self.port} failed: {exc}") from exc

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


class WebhookTransport:
    """POST the JSON payload, signed per message (``signer``) or with one secret for all."""

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        secret: str | None = None,
        guard: OriginGuard | None = None,
        signer: Signer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.timeout, self.secret, self.guard, self.signer, self.clock = timeout, secret, guard, signer, clock
        self._client: httpx.Client | None = None

    def signature(self, body: bytes) -> str:
        assert self.secret is not None
        return "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()

    def _http(self) -> httpx.Client:
        if self._client is None:
            if self.guard is not None:
                self._client = self.guard.client(timeout=self.timeout)
            else:
                self._client = httpx.Client(timeout=self.timeout, follow_redirects=False, trust_env=False)
        return self._client

    def send(self, message: OutboxMessage) -> None:
        body = json.dumps(
            {"id": message.id, "kind": message.kind, "subject": message.subject, **message.payload},
            default=str,
            sort_keys=True,
        ).encode()
        headers = {
            "content-type": "application/json",
            "staydown-message-id": str(message.id),
            "idempotency-key": delivery_key(message),
            "staydown-attempt": str(message.attempts + 1),
        }
        try:
            own = self.signer(message) if self.signer is not None else None
        except LookupError as exc:
            raise DeliveryError(f"webhook {message.recipient} not sent: {exc}", permanent=True) from exc
        if own is not None:
            headers[SIGNATURE_HEADER] = sign(own, body, at=int(self.clock()))
        elif self.secret:
            headers["staydown-signature"] = self.signature(body)
        try:
            response = self._http().post(message.recipient, content=body, headers=headers)
        except OriginRefused as exc:
            raise DeliveryError(f"webhook {message.recipient} refused: {exc.reason}", permanent=True) from exc
        except httpx.HTTPError as exc:
            self.close()
            raise DeliveryError(f"webhook {message.recipient} failed: {exc}") from exc
        if response.is_success:
            return
        permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 425, 429)
        raise DeliveryError(
            f"webhook {message.recipient} answered {response.status_code}", permanent=permanent
        )

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
