"""bot.evaluation end to end on real CiteULike papers with the real model, kept small."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from bot.evaluation import (
    EvalReport,
    cached_vectors,
    format_calibration,
    format_table,
    load_citeulike,
    run_eval,
)
from bot.vectors.embed import Encoder

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "citeulike-a"
SMALL: dict[str, Any] = {
    "users": 3,
    "seed_papers": 5,
    "days": 3,
    "per_day": 10,
    "negatives": 15,
    "background": 30,
}


@pytest.fixture(scope="module")
def dataset() -> Path:
    if not DATASET.is_dir():
        pytest.fail(f"CiteULike-a not found at {DATASET}: tests expect ../shared beside the checkout")
    return DATASET


def test_the_dataset_loads_as_its_readme_describes(dataset: Path) -> None:
    data = load_citeulike(dataset)
    assert len(data.texts) == len(data.titles) == len(data.item_ids) == 1929
    assert len(data.libraries) == 5551
    assert sum(len(lib) for lib in data.libraries) == 24549  # user-item pairs on papers with abstracts
    assert sum(len(lib) >= 15 for lib in data.libraries) == 303
    assert len(data.citations) % 2 == 0 and all((b, a) in set(data.citations) for a, b in data.citations[:50])
    assert data.texts[0].startswith("The metabolic world of Escherichia coli is not small. To elucidate")


@pytest.mark.slow
def test_a_small_run_reports_every_method_and_reuses_its_vectors(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stages: list[str] = []
    report = run_eval(
        dataset,
        **SMALL,
        seed=1,
        cache_dir=tmp_path,
        calibrate_pairs=False,
        progress=lambda s, d, t: stages.append(s),
    )
    assert report.users == 3 and report.split == "test"
    names = [m.name for m in (*report.paperbot, *report.baselines, *report.references)]
    assert names[0] == "paperbot" and "logistic regression" in names and "arxiv-sanity-lite" in names
    assert len(names) == 10 and "embedding" in stages
    perfect = report.references[0]
    for m in (*report.paperbot, *report.baselines):
        for metric in (m.precision_day1, m.precision_all, m.precision_warm, m.ndcg10, m.mrr):
            assert 0.0 <= metric.mean <= 1.0
        assert m.precision_all.mean <= perfect.precision_all.mean + 1e-9
    assert report.paperbot[0].shown_per_day == 10.0 and report.paperbot[1].shown_per_day <= 10.0
    assert perfect.ndcg10.mean == 1.0
    assert [r.threshold for r in report.profile_calibration] == sorted(
        r.threshold for r in report.profile_calibration
    )

    text = json.dumps(report.to_json())  # plain data all the way down
    assert '"warm_ratio"' in text
    console = Console(record=True, width=200)
    console.print(format_table(report), format_calibration(report))
    assert "logistic regression" in console.export_text()

    # The second run embeds nothing: the vectors come from the cache.
    assert list(tmp_path.glob("citeulike-*.npy"))

    def refuse(self: Encoder, texts: object) -> np.ndarray:
        raise AssertionError("embedded again")

    monkeypatch.setattr(Encoder, "encode", refuse)
    again = run_eval(dataset, **SMALL, seed=1, cache_dir=tmp_path, calibrate_pairs=False)
    assert isinstance(again, EvalReport)
    assert again.paperbot[0].precision_all == report.paperbot[0].precision_all  # deterministic


def test_the_cache_is_keyed_by_model_and_content(tmp_path: Path) -> None:
    class Fake(Encoder):
        calls = 0

        def encode(self, texts: object) -> np.ndarray:
            Fake.calls += 1
            return np.ones((len(texts), 3), dtype=np.float32)  # type: ignore[arg-type]

    first = cached_vectors(["a", "b"], encoder=Fake("model-a"), cache_dir=tmp_path)
    cached_vectors(["a", "b"], encoder=Fake("model-a"), cache_dir=tmp_path)
    assert Fake.calls == 1 and first.shape == (2, 3)
    cached_vectors(["a", "c"], encoder=Fake("model-a"), cache_dir=tmp_path)
    cached_vectors(["a", "b"], encoder=Fake("model-b"), cache_dir=tmp_path)
    assert Fake.calls == 3 and len(list(tmp_path.glob("*.npy"))) == 3
    assert not list(tmp_path.glob("*.tmp"))
