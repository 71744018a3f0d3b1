"""Where to put the minimum score: how often related and unrelated papers reach each threshold.

Two views, both scored by `profiles.rank.rank` itself:

* pairs of real papers: a profile made of one paper scores a paper it cites or is cited by
  (related) and random papers (unrelated);
* simulated subscribers: the profile as it stands after the last day scores the held-out library
  papers (related, never shown) and random papers outside the library (unrelated).

A good minimum score lets most related papers through and few unrelated ones; docs/evaluation.md
explains the choice of `DEFAULT_MIN_SCORE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from profiles.evaluate import EPOCH, PaperbotMethod, day_time
from profiles.model import Profile, interest_from_seeds
from profiles.protocol import UserCase, UserResult, final_history
from profiles.rank import Candidate, rank

__all__ = ["PassRate", "THRESHOLDS", "pass_rates", "pair_pass_rates"]

THRESHOLDS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)


@dataclass(frozen=True)
class PassRate:
    threshold: float
    related: float  # share of held-out library papers scoring at least `threshold`
    unrelated: float  # share of random non-library papers doing so


def _scores(method: PaperbotMethod, case: UserCase, result: UserResult, items: np.ndarray) -> np.ndarray:
    history = final_history(case, result.votes, items)
    batch = [Candidate(int(i), method.vectors[i], method.titles[i]) for i in items]
    ranked = rank(
        method.profile(history),
        batch,
        now=day_time(history.day),
        limit=len(batch),
        min_score=None,
        background=method.vectors[list(case.background)],
        params=method.params,
    )
    by_id = {item.listing_id: item.score for item in ranked}
    return np.array([by_id[int(i)] for i in items])


def pass_rates(
    method: PaperbotMethod,
    cases: Sequence[UserCase],
    results: Sequence[UserResult],
    thresholds: Sequence[float] = THRESHOLDS,
) -> tuple[PassRate, ...]:
    """Pass rates pooled over users; `results` are `method`'s own runs on `cases`."""
    related, unrelated = [], []
    for case, result in zip(cases, results, strict=True):
        items = np.asarray((*case.heldout, *case.negatives))
        scores = _scores(method, case, result, items)
        related.append(scores[: len(case.heldout)])
        unrelated.append(scores[len(case.heldout) :])
    return _rates(np.concatenate(related), np.concatenate(unrelated), thresholds)


def _rates(related: np.ndarray, unrelated: np.ndarray, thresholds: Sequence[float]) -> tuple[PassRate, ...]:
    return tuple(
        PassRate(t, float((related >= t).mean()), float((unrelated >= t).mean())) for t in thresholds
    )


def pair_pass_rates(
    vectors: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    *,
    unrelated: int = 20,
    background: int = 200,
    seed: int = 0,
    thresholds: Sequence[float] = THRESHOLDS,
) -> tuple[PassRate, ...]:
    """Pass rates of related pairs (a, b) against random pairs (a, r), a being a one-paper profile."""
    rng = np.random.default_rng(seed)
    related: list[float] = []
    random_scores: list[float] = []
    for a, b in pairs:
        others = rng.choice(
            np.setdiff1d(np.arange(len(vectors)), [a, b]), size=unrelated + background, replace=False
        )
        items = [b, *others[:unrelated]]
        profile = Profile(interests=(interest_from_seeds(1, "seed", vectors[a : a + 1]),))
        batch = [Candidate(int(i), vectors[i], "") for i in items]
        ranked = rank(
            profile,
            batch,
            now=EPOCH,
            limit=len(batch),
            min_score=None,
            background=vectors[others[unrelated:]],
        )
        by_id = {item.listing_id: item.score for item in ranked}
        related.append(by_id[b])
        random_scores.extend(by_id[int(i)] for i in items[1:])
    return _rates(np.asarray(related), np.asarray(random_scores), thresholds)
