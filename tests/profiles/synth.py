"""Synthetic embeddings with known structure: topics are directions, papers are noisy copies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from profiles.model import Interest, Vote, interest_from_seeds, unit
from profiles.rank import Candidate

__all__ = ["DIM", "NOW", "World", "near"]

DIM = 32
NOW = datetime(2024, 5, 1, 7, tzinfo=UTC)


def near(center: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """A unit vector around `center`; noise 0.3 gives cosine about 0.85 to it in 32 dimensions."""
    return unit(center + noise * rng.normal(size=center.shape) / np.sqrt(center.shape[-1]) * 4)


class World:
    """Orthogonal-ish topic directions and helpers that make papers, interests and votes on them."""

    def __init__(self, seed: int = 0, topics: int = 6) -> None:
        self.rng = np.random.default_rng(seed)
        self.topics = unit(self.rng.normal(size=(topics, DIM)))
        self._next_id = 1000

    def paper(self, topic: int, noise: float = 0.3) -> np.ndarray:
        return near(self.topics[topic], self.rng, noise)

    def candidate(self, topic: int, noise: float = 0.3, **fields: object) -> Candidate:
        self._next_id += 1
        title = str(fields.pop("title", f"paper {self._next_id} on topic {topic}"))
        return Candidate(self._next_id, self.paper(topic, noise), title, **fields)  # type: ignore[arg-type]

    def random_candidate(self) -> Candidate:
        self._next_id += 1
        return Candidate(self._next_id, unit(self.rng.normal(size=DIM)), f"unrelated {self._next_id}")

    def interest(self, id: int, topic: int, seeds: int = 3) -> Interest:
        return interest_from_seeds(id, f"topic {topic}", np.stack([self.paper(topic) for _ in range(seeds)]))

    def background(self, n: int = 300) -> np.ndarray:
        return unit(self.rng.normal(size=(n, DIM)))

    def vote(self, candidate: Candidate, value: int, days_ago: float = 1.0) -> Vote:
        return Vote(
            listing_id=candidate.listing_id,
            vector=candidate.vector,
            value=value,
            at=NOW - timedelta(days=days_ago),
            title=candidate.title,
        )
