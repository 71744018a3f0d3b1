"""Helpers for the scheduler, ops and serve tests: a settable clock, a world with subscriptions, and
a replay of the scheduler's real cron triggers over a stretch of time with no waiting."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from bot.inputs import Schedule
from bot.schedule.scheduler import Scheduler, SchedulerConfig
from bot.service import Paperbot, sample_feed_path
from bot.vectors.embed import Encoder
from storage import models
from storage.db import session_scope
from tests.digest.world import make_world

__all__ = [
    "Clock",
    "utc",
    "world",
    "sqlite_world",
    "add_subscription",
    "backdate",
    "replay",
    "digests",
    "scheduler_for",
    "PAPERS_AT",
]

INTERESTS = ("language models", "graph neural networks", "reinforcement learning", "diffusion models")
# First seen after every period the tests replay, so every digest has papers in its window.
PAPERS_AT = datetime(2027, 1, 1, tzinfo=UTC)
_TEMPLATE: dict[str, Path] = {}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


class Clock:
    """The scheduler's clock in tests: set by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def world(
    data_dir: Path, database_url: str, *, papers_at: datetime, encoder: Encoder, **settings: object
) -> Paperbot:
    """The real Paperbot (real model and ranker) holding the bundled sample papers; pass the session's
    `cached_encoder` so the sample is embedded once per run."""
    bot = make_world(data_dir, database_url, encoder=encoder, **settings)
    bot.ingest(sources=[str(sample_feed_path())], now=papers_at)
    return bot


def sqlite_world(
    data_dir: Path, factory: pytest.TempPathFactory, *, encoder: Encoder, **settings: object
) -> Paperbot:
    """`world` on SQLite in `data_dir`, copied from one built once per test session (the ingest of the
    sample runs the model once; the copy takes a few milliseconds)."""
    if "sqlite" not in _TEMPLATE:
        template = factory.mktemp("world") / "data"
        world(template, f"sqlite:///{template / 'paperbot.db'}", papers_at=PAPERS_AT, encoder=encoder).close()
        _TEMPLATE["sqlite"] = template
    shutil.copytree(_TEMPLATE["sqlite"], data_dir)
    return make_world(data_dir, f"sqlite:///{data_dir / 'paperbot.db'}", encoder=encoder, **settings)


def add_subscription(
    bot: Paperbot, email: str, *, interests: Sequence[str] = INTERESTS, **schedule: object
) -> int:
    view = bot.subscribe(email=email, interests=interests, schedule=Schedule(**schedule))  # type: ignore[arg-type]
    return view.subscriptions[-1].id


def backdate(bot: Paperbot, when: datetime) -> None:
    """Pretend every subscription was created at `when` (the catch-up ignores periods before that)."""
    with session_scope(bot.engine) as session:
        session.connection().execute(update(models.Subscription).values(created_at=when))


def scheduler_for(bot: Paperbot, clock: Clock, **config: object) -> Scheduler:
    """A leader whose APScheduler never fires on its own: tests drive the jobs with `replay`."""
    scheduler = Scheduler(bot, clock=clock, config=SchedulerConfig(**config))  # type: ignore[arg-type]
    scheduler.start(paused=True)
    return scheduler


def replay(scheduler: Scheduler, clock: Clock, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """Run every digest job at each fire time its real trigger gives in (start, end], in order.
    Returns the (fire time, subscription id) pairs."""
    fires = []
    for sub_id, trigger in scheduler.digest_triggers().items():
        previous, now = None, start
        while (fire := trigger.get_next_fire_time(previous, now)) is not None and fire <= end:
            fires.append((fire.astimezone(UTC), sub_id))
            previous = now = fire
    for fire, sub_id in sorted(fires):
        clock.now = fire
        scheduler.digest(sub_id)
    clock.now = end
    return sorted(fires)


def digests(bot: Paperbot, subscription_id: int | None = None) -> list[models.Digest]:
    with session_scope(bot.engine) as session:
        query = select(models.Digest).order_by(col(models.Digest.id))
        if subscription_id is not None:
            query = query.where(models.Digest.subscription_id == subscription_id)
        return list(session.exec(query).all())
