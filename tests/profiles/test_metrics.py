"""profiles.eval.metrics: the numbers in the evaluation table."""

from __future__ import annotations

import numpy as np
import pytest

from profiles.eval.metrics import ndcg_at_10, reciprocal_rank, summarise
from profiles.eval.protocol import UserResult


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
