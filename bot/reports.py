"""Read-only summaries of the database for operators: `/healthz` and `/metrics` (`paperbot status`
reads bot.views).

The front end that shows them (bot.server.ops) holds no SQL; every query is here, each in one short
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, text
from sqlmodel import col, select

from bot.service import Paperbot
from storage import models
from storage.db import session_scope

__all__ = [
    "LastIngest",
    "Totals",
    "ping",
    "last_ingest",
    "totals",
]


@dataclass(frozen=True)
class LastIngest:
    last_success_at: datetime | None
    failing: tuple[tuple[str, str], ...]  # (url, error) of every enabled source whose last fetch failed


@dataclass(frozen=True)
class Totals:
    listings: int
    digests: tuple[tuple[str, int], ...]  # (status, count)
    votes: tuple[tuple[str, str, int], ...]  # (vote, via, count): the last vote per subscriber and paper
    subscriptions: tuple[tuple[bool, int], ...]  # (active, count)
    last_success_at: datetime | None


def ping(bot: Paperbot) -> str:
    """The database dialect's name once `SELECT 1` answered; raises whatever the driver raises."""
    with bot.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return bot.engine.dialect.name


def last_ingest(bot: Paperbot) -> LastIngest:
    with session_scope(bot.engine) as session:
        success = session.exec(select(func.max(models.Source.last_success_at))).one()
        failing = session.exec(
            select(models.Source.url, models.Source.last_error).where(
                models.Source.enabled,
                col(models.Source.last_error).is_not(None),
            )
        ).all()
    return LastIngest(success, tuple((url, error or "") for url, error in failing))


def totals(bot: Paperbot) -> Totals:
    """Listings, digests by status, votes by vote and channel, subscriptions by state, last ingest."""
    d, f, s = models.Digest, models.Feedback, models.Subscription
    with session_scope(bot.engine) as session:
        listings = session.exec(select(func.count()).select_from(models.Listing)).one()
        digests = session.exec(select(d.status, func.count()).group_by(d.status)).all()
        votes = session.exec(select(f.vote, f.via, func.count()).group_by(f.vote, f.via)).all()
        subs = session.exec(select(s.active, func.count()).group_by(col(s.active))).all()
        last = session.exec(select(func.max(models.Source.last_success_at))).one()
    return Totals(
        listings,
        tuple((status, n) for status, n in digests),
        tuple((vote, via, n) for vote, via, n in votes),
        tuple((active, n) for active, n in subs),
        last,
    )
