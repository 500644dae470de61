"""The records every path through a notice shares: who submits it, the measure against them, and
the error a request that cannot be carried out raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


class NoticeError(Exception):
    """A notice request that cannot be carried out; nothing of it was written."""

    def __init__(self, code: str, message: str, *, status: int = 422, details: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.details = code, message, status, details


@dataclass(frozen=True, slots=True)
class Suspension:
    """A measure suspending the processing of a notifier's notices (DSA Art. 23(2))."""

    until: datetime
    reason: str
    measure_id: int


@dataclass(frozen=True, slots=True)
class Submitter:
    """Who submitted a notice, as the API key says, and any measure against it now."""

    key_id: int | None
    trusted: bool
    actor: str
    source_ip: str | None = None
    suspension: Suspension | None = None
