"""profiles.eval.references: the bounds printed under the evaluation table."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from profiles.eval.protocol import History
from profiles.eval.references import AllLabels
from profiles.model import unit

N, DIM = 300, 16


def corpus() -> tuple[np.ndarray, sparse.csr_matrix, frozenset[int]]:
    """Papers 0-39 (the library) lean towards one direction and one word; the rest are random."""
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(N, DIM))
    vectors[:40, 0] += 5.0
    words = (rng.random((N, 50)) < 0.1).astype(np.float32)
    words[:40, 7] = 1.0
    return unit(vectors), sparse.csr_matrix(words), frozenset(range(40))


def test_the_all_labels_ceiling_learns_the_library_without_the_papers_it_ranks() -> None:
    vectors, tfidf, library = corpus()
    ceiling = AllLabels(vectors, tfidf, np.arange(N), {7: library})
    candidates = np.r_[np.arange(30, 40), np.arange(200, 260)]  # 10 library papers among 70

    train = ceiling.training_rows(candidates)
    assert not set(train) & set(candidates) and len(train) == N - len(candidates)

    history = History(user=7, day=1, seeds=(), votes=(), seen=(), background=())
    top = ceiling.order(history, candidates, limit=10)
    assert len(top) == 10 and sum(int(i) in library for i in top) >= 9
