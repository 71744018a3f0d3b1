"""Reference rows for the evaluation table: not recommenders, but bounds that put the numbers in scale.

* `PerfectOrder` shows the user's library papers first: the best precision the days allow (a day
  with two library papers caps precision@10 at 0.2).
* `WholeLibrary` is paperbot's similarity score with the user's *entire* library as seed papers
  (minus the papers being ranked): roughly how far content similarity with these embeddings can go
  when the profile knows everything the user ever saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from profiles.protocol import History
from profiles.rank import DEFAULT_PARAMS
from profiles.scoring import score_candidates

__all__ = ["PerfectOrder", "WholeLibrary"]


@dataclass(frozen=True)
class PerfectOrder:
    libraries: Mapping[int, frozenset[int]]
    name: str = "reference: perfect ranking"

    def order(self, history: History, candidates: np.ndarray, *, limit: int) -> np.ndarray:
        mine = np.array([int(i) in self.libraries[history.user] for i in candidates])
        return np.asarray(candidates)[np.argsort(~mine, kind="stable")[:limit]]


@dataclass(frozen=True)
class WholeLibrary:
    vectors: np.ndarray
    libraries: Mapping[int, frozenset[int]]
    name: str = "reference: similarity to whole library"

    def order(self, history: History, candidates: np.ndarray, *, limit: int) -> np.ndarray:
        known = sorted(self.libraries[history.user] - {int(i) for i in candidates})
        scores = score_candidates(
            self.vectors[candidates],
            anchors=self.vectors[known],
            groups=np.zeros(len(known), dtype=np.int64),
            anchor_weights=np.ones(len(known)),
            negatives=np.zeros((0, self.vectors.shape[1]), dtype=np.float32),
            negative_weights=np.zeros(0),
            background=self.vectors[list(history.background)],
            n_votes=0,
            params=DEFAULT_PARAMS,
        )
        return np.asarray(candidates)[np.argsort(-scores.score, kind="stable")[:limit]]
