"""Retention: old listings nobody got, voted on or seeded from go, with their vectors; the rest stays."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, update
from sqlmodel import col, select

from bot.schedule.housekeeping import forget_slack_events, prune
from bot.service import Paperbot
from bot.vectors.embed import Encoder
from storage import models
from storage.db import session_scope
from tests.factories import make_bot
from tests.scheduling import Clock, add_subscription, backdate, scheduler_for, sqlite_world, utc

NOW = utc(2026, 11, 23, 9, 0)


@pytest.fixture
def bot(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, cached_encoder: Encoder
) -> Iterator[Paperbot]:
    bot = sqlite_world(tmp_path / "data", tmp_path_factory, encoder=cached_encoder)
    yield bot
    bot.close()


def counts(bot: Paperbot) -> tuple[int, int]:
    with session_scope(bot.engine) as session:
        listings = session.exec(select(func.count()).select_from(models.Listing)).one()
        vectors = session.exec(select(func.count()).select_from(models.Embedding)).one()
    return int(listings), int(vectors)


def test_prune_keeps_what_was_sent_voted_on_seeded_or_still_in_a_feed(bot: Paperbot) -> None:
    add_subscription(bot, "h@example.org", send_time="08:00")
    backdate(bot, NOW - timedelta(days=1))
    scheduler = scheduler_for(bot, Clock(NOW))
    scheduler.tick()  # one digest sent: its items are kept for good
    scheduler.stop()
    subscriber = bot.subscriptions()[0].subscriber_id
    with session_scope(bot.engine) as session:
        sent = set(session.exec(select(models.DigestItem.listing_id)).all())
        ids = sorted(i for i in session.exec(select(models.Listing.id)).all() if i is not None)
    others = [i for i in ids if i not in sent]
    voted, seed, fresh = others[:3]
    bot.record_feedback(subscriber_id=subscriber, listing_id=voted, vote="down")
    bot.add_interest(subscriber_id=subscriber, seed_papers=[str(seed)])
    listings_before, vectors_before = counts(bot)
    with session_scope(bot.engine) as session:
        old = update(models.Listing).values(last_seen=NOW - timedelta(days=200))
        session.connection().execute(old)
        session.connection().execute(
            update(models.Listing).where(col(models.Listing.id) == fresh).values(last_seen=NOW)
        )

    report = prune(bot, before=NOW - timedelta(days=90))

    kept = len(sent) + 3
    assert report.listings == listings_before - kept
    assert counts(bot) == (kept, vectors_before - report.vectors)
    assert report.indexed == kept == len(bot.index)
    with session_scope(bot.engine) as session:
        remaining = set(session.exec(select(models.Listing.id)).all())
    assert remaining == sent | {voted, seed, fresh}
    assert prune(bot, before=NOW - timedelta(days=90)) == type(report)(0, 0, None)  # idempotent


def test_housekeeping_job_logs_one_line(bot: Paperbot, caplog: pytest.LogCaptureFixture) -> None:
    scheduler = scheduler_for(bot, Clock(NOW))
    with caplog.at_level(logging.INFO, logger="paperbot.scheduler"):
        scheduler.housekeeping()  # the sample papers were first seen in 2027: nothing is old enough
    scheduler.stop()
    assert "job=housekeeping listings=0 vectors=0 slack_events=0 duration_ms=" in caplog.text


def test_old_slack_event_ids_are_forgotten_token_keys_are_kept(tmp_path: Path) -> None:
    bot = make_bot(tmp_path / "data")
    now = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
    with session_scope(bot.engine) as session:
        session.add(models.ProcessedEvent(key="slack-event:Ev1", created_at=now - timedelta(days=3)))
        session.add(models.ProcessedEvent(key="slack-event:Ev2", created_at=now - timedelta(hours=5)))
        session.add(models.ProcessedEvent(key="unsubscribe:abc", created_at=now - timedelta(days=300)))
    assert forget_slack_events(bot, now=now) == 1
    assert not bot.seen(key="slack-event:Ev1")
    assert bot.seen(key="slack-event:Ev2") and bot.seen(key="unsubscribe:abc")
    bot.close()
