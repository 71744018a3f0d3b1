"""Retention: drop old listings that nobody was ever sent, voted on or seeded from, and their vectors.

A listing is kept while its feed still reports it (`last_seen` moves) and for `retention` after that.
Listings in a digest, with feedback, or used as a seed paper of an interest are kept for good: links in
old mail and profiles point at them. Vectors go with their listing unless another listing (same
text) still uses them. The FAISS index is rebuilt afterwards, which also compacts it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import col, select

from bot.service import Paperbot
from storage import models
from storage.db import session_scope

__all__ = ["PruneReport", "prune", "forget_slack_events"]

log = logging.getLogger("paperbot.housekeeping")
_CHUNK = 500  # keeps IN (...) lists well under every database's parameter limit


@dataclass(frozen=True)
class PruneReport:
    listings: int
    vectors: int
    indexed: int | None  # vectors in the rebuilt index; None when nothing was removed


def _chunks(values: Sequence[int | str]) -> list[Sequence[int | str]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def prune(bot: Paperbot, *, before: datetime) -> PruneReport:
    """Delete listings last seen before `before` that are in no digest, vote or interest."""
    with session_scope(bot.engine) as session:
        kept = set(session.exec(select(models.DigestItem.listing_id)).all())
        kept |= set(session.exec(select(models.Feedback.listing_id)).all())
        for seeds in session.exec(select(models.Interest.seed_listing_ids)).all():
            kept |= set(seeds)
        listing = models.Listing
        old = session.exec(
            select(listing.id, listing.content_hash).where(col(listing.last_seen) < before)
        ).all()
        doomed = [(listing_id, digest) for listing_id, digest in old if listing_id not in kept]
        for chunk in _chunks([listing_id for listing_id, _ in doomed if listing_id is not None]):
            session.exec(delete(listing).where(col(listing.id).in_(chunk)))
        hashes = sorted({digest for _, digest in doomed})
        in_use: set[str] = set()
        for chunk in _chunks(hashes):
            in_use |= set(
                session.exec(select(listing.content_hash).where(col(listing.content_hash).in_(chunk)))
            )
        orphans = [digest for digest in hashes if digest not in in_use]
        vectors = 0
        for chunk in _chunks(orphans):
            vector = models.Embedding
            result = session.exec(delete(vector).where(col(vector.content_hash).in_(chunk)))
            vectors += int(result.rowcount)
    indexed = bot.rebuild_index() if doomed else None
    report = PruneReport(listings=len(doomed), vectors=vectors, indexed=indexed)
    log.info("prune: %d listings and %d vectors older than %s removed", len(doomed), vectors, before.date())
    return report


def forget_slack_events(bot: Paperbot, *, now: datetime) -> int:
    """Drop Slack event ids and request signatures older than two days; returns how many. Slack
    retries an event within minutes and refuses a signature older than 5 minutes, so that is plenty
    to dedupe. One-time token keys stay: they refuse replays for as long as their links live."""
    event = models.ProcessedEvent
    with session_scope(bot.engine) as session:
        result = session.exec(
            delete(event).where(
                col(event.key).startswith("slack-"), col(event.created_at) < now - timedelta(days=2)
            )
        )
        return int(result.rowcount)
