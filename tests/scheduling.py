"""Helpers for the scheduler, ops and serve tests: a settable clock, a world with subscriptions, and
a replay of the scheduler's real tick over a stretch of time with no waiting."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from bot.digests import store
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
    """Pretend every subscription was created at `when` (periods before that are never sent), and not
    planned yet, so the next tick plans each from `when`."""
    with session_scope(bot.engine) as session:
        session.connection().execute(update(models.Subscription).values(created_at=when, next_due_at=None))


def scheduler_for(bot: Paperbot, clock: Clock, **config: object) -> Scheduler:
    """A leader whose APScheduler never fires on its own: tests drive the jobs with `replay`."""
    scheduler = Scheduler(bot, clock=clock, config=SchedulerConfig(**config))  # type: ignore[arg-type]
    scheduler.start(paused=True)
    return scheduler


def replay(scheduler: Scheduler, clock: Clock, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """Run the scheduler's tick at each instant in [start, end] at which a subscription is due: what the
    tick every minute does, without the minutes in between. Returns the (tick time, subscription id)
    pairs that were due."""
    engine = scheduler.bot.engine
    fires: list[tuple[datetime, int]] = []
    clock.now = start
    while True:
        store.plan_new(engine)  # the tick does this first too; done here to see when each is due
        with session_scope(engine) as session:
            rows = session.exec(
                select(models.Subscription.id, models.Subscription.next_due_at).where(
                    col(models.Subscription.active)
                )
            ).all()
        planned = {sub_id: due for sub_id, due in rows if sub_id is not None and due is not None}
        if not planned or (when := max(min(planned.values()), clock.now)) > end:
            break
        assert not fires or when > fires[-1][0], f"the tick at {when} left its subscriptions due"
        clock.now = when
        fires += sorted((when, sub_id) for sub_id, due in planned.items() if due <= when)
        scheduler.tick()
    clock.now = end
    return fires


def digests(bot: Paperbot, subscription_id: int | None = None) -> list[models.Digest]:
    with session_scope(bot.engine) as session:
        query = select(models.Digest).order_by(col(models.Digest.id))
        if subscription_id is not None:
            query = query.where(models.Digest.subscription_id == subscription_id)
        return list(session.exec(query).all())
