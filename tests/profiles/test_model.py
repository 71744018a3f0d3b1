"""profiles.model: unit vectors, interests from seed papers."""

from __future__ import annotations

import numpy as np

from profiles.model import Profile, interest_from_seeds, interests_from_papers, unit
from tests.profiles.synth import NOW, World


def test_unit_keeps_zero_rows_and_returns_float32() -> None:
    out = unit(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert out.dtype == np.float32
    assert np.allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_an_interest_from_seeds_points_at_their_mean() -> None:
    seeds = np.array([[1.0, 0.0], [0.0, 1.0]])
    interest = interest_from_seeds(4, "two", seeds)
    assert np.allclose(interest.vector, [2**-0.5, 2**-0.5])
    assert interest.seed_vectors is not None and interest.seed_vectors.shape == (2, 2)


def test_papers_on_two_topics_become_two_interests_named_by_their_most_central_paper() -> None:
    world = World()
    vectors = np.stack([world.paper(0, 0.2), world.paper(1, 0.2), world.topics[0], world.paper(0, 0.2)])
    titles = ["a", "b", "central a", "another a"]
    interests = interests_from_papers(vectors, titles, first_id=7)
    assert [i.id for i in interests] == [7, 8]
    assert [i.label for i in interests] == ["central a", "b"]
    assert [len(i.seed_vectors) for i in interests if i.seed_vectors is not None] == [3, 1]


def test_a_profile_needs_an_interest_or_a_like_to_match_against() -> None:
    world = World()
    down = world.vote(world.candidate(0), -1)
    assert Profile(interests=()).is_empty
    assert not Profile(interests=(), votes=(down,)).has_positives
    assert Profile(interests=(), votes=(down, world.vote(world.candidate(0), +1))).has_positives
    assert down.at < NOW
