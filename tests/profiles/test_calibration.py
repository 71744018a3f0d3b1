"""profiles.eval.calibration: related papers pass the minimum score far more often than random ones."""

from __future__ import annotations

import numpy as np
import pytest

from profiles.eval.calibration import calibrate_floor, pair_pass_rates, pass_rates
from profiles.eval.evaluate import PaperbotMethod
from profiles.eval.protocol import UserCase, simulate
from profiles.model import unit
from profiles.rank import DEFAULT_MIN_SCORE
from tests.profiles.synth import DIM, World


def test_cited_pairs_pass_and_random_pairs_mostly_do_not() -> None:
    world = World(topics=8)
    rng = np.random.default_rng(0)
    related = np.stack([world.paper(t % 8) for t in range(40)])
    unrelated = unit(rng.normal(size=(300, DIM)))
    vectors = np.vstack([related, unrelated])
    pairs = [(i, j) for i in range(40) for j in range(i + 8, 40, 8)][:30]  # same topic
    rates = pair_pass_rates(
        vectors, pairs, unrelated=10, background=100, thresholds=(0.0, DEFAULT_MIN_SCORE, 9.0)
    )
    assert [r.threshold for r in rates] == [0.0, DEFAULT_MIN_SCORE, 9.0]
    at_default = rates[1]
    assert at_default.related > 0.5 and at_default.unrelated < 0.05
    assert rates[0].unrelated > at_default.unrelated > rates[2].unrelated
    for rate in rates:  # the similarity floor only ever holds papers back
        assert rate.related_floored <= rate.related and rate.unrelated_floored <= rate.unrelated


def test_the_floor_keeps_the_asked_share_of_related_pairs() -> None:
    world = World(topics=8)
    rng = np.random.default_rng(0)
    vectors = np.vstack(
        [np.stack([world.paper(t % 8, noise=0.4) for t in range(80)]), unit(rng.normal(size=(300, DIM)))]
    )
    pairs = [(i, j) for i in range(80) for j in range(i + 8, 80, 8)]
    cosines = np.array([vectors[a] @ vectors[b] for a, b in pairs])
    calibration = calibrate_floor(vectors, [*pairs, (3, 3)], keep=0.9)
    assert calibration.pairs == len(pairs)  # a paper "citing" itself does not count
    assert calibration.floor == round(calibration.floor, 2)
    assert calibration.related_kept == np.mean(cosines >= calibration.floor) >= 0.9
    assert np.mean(cosines >= calibration.floor + 0.01) < 0.9  # the highest such floor
    assert calibration.random_blocked > 0.5


def test_a_negative_that_duplicates_a_held_out_paper_is_counted_as_not_passing() -> None:
    world = World(seed=5)
    papers = [world.paper(0) for _ in range(6)] + [world.paper(1) for _ in range(40)]
    # Row 46 is the same paper as held-out row 5, saved twice (the titles corpus has such papers);
    # row 47 is another paper on the same topic.
    vectors = np.stack([*papers, papers[5], world.paper(0)])
    titles = [f"paper {i}" for i in range(len(vectors))]
    method = PaperbotMethod(vectors, titles, min_score=None)

    def unrelated_passing(twin: int) -> float:
        case = UserCase(
            user=1,
            library=frozenset(range(6)),
            seeds=(0, 1, 2),
            batches=((3, *range(10, 20)),),
            heldout=(4, 5),
            negatives=(twin, *range(20, 30)),
            background=tuple(range(30, 46)),
        )
        (rate,) = pass_rates(method, [case], [simulate(method, case, shown=5)], thresholds=(1.0,))
        assert rate.related == 1.0
        return rate.unrelated

    # rank drops the duplicate, and the calibration counts it as held back instead of failing.
    assert unrelated_passing(46) == pytest.approx(unrelated_passing(47) - 1 / 11)
