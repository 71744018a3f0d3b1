"""Metrics of one method over the simulated users, each with a bootstrap interval over users."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from profiles.eval.protocol import UserResult

__all__ = ["Metric", "MethodResult", "ndcg_at_10", "reciprocal_rank", "summarise"]


@dataclass(frozen=True)
class Metric:
    mean: float
    ci95: float  # half-width of a 95% bootstrap interval (users resampled)


@dataclass(frozen=True)
class MethodResult:
    name: str
    precision_day1: Metric  # cold start: seeds only
    precision_all: Metric
    precision_warm: Metric  # days in the second half
    ndcg10: Metric  # held-out papers, each among the same random papers, final profile
    mrr: Metric
    precision_shown: Metric  # library papers among the papers actually shown, all days
    shown_per_day: float  # fewer than `shown` when the minimum score holds items back
    seconds: float


def ndcg_at_10(ranks: np.ndarray) -> np.ndarray:
    """nDCG@10 with one relevant item at 1-based position `rank` (the ideal DCG is 1)."""
    return np.where(ranks <= 10, 1.0 / np.log2(ranks + 1.0), 0.0)


def reciprocal_rank(ranks: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / ranks
    return out


def _metric(per_user: np.ndarray, rng: np.random.Generator) -> Metric:
    boot = rng.choice(per_user, size=(1000, len(per_user)), replace=True).mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return Metric(float(per_user.mean()), float((high - low) / 2))


def summarise(
    name: str, results: Sequence[UserResult], *, shown: int, seconds: float, seed: int
) -> MethodResult:
    """Per-user means first, then the mean over users (every user counts the same)."""
    hits = np.array([r.hits for r in results], dtype=float) / shown
    warm_from = hits.shape[1] // 2
    ranks = [np.asarray(r.ranks, dtype=float) for r in results]
    rng = np.random.default_rng(seed)
    return MethodResult(
        name=name,
        precision_day1=_metric(hits[:, 0], rng),
        precision_all=_metric(hits.mean(axis=1), rng),
        precision_warm=_metric(hits[:, warm_from:].mean(axis=1), rng),
        ndcg10=_metric(np.array([ndcg_at_10(r).mean() for r in ranks]), rng),
        mrr=_metric(np.array([reciprocal_rank(r).mean() for r in ranks]), rng),
        precision_shown=_metric(np.array([sum(r.hits) / max(sum(r.shown), 1) for r in results]), rng),
        shown_per_day=float(np.mean([r.shown for r in results])),
        seconds=seconds,
    )
