"""profiles.eval.baselines behave as their source projects describe."""

from __future__ import annotations

import numpy as np

from profiles.eval.baselines import (
    ArxivSanityLite,
    LogisticVotes,
    NearestLiked,
    RandomOrder,
    ZoteroArxivDaily,
    liked_items,
    tfidf_features,
)
from profiles.eval.protocol import EvalVote, History
from tests.profiles.synth import World


def history(seeds: tuple[int, ...], votes: tuple[EvalVote, ...] = (), seen: tuple[int, ...] = ()) -> History:
    return History(user=1, day=3, seeds=seeds, votes=votes, seen=seen, background=tuple(range(40, 80)))


def test_liked_papers_are_the_seeds_then_the_up_votes() -> None:
    h = history((1, 2), (EvalVote(5, 1, 1), EvalVote(6, -1, 1), EvalVote(7, 1, 2)))
    assert liked_items(h) == [1, 2, 5, 7]


def test_zotero_weights_the_newest_liked_paper_most() -> None:
    world = World()
    vectors = np.stack([world.paper(t % 2, noise=0.1) for t in range(4)] + [world.paper(2)] * 76)
    # Seed 0 is on topic 0; the newest like (item 1) is on topic 1.
    h = history((0,), (EvalVote(1, 1, 2),))
    assert list(ZoteroArxivDaily(vectors).order(h, np.array([2, 3]), limit=2)) == [3, 2]


def test_nearest_liked_takes_the_closest_liked_paper() -> None:
    world = World()
    vectors = np.stack([world.paper(0), world.paper(1), world.paper(1, 0.05), world.paper(3)])
    assert list(NearestLiked(vectors).order(history((0, 1)), np.array([3, 2]), limit=1)) == [2]


def test_logistic_regression_learns_from_down_votes() -> None:
    world = World()
    vectors = np.stack(
        [world.paper(0)] * 2
        + [world.paper(1)] * 6
        + [world.paper(0), world.paper(1)]
        + [world.paper(t % 6) for t in range(70)]
    )
    h = history((0, 1), tuple(EvalVote(i, -1, 1) for i in range(2, 8)))
    assert list(LogisticVotes(vectors).order(h, np.array([9, 8]), limit=2)) == [8, 9]


def test_arxiv_sanity_ranks_papers_sharing_the_liked_vocabulary_first() -> None:
    # Ten topics of ten abstracts, each topic with its own words (arxiv-sanity keeps words found in
    # at least 5 and at most 10% of the papers).
    texts = [" ".join(f"t{t}word{w}" for w in range(d % 3, 8)) for t in range(10) for d in range(10)]
    h = History(user=1, day=2, seeds=(0, 1, 2), votes=(), seen=tuple(range(100)), background=())
    assert list(ArxivSanityLite(tfidf_features(texts)).order(h, np.array([15, 5]), limit=2)) == [5, 15]


def test_random_order_depends_on_user_and_day_only() -> None:
    candidates = np.arange(100, 130)
    a = RandomOrder(seed=1).order(history((0,)), candidates, limit=30)
    assert list(a) == list(RandomOrder(seed=1).order(history((0,)), candidates, limit=30))
    assert sorted(a) == list(candidates) and list(a) != list(candidates)
