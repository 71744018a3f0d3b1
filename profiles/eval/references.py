"""Reference rows for the evaluation table: not recommenders, but bounds that put the numbers in scale.

* `PerfectOrder` shows the user's library papers first: the best precision the days allow (a day
  with two library papers caps precision@10 at 0.2).
* `WholeLibrary` is paperbot's similarity score with the user's *entire* library as seed papers
  (minus the papers being ranked): roughly how far content similarity with these embeddings can go
  when the profile knows everything the user ever saved.
* `AllLabels` is a supervised ceiling: classifiers trained on the label (in the library or not) of
  every corpus paper except the ones being ranked, on the embeddings and on tf-idf. No method that
  learns from 5 seeds and its own votes can know more; it bounds what these features can tell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from profiles.eval.protocol import History
from profiles.rank import DEFAULT_PARAMS
from profiles.scoring import score_candidates, standardise

__all__ = ["PerfectOrder", "WholeLibrary", "AllLabels"]


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


@dataclass(frozen=True)
class AllLabels:
    """Logistic regression on the embeddings plus half a tf-idf linear SVM (both standardised), each
    trained on every paper of `rows` that is not being ranked, labelled by the user's library.

    `rows` are the corpus papers with vectors. The weight 0.5 is the tf-idf fusion of
    docs/evaluation.md; the SVM's C barely matters (0.01, 0.1 and 1 give 0.101-0.102 warm P@10 on
    tune users). It is an upper bound, not a method: it knows labels no subscriber ever gives."""

    vectors: np.ndarray
    tfidf: sparse.csr_matrix
    rows: np.ndarray
    libraries: Mapping[int, frozenset[int]]
    name: str = "reference: classifier knowing every other paper"

    def training_rows(self, candidates: np.ndarray) -> np.ndarray:
        rows: np.ndarray = np.setdiff1d(self.rows, candidates)
        return rows

    def order(self, history: History, candidates: np.ndarray, *, limit: int) -> np.ndarray:
        train = self.training_rows(candidates)
        y = np.isin(train, list(self.libraries[history.user])).astype(np.int64)
        dense = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(self.vectors[train], y)
        lexical = LinearSVC(C=0.1, class_weight="balanced", max_iter=10000).fit(self.tfidf[train], y)
        scores = standardise(dense.decision_function(self.vectors[candidates])) + 0.5 * standardise(
            lexical.decision_function(self.tfidf[candidates])
        )
        return np.asarray(candidates)[np.argsort(-scores, kind="stable")[:limit]]
