"""profiles.eval.metrics: the numbers in the evaluation table."""

from __future__ import annotations

import numpy as np
import pytest

from profiles.eval.metrics import ndcg_at_10, reciprocal_rank, summarise, summarise_multi
from profiles.eval.protocol import EvalVote, UserCase, UserResult


def test_ndcg_and_reciprocal_rank_of_a_single_relevant_item() -> None:
    ranks = np.array([1.0, 3.0, 10.0, 11.0])
    assert ndcg_at_10(ranks) == pytest.approx([1.0, 0.5, 1 / np.log2(11), 0.0])
    assert reciprocal_rank(ranks) == pytest.approx([1.0, 1 / 3, 0.1, 1 / 11])


def test_summary_averages_users_and_splits_cold_and_warm_days() -> None:
    users = [
        UserResult(hits=(1, 0, 2, 2), shown=(10, 10, 10, 10), ranks=(1,), votes=()),
        UserResult(hits=(3, 1, 0, 0), shown=(10, 5, 5, 0), ranks=(2, 4), votes=()),
    ]
    result = summarise("m", users, shown=10, seconds=1.5, seed=0)
    assert result.precision_day1.mean == pytest.approx(0.2)
    assert result.precision_all.mean == pytest.approx((0.125 + 0.1) / 2)
    assert result.precision_warm.mean == pytest.approx((0.2 + 0.0) / 2)  # days 3 and 4
    assert result.mrr.mean == pytest.approx((1.0 + (0.5 + 0.25) / 2) / 2)
    assert result.precision_shown.mean == pytest.approx((5 / 40 + 4 / 20) / 2)
    assert result.shown_per_day == pytest.approx(60 / 8)
    assert result.precision_day1.ci95 > 0


def _shown(items: list[int], library: frozenset[int]) -> UserResult:
    votes = tuple(EvalVote(i, 1 if i in library else -1, day=1) for i in items)
    return UserResult(hits=(sum(i in library for i in items),), shown=(len(items),), ranks=(1,), votes=votes)


def test_a_merged_subscriber_is_balanced_on_equal_shares_and_starved_when_a_library_gets_none() -> None:
    a, b = frozenset(range(0, 10)), frozenset(range(10, 20))
    case = UserCase(
        user=1,
        library=a | b,
        seeds=(),
        batches=(tuple(range(0, 4)) + tuple(range(10, 14)) + tuple(range(100, 110)),),
        heldout=(),
        negatives=(),
        background=(),
        parts=(a, b),
    )
    even = _shown([0, 1, 10, 11, 100], a | b)  # half of each library's 4 dealt papers
    lopsided = _shown([0, 1, 2, 100, 101], a | b)  # none of b's
    alone_ok = [_shown([0, 1], a), _shown([10, 11], b)]  # each user alone gets 2 hits
    result = summarise_multi("m", [case, case], [even, lopsided], [alone_ok, alone_ok], seed=0)
    assert result.recall_weakest.mean == pytest.approx((0.5 + 0.0) / 2)
    assert result.recall_strongest.mean == pytest.approx((0.5 + 0.75) / 2)
    assert result.balance.mean == pytest.approx((1.0 + 0.0) / 2)
    assert (result.starved, result.starvable) == (1, 4)
    # A library its user alone could not be served from is not counted as starved.
    weak_alone = [_shown([0, 1], a), _shown([10, 100], b)]
    assert summarise_multi("m", [case], [lopsided], [weak_alone], seed=0).starved == 0
