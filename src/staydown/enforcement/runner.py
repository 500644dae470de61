"""The one runner of workflow commands.

Workflows are pure: a transition returns the new state and command objects (block, unblock,
forward, record a strike, tell someone). This runner executes them inside the caller's unit of
work, so a step and everything it causes commit together or not at all. Each domain says how its
commands are carried out (``command_handlers()`` in its service); the assembly registers those
handlers here, in the order their kinds run. A command nobody registered is an error, never
skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from staydown.config import Settings


@dataclass(frozen=True, slots=True)
class Step:
    """The workflow step that produced the commands: what they act on, when, and in whose name."""

    subject: Any  # the notice, stay-down match or disclosure order the commands come from
    now: datetime
    actor: str
    settings: Settings | None = None
    reason: str = ""
    provider: str = ""


Handler = Callable[[Session, Step, Sequence[Any]], None]
"""Carry out every command of one kind that a step returned (together: bulk steps stay bulk)."""


class Runner:
    """Executes commands by kind; kinds run in the order they were registered, each kind's
    commands together and in the order the workflow returned them."""

    def __init__(self) -> None:
        self._handlers: dict[type, Handler] = {}

    def register(self, handlers: Iterable[tuple[type, Handler]]) -> None:
        for kind, handler in handlers:
            self._handlers[kind] = handler

    def run(self, session: Session, commands: Sequence[object], step: Step) -> None:
        by_kind: dict[type, list[object]] = {}
        for command in commands:
            by_kind.setdefault(type(command), []).append(command)
        unknown = sorted(kind.__qualname__ for kind in by_kind if kind not in self._handlers)
        if unknown:
            raise LookupError(f"no handler registered for command(s) {', '.join(unknown)}")
        for kind, handler in self._handlers.items():
            if kind in by_kind:
                handler(session, step, by_kind[kind])


runner = Runner()


def register(handlers: Iterable[tuple[type, Handler]]) -> None:
    """Register a domain's command handlers with the runner (the assembly does, once)."""
    runner.register(handlers)


def run(session: Session, commands: Sequence[object], step: Step) -> None:
    """Execute ``commands`` in the current unit of work."""
    runner.run(session, commands, step)
