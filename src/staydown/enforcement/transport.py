"""Notification transports behind one narrow interface: SMTP e-mail and signed webhooks.

Delivery is at-least-once: a worker that dies after a message left but before it recorded that,
sends it again once its claim's lease runs out. Each message therefore carries a key that stays
the same on every attempt (``Message-ID`` for e-mail, ``Idempotency-Key`` for webhooks), so the
receiver can drop the copy.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

import httpx

from staydown.enforcement.models import OutboxMessage


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
    """POST the JSON payload, signed with HMAC-SHA256 over the body when a secret is set."""

    def __init__(self, *, timeout: float = 5.0, secret: str | None = None) -> None:
        self.timeout, self.secret = timeout, secret

    def signature(self, body: bytes) -> str:
        assert self.secret is not None
        return "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()

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
        }
        if self.secret:
            headers["staydown-signature"] = self.signature(body)
        try:
            response = httpx.post(
                message.recipient, content=body, headers=headers, timeout=self.timeout, follow_redirects=False
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {message.recipient} failed: {exc}") from exc
        if response.is_success:
            return
        permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 425, 429)
        raise DeliveryError(
            f"webhook {message.recipient} answered {response.status_code}", permanent=permanent
        )

    def close(self) -> None:
        """Webhooks keep no connection between messages."""
