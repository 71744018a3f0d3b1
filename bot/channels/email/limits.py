"""Rate limits for the public sign-up page: at most `count` events per key in a sliding window.

Kept in memory, per process: enough to stop a script from mailing an address (or the world) from
one `paperbot serve`. Several replicas behind a load balancer each keep their own counts.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["Limit", "Limiter"]

MAX_KEYS = 10_000  # past this many keys, the ones with no event left in their window are dropped


@dataclass(frozen=True)
class Limit:
    count: int
    window: timedelta


class Limiter:
    """Counts events per key (an IP address, an email address) against one Limit."""

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self._events: dict[str, deque[datetime]] = {}

    def allow(self, key: str, *, now: datetime) -> bool:
        """Record an event for `key` and say whether it is within the limit; one over it is not
        recorded, so a client that keeps trying does not extend its own wait."""
        events = self._events.setdefault(key, deque())
        self._expire(events, now)
        if len(events) >= self.limit.count:
            return False
        events.append(now)
        if len(self._events) > MAX_KEYS:
            self._forget_idle(now)
        return True

    def _expire(self, events: deque[datetime], now: datetime) -> None:
        while events and events[0] <= now - self.limit.window:
            events.popleft()

    def _forget_idle(self, now: datetime) -> None:
        for key, events in list(self._events.items()):
            self._expire(events, now)
            if not events:
                del self._events[key]
