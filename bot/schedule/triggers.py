"""The cron trigger of a subscription's digest, in the subscription's own time zone.

    daily     every day at HH:MM local time
    weekdays  Monday to Friday at HH:MM
    weekly    on the subscription's weekday (0 = Monday) at HH:MM

DST, as APScheduler 3.11 computes it (tests/test_scheduler.py replays both nights): a 02:30 subscription
in Europe/Berlin fires at 03:30 CEST on the spring-forward day, when 02:30 does not exist, and twice on
the fall-back day (02:30 CEST, then 02:30 CET). Both fires of that day map to one period key
(`bot.digests.period`), so the second finds the digest sent and does nothing: one digest either way.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.records import SubscriptionView

__all__ = ["trigger_for", "signature"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def trigger_for(subscription: SubscriptionView) -> CronTrigger:
    hour, minute = (int(part) for part in subscription.send_time.split(":"))
    days = {"daily": "*", "weekdays": "mon-fri", "weekly": WEEKDAYS[subscription.weekday]}
    if subscription.frequency not in days:
        raise ValueError(f"subscription {subscription.id}: unknown frequency {subscription.frequency!r}")
    zone = ZoneInfo(subscription.timezone)
    return CronTrigger(day_of_week=days[subscription.frequency], hour=hour, minute=minute, timezone=zone)


def signature(subscription: SubscriptionView) -> tuple[str, str, str, int]:
    """What the trigger depends on: a job is rescheduled only when this changes."""
    return (subscription.frequency, subscription.send_time, subscription.timezone, subscription.weekday)
