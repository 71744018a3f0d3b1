"""Anchors: the concrete papers and texts a profile is made of, with where each one came from.

Every seed paper, text interest and 👍 / 🔖 vote becomes one positive anchor; every 👎 a negative one.
Scores are computed against anchors, and the anchor a candidate matched best gives its reason and
its interest (for per-interest slots).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from profiles.model import Profile

__all__ = ["Anchors", "positive_anchors", "negative_anchors", "recency_weights", "HALF_LIFE_DAYS"]

# Votes lose half their weight in the learned model every HALF_LIFE_DAYS: tastes drift, but slowly
# enough that a quiet month does not erase what a subscriber taught us.
HALF_LIFE_DAYS = 60.0


@dataclass(frozen=True)
class Anchors:
    vectors: np.ndarray  # (m, dim) unit
    at: tuple[datetime | None, ...]  # when the vote was cast; None for interests (they do not fade)
    interest_ids: tuple[int | None, ...]  # interest each anchor belongs to (None: no interests at all)
    liked_ids: tuple[int | None, ...]  # listing id when the anchor is a liked paper, else None
    labels: tuple[str, ...]  # interest label, or the liked paper's title

    @property
    def is_vote(self) -> np.ndarray:
        return np.array([t is not None for t in self.at], dtype=bool)


def recency_weights(at: tuple[datetime | None, ...], now: datetime) -> np.ndarray:
    """1 for interests and today's votes, 1/2 for a vote HALF_LIFE_DAYS old; never above 1."""
    ages = [0.0 if t is None else max((now - t).total_seconds(), 0.0) / 86400.0 for t in at]
    return np.power(0.5, np.asarray(ages, dtype=float) / HALF_LIFE_DAYS)


def _nearest_interest(vector: np.ndarray, profile: Profile) -> int | None:
    if not profile.interests:
        return None
    return profile.interests[int(np.argmax([i.vector @ vector for i in profile.interests]))].id


def positive_anchors(profile: Profile) -> Anchors:
    """Seeds (or the text vector) of each interest, then every positive vote, oldest first."""
    rows: list[tuple[np.ndarray, datetime | None, int | None, int | None, str]] = []
    for interest in profile.interests:
        seeds = interest.seed_vectors if interest.seed_vectors is not None else interest.vector[None, :]
        rows.extend((seed, None, interest.id, None, interest.label) for seed in seeds)
    known = {i.id for i in profile.interests}
    for vote in sorted((v for v in profile.votes if v.value > 0), key=lambda v: v.at):
        # A vote for an interest that was deleted since goes to the nearest remaining one.
        owner = vote.interest_id if vote.interest_id in known else _nearest_interest(vote.vector, profile)
        rows.append((vote.vector, vote.at, owner, vote.listing_id, vote.title))
    vectors, at, interest_ids, liked_ids, labels = zip(*rows, strict=True) if rows else ((),) * 5
    return Anchors(
        vectors=np.asarray(vectors, dtype=np.float32).reshape(len(rows), _dim(profile)),
        at=tuple(at),
        interest_ids=tuple(interest_ids),
        liked_ids=tuple(liked_ids),
        labels=tuple(labels),
    )


def negative_anchors(profile: Profile) -> tuple[np.ndarray, tuple[datetime, ...]]:
    """The 👎 papers' vectors (n, dim) and when each vote was cast."""
    votes = [v for v in profile.votes if v.value < 0]
    vectors = np.asarray([v.vector for v in votes], dtype=np.float32).reshape(len(votes), _dim(profile))
    return vectors, tuple(v.at for v in votes)


def _dim(profile: Profile) -> int:
    if profile.interests:
        return int(profile.interests[0].vector.shape[-1])
    return int(profile.votes[0].vector.shape[-1])
