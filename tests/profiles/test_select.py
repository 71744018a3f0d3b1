"""profiles.select: slot promises, MMR diversity and duplicates, on hand-made vectors."""

from __future__ import annotations

import numpy as np

from profiles.select import guaranteed_slots, select


def axis(i: int, dim: int = 8) -> np.ndarray:
    v = np.zeros(dim, dtype=np.float32)
    v[i] = 1.0
    return v


def test_one_interest_needs_no_promise() -> None:
    assert guaranteed_slots([1, 1, None], np.array([3.0, 2.0, 1.0]), 10) == {}


def test_half_the_digest_is_shared_between_claimants() -> None:
    claims = [1] * 8 + [2] * 3 + [None]
    assert guaranteed_slots(claims, np.arange(12.0), 10) == {1: 2, 2: 2}
    assert guaranteed_slots([1, 2, 2], np.array([1.0, 2.0, 3.0]), 10) == {1: 1, 2: 2}  # only what exists


def test_with_more_interests_than_slots_the_best_claims_win() -> None:
    claims = [1, 2, 3, 4]
    assert guaranteed_slots(claims, np.array([0.5, 3.0, 2.0, 1.0]), 3) == {2: 1, 3: 1, 4: 1}


def test_without_claims_or_diversity_it_is_a_sort() -> None:
    scores = np.array([1.0, 3.0, 2.0])
    vectors = np.stack([axis(0), axis(1), axis(2)])
    assert select(scores, vectors, [None] * 3, limit=2, diversity=0.0) == [1, 2]


def test_promised_slots_are_kept_for_the_quiet_interest() -> None:
    scores = np.array([9.0, 8.0, 7.0, 6.0, 1.0])
    vectors = np.stack([axis(i) for i in range(5)])
    assert select(scores, vectors, [1, 1, 1, 1, 2], limit=3, diversity=0.0) == [0, 1, 4]


def test_near_duplicates_give_way_and_exact_ones_are_dropped() -> None:
    a, b = axis(0), axis(1)
    close = (a + 0.6 * b) / np.linalg.norm(a + 0.6 * b)  # cosine 0.86 to a
    vectors = np.stack([a, a, close, b])
    picked = select(np.array([5.0, 5.0, 4.8, 4.5]), vectors, [None] * 4, limit=4, diversity=1.0)
    assert picked == [0, 3, 2]  # the copy of item 0 never shows; the near copy drops below item 3
