"""Read-only summaries of the database for operators: `/healthz`, `/metrics` and `paperbot status`.

The front ends that show them (bot.server.ops, bot.server.status) hold no SQL; every query is here,
each in one short transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, text
from sqlmodel import col, or_, select

from bot.records import QueueCounts
from bot.service import Paperbot
from storage import models
from storage.db import session_scope

__all__ = [
    "queue_counts",
    "DigestStatus",
    "LastIngest",
    "Totals",
    "DigestRows",
    "ping",
    "last_ingest",
    "totals",
    "digest_rows",
]


@dataclass(frozen=True)
class DigestStatus:
    id: int
    subscription_id: int
    period: str
    status: str  # claimed | sent | empty | failed
    attempts: int
    error: str | None
    claimed_at: datetime
    sent_at: datetime | None


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


@dataclass(frozen=True)
class DigestRows:
    recent: tuple[DigestStatus, ...]  # newest claims first
    latest: dict[int, DigestStatus]  # subscription id -> its newest digest
    failing: tuple[DigestStatus, ...]  # failed for good, or claimed with an error (will be retried)


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


def _digest(row: models.Digest) -> DigestStatus:
    assert row.id is not None
    return DigestStatus(
        row.id,
        row.subscription_id,
        row.period,
        row.status,
        row.attempts,
        row.error,
        row.claimed_at,
        row.sent_at,
    )


def digest_rows(bot: Paperbot, *, recent: int) -> DigestRows:
    """The `recent` newest digests, each subscription's latest, and the `recent` newest failing ones."""
    d = models.Digest
    with session_scope(bot.engine) as session:
        newest = select(d).order_by(col(d.claimed_at).desc(), col(d.id).desc()).limit(recent)
        recent_digests = tuple(_digest(r) for r in session.exec(newest))
        last_ids = select(func.max(d.id)).group_by(col(d.subscription_id))
        newest_each = session.exec(select(d).where(col(d.id).in_(last_ids)))
        latest = {r.subscription_id: _digest(r) for r in newest_each}
        retrying = (col(d.status) == "claimed") & col(d.error).is_not(None)
        failing = or_(col(d.status) == "failed", retrying)
        broken = select(d).where(failing).order_by(col(d.claimed_at).desc()).limit(recent)
        failed = tuple(_digest(r) for r in session.exec(broken))
    return DigestRows(recent_digests, latest, failed)


def queue_counts(bot: Paperbot) -> QueueCounts | None:
    """Distributed mode's jobs by state (None on SQLite, which has no queue). Retrying: waiting to run
    again after a failed or stalled attempt."""
    if bot.engine.dialect.name != "postgresql":
        return None
    query = text(
        "SELECT count(*) FILTER (WHERE status = 'todo' AND attempts = 0),"
        " count(*) FILTER (WHERE status = 'doing'),"
        " count(*) FILTER (WHERE status = 'todo' AND attempts > 0),"
        " count(*) FILTER (WHERE status = 'failed')"
        " FROM procrastinate_jobs"
    )
    with bot.engine.connect() as conn:
        pending, running, retrying, failed = conn.execute(query).one()
    return QueueCounts(int(pending), int(running), int(retrying), int(failed))
