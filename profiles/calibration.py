"""Where to put the minimum score: how often related and unrelated papers reach each threshold.

For every simulated user, the profile as it stands after the last day scores (a) the held-out
library papers, which are related but were never shown, and (b) random papers outside the library.
A good minimum score lets most of (a) through and little of (b); `DEFAULT_MIN_SCORE` is picked
from this table on the "tune" users.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from profiles.evaluate import PaperbotMethod, day_time
from profiles.protocol import UserCase, UserResult, final_history
from profiles.rank import Candidate, rank

__all__ = ["PassRate", "THRESHOLDS", "pass_rates"]

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
    rel, unrel = np.concatenate(related), np.concatenate(unrelated)
    return tuple(PassRate(t, float((rel >= t).mean()), float((unrel >= t).mean())) for t in thresholds)
