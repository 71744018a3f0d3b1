"""Baseline recommenders for the offline evaluation, each as its source project does it.

Every baseline sees the same information as paperbot: the seed papers, the votes on what it showed,
the papers delivered so far and a random background sample. "Liked" means the seeds plus every +1 vote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from profiles.eval.protocol import History

__all__ = [
    "RandomOrder",
    "ArxivSanityLite",
    "ZoteroArxivDaily",
    "NearestLiked",
    "LogisticVotes",
    "liked_items",
    "tfidf_features",
]


def liked_items(history: History) -> list[int]:
    """Seeds first, then +1 votes, oldest first."""
    return [*history.seeds, *(v.item for v in history.votes if v.value > 0)]


def _best_first(candidates: np.ndarray, scores: np.ndarray, limit: int) -> np.ndarray:
    # Stable sort on -score: ties keep candidate order, so runs are reproducible.
    return np.asarray(candidates)[np.argsort(-scores, kind="stable")[:limit]]


@dataclass(frozen=True)
class RandomOrder:
    seed: int = 0
    name: str = "random"

    def order(self, history: History, candidates: np.ndarray, *, limit: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, history.user, history.day, int(candidates[0])])
        return rng.permutation(candidates)[:limit]


def tfidf_features(texts: Sequence[str]) -> sparse.csr_matrix:
    """arxiv-sanity-lite's compute.py settings (title + abstract; CiteULike has no author field)."""
    vectorizer = TfidfVectorizer(
        input="content",
        encoding="utf-8",
        decode_error="replace",
        strip_accents="unicode",
        lowercase=True,
        analyzer="word",
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
        ngram_range=(1, 2),
        max_features=20000,
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        sublinear_tf=True,
        max_df=0.1,
        min_df=5,
    )
    return sparse.csr_matrix(vectorizer.fit_transform(texts), dtype=np.float32)


@dataclass(frozen=True)
class ArxivSanityLite:
    """karpathy/arxiv-sanity-lite `svm_rank`: a linear SVM on tf-idf, liked papers against every other
    paper in the database (here: seeds and everything delivered so far), C=0.01, balanced classes."""

    tfidf: sparse.csr_matrix
    c: float = 0.01
    name: str = "arxiv-sanity-lite"

    def order(self, history: History, candidates: np.ndarray, *, limit: int) -> np.ndarray:
        pool = np.unique(np.concatenate([history.seeds, history.seen, candidates]).astype(np.int64))
        y = np.isin(pool, liked_items(history)).astype(np.int64)
        clf = LinearSVC(class_weight="balanced", max_iter=10000, tol=1e-6, C=self.c)
        clf.fit(self.tfidf[pool], y)
        return _best_first(candidates, clf.decision_function(self.tfidf[candidates]), limit)


@dataclass(frozen=True)
class ZoteroArxivDaily:
    """TideDra/zotero-arxiv-daily `rerank_paper`: cosine to each library paper, weighted
    1 / (1 + log10(rank + 1)) with the most recently added paper first, normalised to sum 1."""

    vectors: np.ndarray
    name: str = "zotero-arxiv-daily"

    def order(self, history: History, candidates: np.ndarray, *, limit: int) -> np.ndarray:
        corpus = liked_items(history)[::-1]  # newest first; seeds were "added" before any vote
        weights = 1.0 / (1.0 + np.log10(np.arange(len(corpus)) + 1.0))
        weights /= weights.sum()
        sims = self.vectors[candidates] @ self.vectors[corpus].T
        return _best_first(candidates, sims @ weights, limit)


@dataclass(frozen=True)
class NearestLiked:
    """The plain FAISS answer: score = cosine to the closest liked paper."""

    vectors: np.ndarray
    name: str = "nearest liked paper"

    def order(self, history: History, candidates: np.ndarray, *, limit: int) -> np.ndarray:
        sims = self.vectors[candidates] @ self.vectors[liked_items(history)].T
        return _best_first(candidates, sims.max(axis=1), limit)


@dataclass(frozen=True)
class LogisticVotes:
    """Scholar Inbox style: logistic regression on embeddings, liked papers and -1 votes, plus the
    random background papers as extra negatives."""

    vectors: np.ndarray
    c: float = 1.0
    name: str = "logistic regression"

    def order(self, history: History, candidates: np.ndarray, *, limit: int) -> np.ndarray:
        liked = liked_items(history)
        disliked = [v.item for v in history.votes if v.value < 0]
        negatives = [*disliked, *(i for i in history.background if i not in set(liked))]
        x = self.vectors[[*liked, *negatives]]
        y = np.r_[np.ones(len(liked)), np.zeros(len(negatives))]
        clf = LogisticRegression(C=self.c, class_weight="balanced", max_iter=1000)
        clf.fit(x, y)
        return _best_first(candidates, clf.decision_function(self.vectors[candidates]), limit)
