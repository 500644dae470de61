"""Heartbeats of edges following NATS, judged as the HTTP feed judges a poll: by the edge's key.

An edge's heartbeat names its key by ``feedrecords.heartbeat_key_id`` and is signed with it
(``feedrecords.heartbeat_signature``, a header over the message's exact bytes). A heartbeat whose
key is unknown, revoked or of another role, whose signature does not match, that carries none, or
that is older than the alert time (a replay), is a refusal: the registry lists the edge as
``refused``, as it lists an HTTP edge whose poll got 401 or 403.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from staydown.accounts import service as accounts
from staydown.db.engine import Database
from staydown.feedrecords import heartbeat_key_id, heartbeat_signature
from staydown.types import Role


@dataclass(frozen=True, slots=True)
class HeartbeatKey:
    key_id: int
    digest: str  # what the control plane keeps of the key (accounts' key_hash)
    role: Role
    revoked: bool


def refusal(
    report: Mapping[str, Any],
    body: bytes,
    signature: str | None,
    key: HeartbeatKey | None,
    *,
    now: float,
    window: float,
) -> int | None:
    """None when the heartbeat is vouched for by a live edge key; else the status to record
    (401: no key, an unknown or revoked one, a bad signature or a stale heartbeat; 403: not an
    edge key)."""
    if signature is None or key is None:
        return 401
    if not hmac.compare_digest(signature, heartbeat_signature(key.digest, body)):
        return 401
    at = report.get("at")
    if isinstance(at, bool) or not isinstance(at, int | float) or abs(now - at) > window:
        return 401
    if key.revoked:
        return 401
    if key.role is not Role.edge:
        return 403
    return None


class HeartbeatKeys:
    """Every API key by the name heartbeats give it, re-read at most every ``ttl`` seconds, and at
    once (at most every ``retry`` seconds) when a heartbeat names a key not seen yet."""

    def __init__(
        self,
        database: Database,
        *,
        ttl: float = 2.0,
        retry: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database, self.ttl, self.retry, self.clock = database, ttl, retry, clock
        self._keys: dict[str, HeartbeatKey] = {}
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def get(self, name: str) -> HeartbeatKey | None:
        """The key a heartbeat names (blocking: call from a worker thread)."""
        with self._lock:
            age = self.clock() - self._read_at
            if age > self.ttl or (name not in self._keys and age > self.retry):
                self._read()
            return self._keys.get(name)

    def _read(self) -> None:
        with self.database.reader() as session:
            self._keys = {
                heartbeat_key_id(key.key_hash): HeartbeatKey(
                    key.id, key.key_hash, key.role, key.revoked_at is not None
                )
                for key in accounts.list_keys(session)
            }
        self._read_at = self.clock()
