"""Sending rendered digests: `email` (SMTP), `outbox` (files), `slack` (Web API).

Senders only send; rendering lives in `bot.channels.email`. A `Batch` carries what one run shares between
digests (settings, the clock, the sleep used for backoff, and open connections), so a run over many
subscriptions reuses one Slack client. SMTP goes further: one connection per process
(`Paperbot.smtp`), shared by every run, since `paperbot serve` runs one job per subscription.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from bot.config import Settings
from bot.records import JobRef

if TYPE_CHECKING:
    from bot.service import Paperbot

__all__ = ["Batch"]

T = TypeVar("T")


@dataclass
class Batch:
    """Shared state of one delivery run; use it as a context manager so connections get closed."""

    bot: Paperbot
    now: datetime
    sleep: Callable[[float], None] = time.sleep
    job: JobRef | None = None  # the queue job delivering, whose earlier attempts' claims it takes over
    _shared: dict[str, Any] = field(default_factory=dict)
    _stack: ExitStack = field(default_factory=ExitStack)

    @property
    def settings(self) -> Settings:
        return self.bot.settings

    def shared(self, name: str, factory: Callable[[], T]) -> T:
        """One `factory()` result per run, entered as a context manager when it is one."""
        if name not in self._shared:
            value = factory()
            if hasattr(value, "__exit__"):
                value = self._stack.enter_context(value)  # type: ignore[arg-type]
            self._shared[name] = value
        result: T = self._shared[name]
        return result

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()
        self._shared.clear()
