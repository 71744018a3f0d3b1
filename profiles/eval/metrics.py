"""Metrics of one method over the simulated users, each with a bootstrap interval over users."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from profiles.eval.protocol import UserCase, UserResult

__all__ = [
    "Metric",
    "MethodResult",
    "MultiResult",
    "bootstrap",
    "ndcg_at_10",
    "reciprocal_rank",
    "summarise",
    "summarise_multi",
]


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


def bootstrap(per_user: np.ndarray, rng: np.random.Generator) -> Metric:
    """The mean over users and the half-width of its 95% bootstrap interval (1,000 resamples)."""
    if not len(per_user):
        return Metric(float("nan"), float("nan"))
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
        precision_day1=bootstrap(hits[:, 0], rng),
        precision_all=bootstrap(hits.mean(axis=1), rng),
        precision_warm=bootstrap(hits[:, warm_from:].mean(axis=1), rng),
        ndcg10=bootstrap(np.array([ndcg_at_10(r).mean() for r in ranks]), rng),
        mrr=bootstrap(np.array([reciprocal_rank(r).mean() for r in ranks]), rng),
        precision_shown=bootstrap(np.array([sum(r.hits) / max(sum(r.shown), 1) for r in results]), rng),
        shown_per_day=float(np.mean([r.shown for r in results])),
        seconds=seconds,
    )


@dataclass(frozen=True)
class MultiResult:
    """Protocol multi: how evenly one subscriber made of several users' libraries is served."""

    name: str
    recall_weakest: Metric  # the least served library's dealt papers shown over all days
    recall_strongest: Metric
    balance: Metric  # min / max recall per subscriber, over subscribers where some library got a hit
    starved: int  # libraries with no hit in all days although that user alone got at least 2
    starvable: int  # libraries whose user alone got at least 2 hits


def _recalls(case: UserCase, result: UserResult) -> list[float]:
    dealt = {i for batch in case.batches for i in batch}
    shown = {v.item for v in result.votes}
    return [len(shown & part & dealt) / max(len(part & dealt), 1) for part in case.parts]


def summarise_multi(
    name: str,
    cases: Sequence[UserCase],
    merged: Sequence[UserResult],
    alone: Sequence[Sequence[UserResult]],
    *,
    seed: int,
) -> MultiResult:
    """`alone[n][k]`: the same method's run of case n's user k on their own, over the same days."""
    recalls = np.array([_recalls(c, r) for c, r in zip(cases, merged, strict=True)])
    served = recalls.max(axis=1) > 0
    balance = recalls[served].min(axis=1) / recalls[served].max(axis=1)
    own = np.array([[sum(r.hits) for r in users] for users in alone])
    starvable = own >= 2
    rng = np.random.default_rng(seed)
    return MultiResult(
        name=name,
        recall_weakest=bootstrap(recalls.min(axis=1), rng),
        recall_strongest=bootstrap(recalls.max(axis=1), rng),
        balance=bootstrap(balance, rng),
        starved=int((starvable & (recalls == 0)).sum()),
        starvable=int(starvable.sum()),
    )
