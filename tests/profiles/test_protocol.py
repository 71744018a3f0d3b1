"""profiles.eval.protocol: the simulated users and their days."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest

from profiles.eval.protocol import (
    MERGED,
    Settings,
    alone,
    candidate_users,
    interest_text,
    make_cases,
    make_multi_cases,
    simulate,
    unrelated_groups,
)
from profiles.eval.references import PerfectOrder
from profiles.model import unit

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


def test_the_whole_corpus_is_dealt_when_it_has_fewer_papers_than_the_days_ask() -> None:
    libs = libraries()
    settings = dataclasses.replace(SETTINGS, per_day=1000, whole_corpus=True)
    for case in make_cases(libs, N_ITEMS, users=5, settings=settings, seed=2):
        shown = [i for batch in case.batches for i in batch]
        others = N_ITEMS - len(case.library) - settings.negatives
        # Every outside paper but the negatives comes once (the remainder of an uneven split aside).
        assert len(shown) == len(set(shown))
        assert others - settings.days < len(set(shown) - case.library) <= others
        assert not set(case.negatives) & set(shown)


def test_unrelated_groups_share_no_paper_and_have_distant_centroids() -> None:
    libs = libraries()
    rng = np.random.default_rng(4)
    centroids = dict(enumerate(unit(rng.normal(size=(len(libs), 8)))))
    users = candidate_users(libs, settings=SETTINGS, split="test", seed=0, limit=100)
    test_users = {c.user for c in make_cases(libs, N_ITEMS, users=100, settings=SETTINGS, seed=0)}
    assert set(users) == test_users
    assert candidate_users(libs, settings=SETTINGS, split="test", seed=0, limit=5) == users[:5]
    groups = unrelated_groups(libs, centroids, users, groups=6, size=2, max_cosine=0.2)
    assert groups and len({u for g in groups for u in g}) == 2 * len(groups)  # nobody twice
    for a, b in groups:
        assert not set(libs[a]) & set(libs[b]) and centroids[a] @ centroids[b] < 0.2
    triples = unrelated_groups(libs, centroids, users, groups=2, size=3, max_cosine=0.5)
    assert triples and all(len(g) == 3 for g in triples)


def test_a_merged_subscriber_has_seeds_and_held_out_papers_from_each_library_and_one_set_of_days() -> None:
    libs = [list(range(0, 20)), list(range(20, 32))]
    (case,) = make_multi_cases(libs, [(0, 1)], N_ITEMS, settings=SETTINGS, seed=0)
    assert case.user >= MERGED and case.parts == (frozenset(libs[0]), frozenset(libs[1]))
    for part in case.parts:
        assert len(part & set(case.seeds)) == SETTINGS.seed_papers and len(part & set(case.heldout)) >= 2
    dealt = {i for b in case.batches for i in b} & case.library
    assert dealt == case.library - set(case.seeds) - set(case.heldout)
    solo = alone(case, 1, user=1)
    assert solo.library == case.parts[1] and set(solo.seeds) <= case.parts[1]
    assert set(solo.heldout) == set(case.heldout) & case.parts[1] and solo.batches == case.batches


def test_the_written_interest_comes_from_the_library_but_never_from_held_out_papers() -> None:
    libs = [list(range(0, 20))]
    (case,) = make_cases(
        libs, N_ITEMS, users=1, settings=dataclasses.replace(SETTINGS, min_library=1), seed=0
    )
    tags: list[tuple[str, ...]] = [("common",)] * N_ITEMS
    for row in case.library:
        tags[row] = ("common", "protein_folding", "docking-sites")
    for row in case.heldout:
        tags[row] = ("secret",)
    frequency = Counter(t for row in tags for t in set(row))
    text = interest_text(case, tags, frequency, top=3)
    assert text.split(", ")[:2] == ["docking sites", "protein folding"]  # typical first, words apart
    assert "secret" not in text
