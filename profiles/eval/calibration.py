"""Where to put the minimum score: how often related and unrelated papers reach each threshold.

Two views, both scored by `profiles.rank.rank` itself:

* pairs of real papers: a profile made of one paper scores a paper it cites or is cited by
  (related) and random papers (unrelated);
* simulated subscribers: the profile as it stands after the last day scores the held-out library
  papers (related, never shown) and random papers outside the library (unrelated).

A good minimum score lets most related papers through and few unrelated ones; docs/evaluation.md
explains the choice of `DEFAULT_MIN_SCORE`. Each rate is also given with the absolute similarity
floor (`DEFAULT_MIN_SIMILARITY`, chosen by `calibrate_floor`) applied on top, as `rank` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from profiles.anchors import positive_anchors
from profiles.eval.evaluate import EPOCH, PaperbotMethod, day_time
from profiles.eval.protocol import UserCase, UserResult, final_history
from profiles.model import Profile, interest_from_seeds
from profiles.rank import DEFAULT_MIN_SIMILARITY, Candidate, rank

__all__ = ["FloorCalibration", "PassRate", "THRESHOLDS", "calibrate_floor", "pass_rates", "pair_pass_rates"]

THRESHOLDS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)


@dataclass(frozen=True)
class PassRate:
    threshold: float
    related: float  # share of held-out library papers scoring at least `threshold`
    unrelated: float  # share of random non-library papers doing so
    related_floored: float  # share of related papers reaching `threshold` and the similarity floor
    unrelated_floored: float  # share of random papers doing so


@dataclass(frozen=True)
class FloorCalibration:
    floor: float
    related_kept: float  # share of related pairs whose cosine is at least `floor`
    random_blocked: float  # share of random pairs whose cosine is below it
    pairs: int  # related pairs measured


def calibrate_floor(
    vectors: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    *,
    keep: float = 0.95,
    random_pairs: int = 100_000,
    seed: int = 0,
) -> FloorCalibration:
    """The highest similarity floor, to 0.01, that keeps `keep` of the related pairs (a, b): the
    raw cosine between a paper and one it cites or is cited by. Random pairs show what it blocks."""
    distinct = np.array(sorted({(a, b) for a, b in pairs if a != b}), dtype=np.int64).reshape(-1, 2)
    related = np.einsum("ij,ij->i", vectors[distinct[:, 0]], vectors[distinct[:, 1]])
    floor = round(float(np.floor(np.quantile(related, 1.0 - keep) * 100.0)) / 100.0, 2)
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(vectors), size=(2, random_pairs))
    a, b = a[a != b], b[a != b]
    unrelated = np.einsum("ij,ij->i", vectors[a], vectors[b])
    return FloorCalibration(
        floor, float((related >= floor).mean()), float((unrelated < floor).mean()), len(related)
    )


def _scores(
    method: PaperbotMethod, case: UserCase, result: UserResult, items: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """rank's score of each item for the final profile, and its cosine to the closest positive anchor."""
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
    nearest = (method.vectors[items] @ positive_anchors(method.profile(history)).vectors.T).max(axis=1)
    # A paper that duplicates another candidate (the titles corpus has papers saved twice) is not ranked.
    return np.array([by_id.get(int(i), -np.inf) for i in items]), nearest


def pass_rates(
    method: PaperbotMethod,
    cases: Sequence[UserCase],
    results: Sequence[UserResult],
    thresholds: Sequence[float] = THRESHOLDS,
    floor: float = DEFAULT_MIN_SIMILARITY,
) -> tuple[PassRate, ...]:
    """Pass rates pooled over users; `results` are `method`'s own runs on `cases`."""
    related, unrelated, related_cos, unrelated_cos = [], [], [], []
    for case, result in zip(cases, results, strict=True):
        items = np.asarray((*case.heldout, *case.negatives))
        scores, nearest = _scores(method, case, result, items)
        n = len(case.heldout)
        related.append(scores[:n])
        unrelated.append(scores[n:])
        related_cos.append(nearest[:n])
        unrelated_cos.append(nearest[n:])
    return _rates(
        (np.concatenate(related), np.concatenate(related_cos)),
        (np.concatenate(unrelated), np.concatenate(unrelated_cos)),
        thresholds,
        floor,
    )


Scored = tuple[np.ndarray, np.ndarray]  # scores, cosine to the closest positive anchor


def _rates(
    related: Scored, unrelated: Scored, thresholds: Sequence[float], floor: float
) -> tuple[PassRate, ...]:
    def share(scored: Scored, t: float, floor: float) -> float:
        score, cosine = scored
        return float(((score >= t) & (cosine >= floor)).mean())

    return tuple(
        PassRate(
            t,
            share(related, t, -np.inf),
            share(unrelated, t, -np.inf),
            share(related, t, floor),
            share(unrelated, t, floor),
        )
        for t in thresholds
    )


def pair_pass_rates(
    vectors: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    *,
    unrelated: int = 20,
    background: int = 200,
    seed: int = 0,
    thresholds: Sequence[float] = THRESHOLDS,
    floor: float = DEFAULT_MIN_SIMILARITY,
) -> tuple[PassRate, ...]:
    """Pass rates of related pairs (a, b) against random pairs (a, r), a being a one-paper profile."""
    rng = np.random.default_rng(seed)
    related: list[float] = []
    random_scores: list[float] = []
    related_cos: list[float] = []
    random_cos: list[float] = []
    for a, b in pairs:
        if a == b:  # a paper listed as citing itself
            continue
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
        cosines = vectors[items] @ vectors[a]
        related_cos.append(float(cosines[0]))
        random_cos.extend(cosines[1:].tolist())
    return _rates(
        (np.asarray(related), np.asarray(related_cos)),
        (np.asarray(random_scores), np.asarray(random_cos)),
        thresholds,
        floor,
    )
