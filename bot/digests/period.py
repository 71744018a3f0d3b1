"""Which digest period a subscription is in at `now`, and the window of papers it covers.

A period is named by its key: the local date ("2026-11-23") for daily and weekdays subscriptions, the
ISO week ("2026-W48") for weekly ones. Its send time is `send_time` on that date in the subscription's
time zone; the window runs from the previous send time to this one. Weekdays skip Saturday and Sunday.

    >>> sub = SubscriptionView(..., frequency="daily", send_time="08:00", timezone="Europe/Berlin")
    >>> latest_period(sub, now=datetime(2026, 11, 23, 7, 30, tzinfo=UTC)).key   # 08:30 in Berlin
    '2026-11-23'
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.records import SubscriptionView

__all__ = ["Period", "latest_period", "period_key", "next_send_after"]

_LOOKBACK_DAYS = 15  # enough to find two weekly send dates from any day


@dataclass(frozen=True)
class Period:
    key: str
    start: datetime  # window start (previous send time), UTC
    end: datetime  # this period's send time, UTC; the digest is due from here on


def period_key(frequency: str, day: date) -> str:
    if frequency == "weekly":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


def _sends_on(subscription: SubscriptionView, day: date) -> bool:
    if subscription.frequency == "weekdays":
        return day.weekday() < 5
    if subscription.frequency == "weekly":
        return day.weekday() == subscription.weekday
    return True


def _send_time(subscription: SubscriptionView, day: date) -> datetime:
    hour, minute = map(int, subscription.send_time.split(":"))
    # A send time that falls in a spring-forward gap resolves to the hour after (zoneinfo, fold=0),
    # as APScheduler fires it; an ambiguous one takes its first occurrence.
    local = datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(subscription.timezone))
    return local.astimezone(UTC)


def _send_times_before(subscription: SubscriptionView, now: datetime) -> Iterator[tuple[date, datetime]]:
    """Scheduled (local date, send time) pairs at or before `now`, newest first."""
    today = now.astimezone(ZoneInfo(subscription.timezone)).date()
    for back in range(_LOOKBACK_DAYS):
        day = today - timedelta(days=back)
        if _sends_on(subscription, day):
            when = _send_time(subscription, day)
            if when <= now:
                yield day, when


def latest_period(subscription: SubscriptionView, *, now: datetime) -> Period:
    """The most recent period whose send time has passed at `now` (the one due, unless sent)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    times = _send_times_before(subscription, now)
    day, end = next(times)
    _, start = next(times)
    return Period(key=period_key(subscription.frequency, day), start=start, end=end)


def next_send_after(subscription: SubscriptionView, when: datetime) -> datetime:
    """The first send time strictly after `when` (UTC): when a tick should next look at this
    subscription. One per local date, so a send time that happens twice on a fall-back night is due once,
    at its first occurrence, and one in a spring-forward gap an hour later (see `_send_time`)."""
    if when.tzinfo is None:
        raise ValueError("when must be timezone-aware")
    day = when.astimezone(ZoneInfo(subscription.timezone)).date()
    for ahead in range(_LOOKBACK_DAYS):
        candidate = day + timedelta(days=ahead)
        if _sends_on(subscription, candidate) and (at := _send_time(subscription, candidate)) > when:
            return at
    raise AssertionError("every frequency sends at least once a week")  # pragma: no cover
