"""profiles.eval.protocol: the simulated users and their days."""

from __future__ import annotations

import numpy as np
import pytest

from profiles.eval.protocol import Settings, make_cases, simulate
from profiles.eval.references import PerfectOrder

N_ITEMS = 400
SETTINGS = Settings(seed_papers=3, days=4, per_day=20, negatives=15, background=30, min_library=8)


def libraries() -> list[list[int]]:
    rng = np.random.default_rng(1)
    return [
        sorted(rng.choice(N_ITEMS, size=int(rng.integers(4, 30)), replace=False).tolist()) for _ in range(60)
    ]


def test_tune_and_test_users_never_overlap() -> None:
    libs = libraries()
    tune = {c.user for c in make_cases(libs, N_ITEMS, users=100, settings=SETTINGS, seed=0, split="tune")}
    test = {c.user for c in make_cases(libs, N_ITEMS, users=100, settings=SETTINGS, seed=5, split="test")}
    assert tune and test and not tune & test
    assert all(len(libs[u]) >= SETTINGS.min_library for u in tune | test)


def test_each_day_mixes_the_users_papers_with_new_outside_papers() -> None:
    libs = libraries()
    for case in make_cases(libs, N_ITEMS, users=10, settings=SETTINGS, seed=3):
        shown = [i for batch in case.batches for i in batch]
        assert len(shown) == len(set(shown))  # nothing comes twice
        assert all(sum(i not in case.library for i in b) == SETTINGS.per_day for b in case.batches)
        theirs = [sum(i in case.library for i in b) for b in case.batches]
        assert max(theirs) - min(theirs) <= 1  # spread evenly
        dealt = case.library - set(case.seeds) - set(case.heldout)
        assert sum(theirs) == len(dealt)
        never_shown = set(case.seeds) | set(case.heldout) | set(case.negatives)
        assert not never_shown & set(shown)
        assert len(case.heldout) >= 2 and not set(case.negatives) & case.library


def test_cases_are_reproducible_for_a_seed() -> None:
    libs = libraries()
    first = make_cases(libs, N_ITEMS, users=5, settings=SETTINGS, seed=9)
    assert first == make_cases(libs, N_ITEMS, users=5, settings=SETTINGS, seed=9)
    assert first != make_cases(libs, N_ITEMS, users=5, settings=SETTINGS, seed=10)


def test_bad_split_or_too_small_corpus_is_refused() -> None:
    with pytest.raises(ValueError, match="split must be"):
        make_cases(libraries(), N_ITEMS, users=5, settings=SETTINGS, seed=0, split="train")
    with pytest.raises(ValueError, match="corpus too small"):
        make_cases(libraries(), 60, users=5, settings=SETTINGS, seed=0)


def test_a_perfect_ranker_hits_every_library_paper_and_ranks_held_out_papers_first() -> None:
    libs = libraries()
    cases = make_cases(libs, N_ITEMS, users=5, settings=SETTINGS, seed=0)
    perfect = PerfectOrder({c.user: c.library for c in cases})
    for case in cases:
        result = simulate(perfect, case, shown=10)
        assert result.hits == tuple(min(10, sum(i in case.library for i in b)) for b in case.batches)
        assert set(result.ranks) == {1}
        assert sum(v.value > 0 for v in result.votes) == sum(result.hits)
        assert len(result.votes) == sum(result.shown)
