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
    format_report,
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


def test_the_titles_corpus_is_every_item_in_the_order_users_dat_indexes(dataset: Path) -> None:
    titles = load_citeulike(dataset, "titles")
    abstracts = load_citeulike(dataset)
    assert len(titles.texts) == len(titles.tags) == 16980 and titles.item_ids == tuple(range(16980))
    assert sum(len(lib) for lib in titles.libraries) == 204986  # every user-item pair: none is dropped
    assert sum(len(lib) >= 30 for lib in titles.libraries) == 2010
    # The abstracts corpus names its official item index: the titles corpus has the same title there.
    same = sum(titles.titles[i] == t for i, t in zip(abstracts.item_ids, abstracts.titles, strict=True))
    assert same == 1928  # the other has spaces around it in the abstracts file
    assert sum("â€" in t for t in titles.titles) == 3  # of 203 mangled titles, 3 cannot be undone
    assert titles.texts[2] == "Exploring complex networks" and "networks" in titles.tags[2]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eval-cache")


def _all_tables(report: EvalReport) -> str:
    console = Console(record=True, width=200)
    console.print(*format_report(report))
    json.dumps(report.to_json())  # plain data all the way down
    return console.export_text()


@pytest.mark.slow
def test_titles_days_are_the_corpus_dealt_out_and_votes_are_measured(dataset: Path, cache: Path) -> None:
    report = run_eval(dataset, corpus="titles", **SMALL, cache_dir=cache, workers=2)
    assert (report.corpus, report.protocol, report.settings.min_library) == ("titles", "single", 30)
    assert report.settings.whole_corpus and 10 < report.day_size < 40  # 10 others + a third of the rest
    names = [m.name for m in (*report.paperbot, *report.baselines)]
    assert [v.name for v in report.votes] == names and "logistic regression" in names
    assert [d.day for d in report.digest_lengths] == [2, 3]
    assert not report.pair_calibration  # the citation calibration is the abstracts corpus's
    assert "rank gain" in _all_tables(report)


@pytest.mark.slow
def test_merged_subscribers_report_every_users_recall(dataset: Path, cache: Path) -> None:
    small = {**SMALL, "users": 2, "seed_papers": None}  # 3 from each library
    report = run_eval(dataset, protocol="multi", **small, cache_dir=cache, workers=1)
    assert report.protocol == "multi" and report.users == 2 and report.settings.seed_papers == 3
    assert [m.name for m in report.multi] == [m.name for m in (*report.paperbot, *report.baselines)]
    for m in report.multi:
        assert 0.0 <= m.recall_weakest.mean <= m.recall_strongest.mean <= 1.0
        assert 0 <= m.starved <= m.starvable <= 4
    assert "starved" in _all_tables(report)


@pytest.mark.slow
def test_a_written_interest_replaces_the_seed_papers(dataset: Path, cache: Path) -> None:
    report = run_eval(dataset, protocol="text", **SMALL, cache_dir=cache, workers=1)
    assert report.settings.seed_papers == 0 and len(report.interest_texts) == report.users == 3
    assert all(text.count(", ") == 4 for text in report.interest_texts)  # five tags each
    assert report.paperbot[0].precision_all.mean > report.baselines[0].precision_all.mean  # beats random
