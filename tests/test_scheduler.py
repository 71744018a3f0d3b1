"""Scheduler: send times per time zone, DST days, catch-up after an outage, schedule changes, leader
election.

No test waits for the wall clock: the scheduler runs paused, and `replay` runs its real tick with the
clock set to each instant at which a subscription is due (`subscription.next_due_at`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.digests import store
from bot.digests.period import latest_period, next_send_after
from bot.records import SubscriptionView
from bot.schedule.leader import FileLock, PostgresLock
from bot.schedule.scheduler import FOLLOWER_MESSAGE, Scheduler
from bot.service import Paperbot
from bot.vectors.embed import Encoder
from bot.vocab import parse_frequency
from storage import models
from storage.db import make_engine, session_scope
from tests.scheduling import (
    PAPERS_AT,
    Clock,
    add_subscription,
    backdate,
    digests,
    replay,
    scheduler_for,
    sqlite_world,
    utc,
    world,
)

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = utc(2026, 11, 23, 0, 0)  # 2026-11-23 is a Monday


@pytest.fixture
def bot(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, cached_encoder: Encoder
) -> Iterator[Paperbot]:
    bot = sqlite_world(tmp_path / "data", tmp_path_factory, encoder=cached_encoder)
    yield bot
    bot.close()


def view(frequency: str, send_time: str, timezone: str, weekday: int = 0) -> SubscriptionView:
    return SubscriptionView(
        1,
        1,
        "email",
        "a@example.org",
        parse_frequency(frequency),
        send_time,
        timezone,
        weekday,
        10,
        False,
        True,
        None,
    )


def fire_times(subscription: SubscriptionView, start: str, end: str) -> list[str]:
    fires, now = [], utc(*map(int, start.split("-")))
    stop = utc(*map(int, end.split("-")))
    while (fire := next_send_after(subscription, now)) <= stop:
        # the digest due at each send time is that period's
        assert latest_period(subscription, now=fire).end == fire
        fires.append(fire.astimezone(ZoneInfo("UTC")).strftime("%a %m-%d %H:%M"))
        now = fire
    return fires


def jobs(scheduler: Scheduler) -> set[str]:
    return {job.id for job in scheduler._aps.get_jobs()}


# ---- send times --------------------------------------------------------------------------------


def test_send_times_are_local_in_three_time_zones() -> None:
    # Berlin is UTC+1 in November, New York UTC-5, Kolkata UTC+5:30.
    assert fire_times(view("daily", "08:00", "Europe/Berlin"), "2026-11-23", "2026-11-26") == [
        "Mon 11-23 07:00",
        "Tue 11-24 07:00",
        "Wed 11-25 07:00",
    ]
    assert fire_times(view("weekdays", "07:30", "America/New_York"), "2026-11-27", "2026-12-02") == [
        "Fri 11-27 12:30",
        "Mon 11-30 12:30",
        "Tue 12-01 12:30",
    ]
    # Wednesday 00:15 in Kolkata is still Tuesday in UTC.
    assert fire_times(view("weekly", "00:15", "Asia/Kolkata", weekday=2), "2026-11-23", "2026-12-08") == [
        "Tue 11-24 18:45",
        "Tue 12-01 18:45",
    ]


def test_subscribers_in_three_time_zones_get_their_digest_at_their_local_time(bot: Paperbot) -> None:
    berlin = add_subscription(
        bot, "b@example.org", frequency="daily", send_time="08:00", timezone="Europe/Berlin"
    )
    new_york = add_subscription(
        bot, "n@example.org", frequency="weekdays", send_time="07:30", timezone="America/New_York"
    )
    tokyo = add_subscription(
        bot, "t@example.org", frequency="weekly", send_time="09:00", timezone="Asia/Tokyo", weekday=0
    )
    backdate(bot, MONDAY)  # Sunday's periods ended before they existed: not caught up
    clock = Clock(MONDAY)
    scheduler = scheduler_for(bot, clock)
    replay(scheduler, clock, MONDAY, MONDAY + timedelta(days=7))
    scheduler.stop()

    def local(sub_id: int, zone: str) -> list[tuple[str, str]]:
        return [
            (d.period, d.claimed_at.astimezone(ZoneInfo(zone)).strftime("%a %H:%M"))
            for d in digests(bot, sub_id)
        ]

    assert local(berlin, "Europe/Berlin") == [
        (f"2026-11-{day}", f"{name} 08:00")
        for day, name in zip(range(23, 30), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], strict=True)
    ]
    assert local(new_york, "America/New_York") == [
        (f"2026-11-{day}", f"{name} 07:30")
        for day, name in zip(range(23, 28), ["Mon", "Tue", "Wed", "Thu", "Fri"], strict=True)
    ]
    # Monday 09:00 in Tokyo is Monday 00:00 UTC: the first and the last instant of the replay.
    assert local(tokyo, "Asia/Tokyo") == [("2026-W48", "Mon 09:00"), ("2026-W49", "Mon 09:00")]


# ---- DST ---------------------------------------------------------------------------------------


def test_dst_spring_forward_0230_fires_at_0330_and_sends_once(bot: Paperbot) -> None:
    # 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist that night.
    # It is due at 01:30 UTC = 03:30 CEST, as APScheduler's cron fired; the period ends at that instant.
    sub_id = add_subscription(bot, "s@example.org", send_time="02:30", timezone="Europe/Berlin")
    backdate(bot, utc(2026, 3, 28, 0, 0))  # created as the replay starts: nothing to catch up
    clock = Clock(utc(2026, 3, 28, 0, 0))
    scheduler = scheduler_for(bot, clock)
    fires = replay(scheduler, clock, utc(2026, 3, 28, 0, 0), utc(2026, 3, 31, 0, 0))
    scheduler.stop()
    assert [f.astimezone(BERLIN).strftime("%m-%d %H:%M %Z") for f, _ in fires] == [
        "03-28 02:30 CET",
        "03-29 03:30 CEST",
        "03-30 02:30 CEST",
    ]
    assert [(d.period, d.claimed_at.astimezone(BERLIN).strftime("%H:%M")) for d in digests(bot, sub_id)] == [
        ("2026-03-28", "02:30"),
        ("2026-03-29", "03:30"),
        ("2026-03-30", "02:30"),
    ]


def test_dst_fall_back_0230_is_due_once_and_sends_once(
    bot: Paperbot, caplog: pytest.LogCaptureFixture
) -> None:
    # 2026-10-25 in Berlin: 03:00 CEST goes back to 02:00 CET, so 02:30 happens twice. It is due at the
    # first (00:30 UTC) only: one send time per local date. (The per-subscription CronTriggers this
    # replaced fired at both; the second found the period sent. One digest either way.)
    sub_id = add_subscription(
        bot, "f@example.org", send_time="02:30", timezone="Europe/Berlin", always_send=True
    )
    backdate(bot, utc(2026, 10, 24, 12, 0))  # created as the replay starts: nothing to catch up
    clock = Clock(utc(2026, 10, 24, 12, 0))
    scheduler = scheduler_for(bot, clock)
    with caplog.at_level(logging.INFO, logger="paperbot.scheduler"):
        fires = replay(scheduler, clock, utc(2026, 10, 24, 12, 0), utc(2026, 10, 26, 0, 0))
    scheduler.stop()
    assert [f.strftime("%m-%d %H:%M") for f, _ in fires] == ["10-25 00:30"]
    assert [(d.period, d.claimed_at) for d in digests(bot, sub_id)] == [
        ("2026-10-25", utc(2026, 10, 25, 0, 30))
    ]
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("job=digest")]
    assert re.fullmatch(
        rf"job=digest subscription={sub_id} period=2026-10-25 status=sent items=\d+ duration_ms=\d+", line
    )
    # Even run at the second 02:30, the period is the same one and already sent.
    clock.now = utc(2026, 10, 25, 1, 30)
    assert latest_period(bot.subscription(subscription_id=sub_id), now=clock.now).key == "2026-10-25"


# ---- catch-up after downtime -------------------------------------------------------------------


def test_restart_after_two_day_outage_sends_only_the_latest_missed_period_once(bot: Paperbot) -> None:
    daily = add_subscription(bot, "d@example.org", send_time="08:00", timezone="Europe/Berlin")
    weekdays = add_subscription(bot, "w@example.org", frequency="weekdays", send_time="07:00", timezone="UTC")
    weekly = add_subscription(bot, "k@example.org", frequency="weekly", weekday=0, send_time="06:00")
    backdate(bot, MONDAY)
    clock = Clock(MONDAY)
    first = scheduler_for(bot, clock)
    replay(first, clock, MONDAY, utc(2026, 11, 23, 12, 0))  # Monday: everyone gets theirs
    first.stop()  # the outage: nothing runs on Tuesday or Wednesday morning

    clock.now = utc(2026, 11, 25, 12, 0)  # Wednesday noon: restart
    second = scheduler_for(bot, clock)
    second.tick()
    second.tick()  # the next tick (or a second leader) finds nothing left to do
    second.stop()
    # Tuesday's periods are skipped, as documented: one catch-up digest each, the latest period.
    assert [d.period for d in digests(bot, daily)] == ["2026-11-23", "2026-11-25"]
    assert [d.period for d in digests(bot, weekdays)] == ["2026-11-23", "2026-11-25"]
    assert [d.period for d in digests(bot, weekly)] == ["2026-W48"]
    assert store.take_due(bot.engine, now=clock.now) == []  # each is planned for its next send time


def test_a_subscription_created_after_its_send_time_waits_for_the_next_one(bot: Paperbot) -> None:
    sub_id = add_subscription(bot, "late@example.org", send_time="08:00")
    backdate(bot, utc(2026, 11, 23, 9, 0))
    clock = Clock(utc(2026, 11, 23, 10, 0))
    scheduler = scheduler_for(bot, clock)
    fires = replay(scheduler, clock, clock.now, utc(2026, 11, 24, 12, 0))
    scheduler.stop()
    assert fires == [(utc(2026, 11, 24, 8, 0), sub_id)]
    assert [d.period for d in digests(bot, sub_id)] == ["2026-11-24"]


def test_a_new_leader_resends_a_digest_whose_sender_died(bot: Paperbot) -> None:
    sub_id = add_subscription(bot, "c@example.org", send_time="08:00", always_send=True)
    backdate(bot, MONDAY - timedelta(days=1))
    now = utc(2026, 11, 23, 8, 0)
    period = latest_period(bot.subscriptions()[0], now=now)
    picks = bot.recommend(subscriber_id=bot.subscriptions()[0].subscriber_id, since=period.start, now=now)
    held = store.claim(bot.engine, sub_id, period, picks, now=now)  # claimed, then the process was killed
    assert held is not None
    clock = Clock(now + timedelta(minutes=2))  # well inside the 15-minute lease
    scheduler = scheduler_for(bot, clock)  # becoming leader marks the orphaned claim retryable
    assert [(d.status, d.error) for d in digests(bot, sub_id)] == [("claimed", store.INTERRUPTED)]
    scheduler.tick()
    scheduler.stop()
    assert [(d.period, d.status, d.attempts) for d in digests(bot, sub_id)] == [("2026-11-23", "sent", 2)]


# ---- schedule changes --------------------------------------------------------------------------


def test_changes_made_by_any_process_are_seen_by_the_next_tick(bot: Paperbot) -> None:
    one = add_subscription(bot, "one@example.org", send_time="08:00")
    two = add_subscription(bot, "two@example.org", send_time="09:00")
    backdate(bot, MONDAY)
    clock = Clock(MONDAY)
    scheduler = scheduler_for(bot, clock)
    assert jobs(scheduler) == {"leader", "startup", "tick", "ingest", "housekeeping"}  # none per subscription
    scheduler.tick()

    add_subscription(bot, "one@example.org", send_time="18:30", timezone="Asia/Tokyo")  # rescheduled
    bot.set_active(subscription_id=two, active=False, reason="on holiday")
    three = add_subscription(bot, "three@example.org")  # 08:00 UTC
    with session_scope(bot.engine) as session:  # as if created at the start of the replay, like the rest
        session.connection().execute(
            update(models.Subscription).where(col(models.Subscription.id) == three).values(created_at=MONDAY)
        )
    fires = replay(scheduler, clock, MONDAY, MONDAY + timedelta(days=1))
    scheduler.stop()
    assert fires == [(utc(2026, 11, 23, 8, 0), three), (utc(2026, 11, 23, 9, 30), one)]  # 18:30 in Tokyo
    assert digests(bot, two) == []


def due_at(bot: Paperbot, subscription_id: int) -> object:
    with session_scope(bot.engine) as session:
        row = session.get(models.Subscription, subscription_id)
        assert row is not None
        return row.next_due_at


def test_a_schedule_change_replans_the_next_send_at_the_new_time(bot: Paperbot) -> None:
    sub_id = add_subscription(bot, "re@example.org", send_time="08:00")
    backdate(bot, MONDAY)
    clock = Clock(MONDAY)
    scheduler = scheduler_for(bot, clock)
    replay(scheduler, clock, MONDAY, utc(2026, 11, 23, 12, 0))
    assert due_at(bot, sub_id) == utc(2026, 11, 24, 8, 0)

    bot.update_subscription(sub_id, send_time="18:00", timezone="Asia/Tokyo")  # 09:00 UTC
    fires = replay(scheduler, clock, utc(2026, 11, 23, 12, 0), utc(2026, 11, 25, 0, 0))
    # The tick right after the change finds Monday (Tokyo's 2026-11-23) already sent and replans.
    assert fires == [(utc(2026, 11, 23, 12, 0), sub_id), (utc(2026, 11, 24, 9, 0), sub_id)]
    assert [d.period for d in digests(bot, sub_id)] == ["2026-11-23", "2026-11-24"]

    bot.update_subscription(sub_id, frequency=parse_frequency("weekly"), weekday=3)  # Thursdays
    fires = replay(scheduler, clock, utc(2026, 11, 25, 0, 0), utc(2026, 11, 27, 0, 0))
    scheduler.stop()
    assert fires[-1] == (utc(2026, 11, 26, 9, 0), sub_id)
    assert [d.period for d in digests(bot, sub_id)][-1] == "2026-W48"
    assert due_at(bot, sub_id) == utc(2026, 12, 3, 9, 0)


def test_a_pause_until_a_date_ends_at_the_next_tick_and_a_resume_replans(bot: Paperbot) -> None:
    sub_id = add_subscription(bot, "pause@example.org", send_time="08:00")
    backdate(bot, MONDAY)
    clock = Clock(MONDAY)
    scheduler = scheduler_for(bot, clock)
    replay(scheduler, clock, MONDAY, utc(2026, 11, 23, 12, 0))
    bot.set_active(subscription_id=sub_id, active=False, until=utc(2026, 11, 25, 12, 0))

    clock.now = utc(2026, 11, 24, 8, 0)  # paused: Tuesday's digest is not sent
    scheduler.tick()
    assert [d.period for d in digests(bot, sub_id)] == ["2026-11-23"]

    clock.now = utc(2026, 11, 25, 12, 1)  # the pause ended: the tick resumes it and sends the catch-up once
    scheduler.tick()
    scheduler.tick()
    assert bot.subscription(subscription_id=sub_id).active
    assert [d.period for d in digests(bot, sub_id)] == ["2026-11-23", "2026-11-25"]
    assert due_at(bot, sub_id) == utc(2026, 11, 26, 8, 0)

    bot.set_active(subscription_id=sub_id, active=False)  # paused by hand, then resumed by hand
    clock.now = utc(2026, 11, 27, 8, 0)
    scheduler.tick()
    bot.set_active(subscription_id=sub_id, active=True)
    assert due_at(bot, sub_id) is None  # planned afresh by the next tick
    clock.now = utc(2026, 11, 27, 10, 0)
    scheduler.tick()
    scheduler.tick()
    scheduler.stop()
    assert [d.period for d in digests(bot, sub_id)] == ["2026-11-23", "2026-11-25", "2026-11-27"]
    assert due_at(bot, sub_id) == utc(2026, 11, 28, 8, 0)


# ---- leader election ---------------------------------------------------------------------------


def test_one_leader_per_sqlite_database_and_takeover(bot: Paperbot, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(MONDAY)
    first = scheduler_for(bot, clock)
    with caplog.at_level(logging.WARNING, logger="paperbot.scheduler"):
        second = scheduler_for(bot, clock)
    assert (first.info().state, second.info().state) == ("leader", "follower")
    assert FOLLOWER_MESSAGE in caplog.text
    assert jobs(second) == {"leader"}
    first.stop()
    second.check_leader()
    assert second.info().state == "leader"
    second.stop()
    assert second.info().state == "stopped"


@pytest.mark.postgres
def test_one_leader_per_postgres_database_and_takeover_when_its_connection_dies(
    tmp_path: Path, postgres_url: str, cached_encoder: Encoder
) -> None:
    bot = world(tmp_path / "data", postgres_url, papers_at=PAPERS_AT, encoder=cached_encoder)
    add_subscription(bot, "p@example.org")
    clock = Clock(MONDAY)
    first, second = scheduler_for(bot, clock), scheduler_for(bot, clock)
    assert isinstance(first.lock, PostgresLock)
    assert (first.info().state, second.info().state) == ("leader", "follower")
    second.check_leader()
    assert second.info().state == "follower"

    # The leader's session dies (server restart, network): its lock is gone with it.
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'")
    second.check_leader()
    first.check_leader()
    assert (first.info().state, second.info().state) == ("follower", "leader")
    assert jobs(first) == {"leader"} and "tick" in jobs(second)
    first.stop()
    second.stop()
    bot.close()


def test_an_unreachable_database_leaves_the_scheduler_standing_by(
    bot: Paperbot, caplog: pytest.LogCaptureFixture
) -> None:
    dead = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/paperbot?connect_timeout=2")
    scheduler = Scheduler(bot, clock=Clock(MONDAY), lock=PostgresLock(dead))
    with caplog.at_level(logging.ERROR, logger="paperbot.scheduler"):
        scheduler.start(paused=True)  # does not raise: serve keeps serving and retries
    assert scheduler.info().state == "follower" and jobs(scheduler) == {"leader"}
    assert "scheduler cannot reach the database" in caplog.text
    scheduler.stop()


def test_file_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    a, b = FileLock(tmp_path / "x.lock"), FileLock(tmp_path / "x.lock")
    assert a.try_acquire() and a.try_acquire()  # re-entrant for its holder
    assert not b.try_acquire()
    a.release()
    assert b.try_acquire() and b.still_held()
    b.release()


def test_scheduler_uses_the_documented_job_defaults(bot: Paperbot) -> None:
    scheduler: Scheduler = scheduler_for(bot, Clock(MONDAY))
    job = scheduler._aps.get_job("tick")
    assert (job.misfire_grace_time, job.coalesce, job.max_instances) == (3600, True, 1)
    assert str(job.trigger.timezone) == "UTC" and str(scheduler._aps.timezone) == "UTC"
    scheduler.stop()
