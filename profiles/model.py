"""A subscriber's interest profile: what they told us (interests) and what they did (votes).

Everything here is plain data over numpy arrays; the service layer builds these from the database
and hands them to `profiles.rank`. Vectors are unit-length float32 sentence embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

__all__ = ["Interest", "Vote", "Profile", "unit", "interest_from_seeds", "interests_from_papers"]


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    out: np.ndarray = np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
    return out


@dataclass(frozen=True)
class Interest:
    """One thing the subscriber follows: a text query or a group of seed papers."""

    id: int
    label: str
    vector: np.ndarray  # unit (dim,): the text embedding, or the normalised mean of the seeds
    seed_vectors: np.ndarray | None = None  # (k, dim) when the interest came from papers


@dataclass(frozen=True)
class Vote:
    """A 👍 / 🔖 (value +1) or 👎 (value -1) on one digest item."""

    listing_id: int
    vector: np.ndarray
    value: int
    at: datetime
    title: str = ""
    interest_id: int | None = None  # the interest the item was shown for


@dataclass(frozen=True)
class Profile:
    interests: tuple[Interest, ...]
    votes: tuple[Vote, ...] = ()
    followed_authors: tuple[str, ...] = ()
    muted_keywords: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.interests and not self.votes

    @property
    def has_positives(self) -> bool:
        """Is there anything to match against: an interest, or at least one 👍 / 🔖?"""
        return bool(self.interests) or any(v.value > 0 for v in self.votes)


def interest_from_seeds(id: int, label: str, seed_vectors: np.ndarray) -> Interest:
    """An interest made of seed papers; its vector is the direction of their mean."""
    seeds = unit(np.atleast_2d(seed_vectors))
    return Interest(id=id, label=label, vector=unit(seeds.mean(axis=0)), seed_vectors=seeds)


def interests_from_papers(
    vectors: np.ndarray, titles: Sequence[str], *, first_id: int = 1, min_similarity: float = 0.5
) -> tuple[Interest, ...]:
    """Group seed papers (e.g. a BibTeX import) into interests by topic.

    Papers join a group when their cosine similarity to its mean is at least `min_similarity`
    (greedy, in the given order), so one import about two topics becomes two interests that each
    keep their own digest slots. The label is the title of the paper closest to the group mean.
    """
    seeds = unit(np.atleast_2d(vectors))
    groups: list[list[int]] = []
    for i, v in enumerate(seeds):
        sims = [float(unit(seeds[g].mean(axis=0)) @ v) for g in groups]
        best = int(np.argmax(sims)) if sims else -1
        if best >= 0 and sims[best] >= min_similarity:
            groups[best].append(i)
        else:
            groups.append([i])
    interests = []
    for n, members in enumerate(groups):
        interest = interest_from_seeds(first_id + n, "", seeds[members])
        central = members[int(np.argmax(seeds[members] @ interest.vector))]
        interests.append(Interest(interest.id, titles[central], interest.vector, interest.seed_vectors))
    return tuple(interests)
