"""profiles.eval.votes: the rank gain of a 👍's neighbours and the digest length before and after votes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest

from profiles.eval.baselines import NearestLiked, RandomOrder
from profiles.eval.protocol import History, UserCase, simulate
from profiles.eval.votes import digest_length, rank_gain, vote_response
from tests.profiles.synth import World


def world_case() -> tuple[np.ndarray, UserCase]:
    """Seeds on topic 0; day 1 brings one library paper on topic 2 (it is shown and liked), day 2
    ten more topic-2 papers among twenty random ones."""
    world = World(seed=3)
    vectors = np.stack(
        [world.paper(0) for _ in range(3)]  # 0-2 seeds
        + [world.paper(2)]  # 3: the library paper of day 1
        + [world.random_candidate().vector for _ in range(4)]  # 4-7: day 1's others
        + [world.paper(2) for _ in range(10)]  # 8-17: its neighbours on day 2
        + [world.random_candidate().vector for _ in range(40)]  # 18-37 day 2, 38-57 background
    )
    case = UserCase(
        user=7,
        library=frozenset({0, 1, 2, 3}),
        seeds=(0, 1, 2),
        batches=((3, 4, 5, 6, 7), tuple(range(8, 38))),
        heldout=(),
        negatives=(),
        background=tuple(range(38, 58)),
    )
    return vectors, case


def test_the_neighbours_of_a_liked_paper_rise_for_a_method_that_learns_from_it() -> None:
    vectors, case = world_case()
    method = NearestLiked(vectors)
    result = simulate(method, case, shown=10)
    assert result.votes[0].day == 1 and any(v.item == 3 and v.value > 0 for v in result.votes)
    gain = rank_gain(method, case, result, vectors)
    assert gain is not None and gain > 5
    response = vote_response(method, [case], [result], vectors, seed=0)
    assert response.users == 1 and response.rank_gain.mean == pytest.approx(gain)


def test_an_order_that_ignores_votes_gains_nothing_and_a_user_without_a_like_is_not_counted() -> None:
    vectors, case = world_case()
    method = RandomOrder(seed=1)
    result = simulate(method, case, shown=10)
    assert rank_gain(method, case, result, vectors) == 0.0
    no_like = simulate(method, dataclasses.replace(case, library=frozenset({0, 1, 2})), shown=10)
    assert rank_gain(method, case, no_like, vectors) is None


@dataclass(frozen=True)
class ShyAfterVotes:
    """Shows everything until it has votes, then one paper: what a shrinking digest looks like."""

    name: str = "shy"

    def order(self, history: History, candidates: np.ndarray, *, limit: int) -> np.ndarray:
        return np.asarray(candidates)[: 1 if history.votes else limit]


def test_digest_length_counts_the_digests_votes_made_shorter() -> None:
    vectors, case = world_case()
    method = ShyAfterVotes()
    result = simulate(method, case, shown=10)
    length = digest_length(method, [case, case], [result, result], day=2, shown=10)
    assert (length.before, length.after, length.shrunk, length.users) == (10.0, 1.0, 2, 2)
