"""Period keys and windows: local dates, ISO weeks, weekends skipped, DST gaps and overlaps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.digests.period import latest_period
from bot.records import SubscriptionView
from bot.vocab import parse_frequency


def sub(
    frequency: str = "daily", send_time: str = "08:00", timezone: str = "UTC", weekday: int = 0
) -> SubscriptionView:
    return SubscriptionView(
        id=1,
        subscriber_id=1,
        channel="email",
        target="ada@example.org",
        frequency=parse_frequency(frequency),
        send_time=send_time,
        timezone=timezone,
        weekday=weekday,
        digest_size=10,
        always_send=False,
        active=True,
        paused_reason=None,
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_daily_period_is_the_local_date_once_the_send_time_passed() -> None:
    period = latest_period(sub(), now=utc(2026, 11, 23, 8, 0))
    assert period.key == "2026-11-23"
    assert (period.start, period.end) == (utc(2026, 11, 22, 8, 0), utc(2026, 11, 23, 8, 0))
    assert latest_period(sub(), now=utc(2026, 11, 23, 7, 59)).key == "2026-11-22"  # not yet due today


def test_the_local_date_is_the_subscribers_not_utcs() -> None:
    # 23:30 UTC on the 22nd is already 08:30 on the 23rd in Tokyo.
    period = latest_period(sub(timezone="Asia/Tokyo"), now=utc(2026, 11, 22, 23, 30))
    assert period.key == "2026-11-23"
    assert period.end == utc(2026, 11, 22, 23, 0)


def test_weekdays_skip_the_weekend() -> None:
    weekdays = sub("weekdays")
    assert latest_period(weekdays, now=utc(2026, 11, 28, 12, 0)).key == "2026-11-27"  # Saturday -> Friday
    monday = latest_period(weekdays, now=utc(2026, 11, 30, 9, 0))
    assert monday.key == "2026-11-30"
    assert monday.start == utc(2026, 11, 27, 8, 0)  # the window covers the weekend's papers


def test_weekly_period_is_the_iso_week() -> None:
    weekly = sub("weekly", weekday=4)  # Fridays
    period = latest_period(weekly, now=utc(2026, 12, 2, 12, 0))  # a Wednesday
    assert period.key == "2026-W48"
    assert (period.start, period.end) == (utc(2026, 11, 20, 8, 0), utc(2026, 11, 27, 8, 0))
    assert latest_period(sub("weekly", weekday=3), now=utc(2020, 12, 31, 9, 0)).key == "2020-W53"


def test_dst_spring_forward_send_time_in_the_gap_fires_an_hour_later() -> None:
    # Europe/Berlin skips 02:00-03:00 on 2026-03-29: 02:30 does not exist and resolves to 03:30 CEST.
    berlin = sub(send_time="02:30", timezone="Europe/Berlin")
    period = latest_period(berlin, now=utc(2026, 3, 29, 1, 30))
    assert period.key == "2026-03-29"
    assert period.end == utc(2026, 3, 29, 1, 30)
    assert period.start == utc(2026, 3, 28, 1, 30)  # 02:30 CET the day before
    assert latest_period(berlin, now=utc(2026, 3, 29, 1, 29)).key == "2026-03-28"


def test_dst_fall_back_send_time_twice_takes_the_first() -> None:
    # 02:30 happens twice in Berlin on 2026-10-25 (CEST, then CET): the digest is due at the first.
    berlin = sub(send_time="02:30", timezone="Europe/Berlin")
    period = latest_period(berlin, now=utc(2026, 10, 25, 0, 30))
    assert period.key == "2026-10-25"
    assert period.end == utc(2026, 10, 25, 0, 30)
    assert latest_period(berlin, now=utc(2026, 10, 25, 1, 30)).key == "2026-10-25"  # same period


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        latest_period(sub(), now=datetime(2026, 11, 23, 9, 0))
