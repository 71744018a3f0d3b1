"""How a method answers votes: do a 👍's neighbours rise, and do votes shrink the digest?

* Rank gain: take the user's first 👍 before the last day (day d) and the papers of day d + 1, which
  nobody has seen. The 10 of them closest to the liked paper are ranked among all of that day's
  papers twice: with every vote of days 1..d, and with the same votes but that 👍. The gain is the
  mean of (rank without it - rank with it): above 0, the neighbours rose.
* Digest length (the shipped method, with its minimum score): the digest of day 2 and of the last
  day, once from the seeds alone and once with every vote the method collected before that day.

Pure: the method's own run (`UserResult.votes`) says what it showed and what was voted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from profiles.eval.evaluate import Mapper
from profiles.eval.metrics import Metric, bootstrap
from profiles.eval.protocol import EvalVote, History, Method, UserCase, UserResult

__all__ = ["VoteResponse", "DigestLength", "rank_gain", "vote_response", "digest_length"]

NEIGHBOURS = 10


@dataclass(frozen=True)
class VoteResponse:
    name: str
    rank_gain: Metric  # mean rank gain of a 👍's nearest unseen neighbours (> 0: they rose)
    users: int  # users with a 👍 before the last day


@dataclass(frozen=True)
class DigestLength:
    name: str
    day: int
    before: float  # mean papers shown from the seeds alone
    after: float  # mean papers shown with the votes of the earlier days
    shrunk: int  # users whose digest got shorter though it had papers above the bar without votes
    users: int


def _history(case: UserCase, day: int, votes: Sequence[EvalVote]) -> History:
    seen = tuple(i for batch in case.batches[:day] for i in batch)
    return History(case.user, day, case.seeds, tuple(votes), seen, case.background)


def rank_gain(method: Method, case: UserCase, result: UserResult, vectors: np.ndarray) -> float | None:
    """Mean rank gain of the first 👍's nearest unseen neighbours; None without a 👍 before the last day."""
    liked = next((v for v in result.votes if v.value > 0 and v.day < len(case.batches)), None)
    if liked is None:
        return None
    day = liked.day + 1
    batch = np.asarray(case.batches[day - 1])
    near = batch[np.argsort(-(vectors[batch] @ vectors[liked.item]), kind="stable")[:NEIGHBOURS]]
    earlier = [v for v in result.votes if v.day < day]

    def ranks(votes: list[EvalVote]) -> np.ndarray:
        order = [int(i) for i in method.order(_history(case, day, votes), batch, limit=len(batch))]
        position = {item: n for n, item in enumerate(order, start=1)}
        return np.array([position.get(int(i), len(batch)) for i in near], dtype=float)

    return float((ranks([v for v in earlier if v != liked]) - ranks(earlier)).mean())


def _gain(method: Method, vectors: np.ndarray, run: tuple[UserCase, UserResult]) -> float | None:
    return rank_gain(method, run[0], run[1], vectors)


def vote_response(
    method: Method,
    cases: Sequence[UserCase],
    results: Sequence[UserResult],
    vectors: np.ndarray,
    *,
    seed: int,
    map_users: Mapper = map,
) -> VoteResponse:
    """`rank_gain` over users; `map_users` as in `profiles.eval.evaluate.evaluate`."""
    gains = list(map_users(partial(_gain, method, vectors), list(zip(cases, results, strict=True))))
    measured = np.array([g for g in gains if g is not None])
    return VoteResponse(method.name, bootstrap(measured, np.random.default_rng(seed)), len(measured))


def digest_length(
    method: Method, cases: Sequence[UserCase], results: Sequence[UserResult], *, day: int, shown: int
) -> DigestLength:
    """Digest lengths of `day` without and with the votes `method` collected before it."""
    before, after = [], []
    for case, result in zip(cases, results, strict=True):
        batch = np.asarray(case.batches[day - 1])
        votes = [v for v in result.votes if v.day < day]
        before.append(len(method.order(_history(case, day, []), batch, limit=shown)))
        after.append(len(method.order(_history(case, day, votes), batch, limit=shown)))
    shrunk = sum(b > a for b, a in zip(before, after, strict=True))
    return DigestLength(method.name, day, float(np.mean(before)), float(np.mean(after)), shrunk, len(cases))
