"""Offline evaluation: paperbot's ranker and the baselines under one protocol, with metrics.

`profiles.eval.protocol` builds the simulated users and replays their days; this module adapts paperbot's
`rank` to that protocol, runs every method on the same users and summarises the results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import numpy as np
from scipy import sparse

from profiles.eval.baselines import (
    ArxivSanityLite,
    LogisticVotes,
    NearestLiked,
    RandomOrder,
    ZoteroArxivDaily,
)
from profiles.eval.metrics import MethodResult, summarise
from profiles.eval.protocol import History, Method, UserCase, UserResult, simulate
from profiles.eval.references import AllLabels, PerfectOrder, WholeLibrary
from profiles.model import Interest, Profile, Vote, interests_from_papers
from profiles.rank import DEFAULT_MIN_SCORE, DEFAULT_PARAMS, Candidate, rank
from profiles.scoring import Params

__all__ = [
    "PaperbotMethod",
    "MethodRun",
    "paperbot_methods",
    "baseline_methods",
    "reference_methods",
    "day_time",
    "evaluate",
    "EPOCH",
    "Mapper",
]

# map(function, cases): the builtin, or one that spreads the cases over processes (bot.evaluation)
Mapper = Callable[[Callable[[Any], Any], Sequence[Any]], Iterable[Any]]

EPOCH = datetime(2024, 1, 1, 7, tzinfo=UTC)  # day 1 of the simulation; day d is EPOCH + d - 1 days


def day_time(day: int) -> datetime:
    """When the digest of simulated day `day` (1-based) goes out."""
    return EPOCH + timedelta(days=day - 1)


@dataclass(frozen=True)
class PaperbotMethod:
    """`profiles.rank.rank` on a profile rebuilt from the history, as the service would build it."""

    vectors: np.ndarray
    titles: Sequence[str]
    params: Params = DEFAULT_PARAMS
    min_score: float | None = DEFAULT_MIN_SCORE
    name: str = "paperbot"
    text_rows: frozenset[int] = frozenset()  # rows that are free-text interests, not papers (protocol text)

    def profile(self, history: History) -> Profile:
        papers = [i for i in history.seeds if i not in self.text_rows]
        texts = [i for i in history.seeds if i in self.text_rows]
        grouped = (
            interests_from_papers(self.vectors[papers], [self.titles[i] for i in papers]) if papers else ()
        )
        # A free-text interest is one interest of its own, as `paperbot subscribe --interest` makes it.
        written = tuple(
            Interest(id=len(grouped) + n, label=self.titles[i], vector=self.vectors[i])
            for n, i in enumerate(texts, start=1)
        )
        interests = (*grouped, *written)
        votes = tuple(
            Vote(
                listing_id=v.item,
                vector=self.vectors[v.item],
                value=v.value,
                at=day_time(v.day),
                title=self.titles[v.item],
            )
            for v in history.votes
        )
        return Profile(interests=interests, votes=votes)

    def order(self, history: History, candidates: np.ndarray, *, limit: int) -> np.ndarray:
        batch = [Candidate(int(i), self.vectors[i], self.titles[i]) for i in candidates]
        # The final ranking test orders every candidate: no threshold there, it is a ranking metric.
        min_score = self.min_score if limit < len(candidates) else None
        items = rank(
            self.profile(history),
            batch,
            now=day_time(history.day),
            limit=limit,
            min_score=min_score,
            background=self.vectors[list(history.background)],
            params=self.params,
        )
        return np.array([item.listing_id for item in items], dtype=np.int64)


def paperbot_methods(
    vectors: np.ndarray,
    titles: Sequence[str],
    *,
    params: Params = DEFAULT_PARAMS,
    text_rows: frozenset[int] = frozenset(),
) -> list[PaperbotMethod]:
    """paperbot's ranking compared like for like (always `shown` items, as the baselines), then as
    shipped, where the minimum score holds back weak matches."""
    shipped = f"paperbot, min score {DEFAULT_MIN_SCORE:g}"
    return [
        PaperbotMethod(vectors, titles, params=params, min_score=None, text_rows=text_rows),
        PaperbotMethod(vectors, titles, params=params, name=shipped, text_rows=text_rows),
    ]


def baseline_methods(vectors: np.ndarray, tfidf: sparse.csr_matrix, *, seed: int) -> list[Method]:
    return [
        RandomOrder(seed=seed),
        ArxivSanityLite(tfidf),
        ZoteroArxivDaily(vectors),
        NearestLiked(vectors),
        LogisticVotes(vectors),
    ]


def reference_methods(
    vectors: np.ndarray,
    tfidf: sparse.csr_matrix,
    rows: Sequence[int],
    cases: Sequence[UserCase],
    *,
    supervised: bool = True,
) -> list[Method]:
    """Bounds for the table (profiles.eval.references): they know each user's whole library. `rows`: the
    corpus papers that have vectors. `supervised` adds the classifier trained on every other paper,
    which fits one model per ranking on all of `rows` (too slow on the 16,980 titles)."""
    libraries = {case.user: case.library for case in cases}
    bounds: list[Method] = [PerfectOrder(libraries), WholeLibrary(vectors, libraries)]
    if supervised:
        bounds.append(AllLabels(vectors, tfidf, np.asarray(rows, dtype=np.int64), libraries))
    return bounds


@dataclass(frozen=True)
class MethodRun:
    summary: MethodResult
    users: tuple[UserResult, ...]  # per user, in the order of the cases


def evaluate(
    methods: Sequence[Method],
    cases: Sequence[UserCase],
    *,
    shown: int = 10,
    seed: int = 0,
    clock: Callable[[], float],
    progress: Callable[[str, int, int], None] | None = None,
    map_users: Mapper = map,
) -> list[MethodRun]:
    """Run every method on every user; `clock` (e.g. time.perf_counter) times each method.
    `map_users` maps a function over the cases, in order (e.g. over worker processes)."""
    runs = []
    for method in methods:
        start = clock()
        results = []
        for n, result in enumerate(map_users(partial(simulate, method, shown=shown), cases), start=1):
            results.append(result)
            if progress is not None:
                progress(method.name, n, len(cases))
        summary = summarise(method.name, results, shown=shown, seconds=clock() - start, seed=seed)
        runs.append(MethodRun(summary, tuple(results)))
    return runs
