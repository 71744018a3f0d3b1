"""Offline evaluation on CiteULike-a: the I/O around `profiles.eval.evaluate`.

Loads the dataset, embeds the abstracts the run needs with `bot.vectors.embed.Encoder` (cached in `cache_dir`
as .npy keyed by model and content hash: only the first run pays for the model), runs paperbot and
the baselines on the same simulated users and returns an `EvalReport` (docs/evaluation.md).

    paperbot eval --dataset ../shared/data/citeulike-a --users 100
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.table import Table
from threadpoolctl import threadpool_limits

from bot.config import DEFAULT_MODEL
from bot.vectors.embed import Encoder, listing_text
from profiles.eval.baselines import tfidf_features
from profiles.eval.calibration import FloorCalibration, PassRate, calibrate_floor, pair_pass_rates, pass_rates
from profiles.eval.evaluate import baseline_methods, evaluate, paperbot_methods, reference_methods
from profiles.eval.metrics import MethodResult, Metric
from profiles.eval.protocol import Method, Settings, UserCase, make_cases

__all__ = [
    "CiteULike",
    "EvalReport",
    "load_citeulike",
    "cached_vectors",
    "run_eval",
    "format_table",
    "format_calibration",
]

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class CiteULike:
    """The papers that have abstracts (corpus rows) and every user's library as corpus rows."""

    item_ids: tuple[int, ...]  # official CiteULike item index of each row
    titles: tuple[str, ...]
    texts: tuple[str, ...]  # "title. abstract", as the service embeds listings
    libraries: tuple[tuple[int, ...], ...]  # per user (line of users.dat): rows with an abstract
    citations: tuple[tuple[int, int], ...]  # (citing or cited, other) row pairs, both directions


def _rows_per_line(path: Path, row_of: dict[int, int]) -> list[tuple[int, ...]]:
    """users.dat / citations.dat: line n lists item indices after a count; keep those with a row."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [tuple(row_of[i] for i in map(int, line.split()[1:]) if i in row_of) for line in lines]


def load_citeulike(directory: Path) -> CiteULike:
    """Read items_with_abstracts.csv, users.dat and citations.dat (see the dataset's README.md)."""
    with (directory / "items_with_abstracts.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    row_of = {int(r["item_index"]): n for n, r in enumerate(rows)}
    linked = _rows_per_line(directory / "citations.dat", row_of)
    citations = [
        (row_of[item], other) for item, others in enumerate(linked) if item in row_of for other in others
    ]
    return CiteULike(
        item_ids=tuple(row_of),
        titles=tuple(r["title"] for r in rows),
        texts=tuple(listing_text(r["title"], r["abstract"]) for r in rows),
        libraries=tuple(_rows_per_line(directory / "users.dat", row_of)),
        citations=tuple(citations),
    )


def _cache_path(cache_dir: Path, model: str, texts: Sequence[str]) -> Path:
    digest = hashlib.sha256("\x1e".join(texts).encode("utf-8")).hexdigest()[:24]
    slug = re.sub(r"[^A-Za-z0-9]+", "-", model).strip("-")
    return cache_dir / f"citeulike-{slug}-{len(texts)}-{digest}.npy"


def _save_atomic(path: Path, array: np.ndarray) -> None:
    # Write beside the target and rename, so an interrupted run never leaves a truncated cache.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached_vectors(
    texts: Sequence[str], *, encoder: Encoder, cache_dir: Path, progress: Progress | None = None
) -> np.ndarray:
    """Unit vectors for `texts`, from the cache when this model has embedded exactly these texts."""
    path = _cache_path(cache_dir, encoder.model_name, texts)
    if path.exists():
        cached: np.ndarray = np.load(path)
        return cached
    chunks = []
    for start in range(0, len(texts), 256):
        chunks.append(encoder.encode(texts[start : start + 256]))
        if progress is not None:
            progress("embedding", min(start + 256, len(texts)), len(texts))
    vectors = np.vstack(chunks)
    _save_atomic(path, vectors)
    return vectors


def _needed_rows(cases: Sequence[UserCase]) -> list[int]:
    rows: set[int] = set()
    for case in cases:
        rows.update(case.seeds, case.heldout, case.negatives, case.background)
        rows.update(i for batch in case.batches for i in batch)
    return sorted(rows)


@dataclass(frozen=True)
class EvalReport:
    dataset: str
    split: str  # "test" for reported numbers; "tune" is where hyper-parameters were chosen
    users: int
    seed: int
    settings: Settings
    paperbot: tuple[MethodResult, ...]  # like for like (no minimum score), then as shipped
    baselines: tuple[MethodResult, ...]
    references: tuple[MethodResult, ...]  # bounds that know the whole library (profiles.eval.references)
    profile_calibration: tuple[PassRate, ...]  # final profiles: held-out library vs random papers
    pair_calibration: tuple[PassRate, ...]  # one-paper profiles: cited papers vs random papers
    floor_calibration: FloorCalibration | None  # the similarity floor from citation pairs
    embed_seconds: float
    total_seconds: float

    @property
    def warm_ratio(self) -> float:
        """paperbot's warm precision@10 over the best baseline's."""
        best = max(m.precision_warm.mean for m in self.baselines)
        return self.paperbot[0].precision_warm.mean / best if best else float("inf")

    def to_json(self) -> dict[str, object]:
        return {**dataclasses.asdict(self), "warm_ratio": self.warm_ratio}


def run_eval(
    dataset: Path,
    *,
    users: int = 50,
    seed_papers: int = 5,
    days: int = 10,
    per_day: int = 150,
    seed: int = 0,
    cache_dir: Path,
    split: str = "test",
    negatives: int = 100,
    background: int = 200,
    model: str = DEFAULT_MODEL,
    calibrate_pairs: bool = True,
    progress: Progress | None = None,
) -> EvalReport:
    """Run paperbot and the baselines on `users` simulated users (docs/evaluation.md).

    `calibrate_pairs` adds the citation-pair calibration, which embeds every paper in the set.
    """
    started = time.perf_counter()
    data = load_citeulike(dataset)
    settings = Settings(
        seed_papers=seed_papers, days=days, per_day=per_day, negatives=negatives, background=background
    )
    cases = make_cases(
        data.libraries, len(data.texts), users=users, settings=settings, seed=seed, split=split
    )
    rows = list(range(len(data.texts))) if calibrate_pairs else _needed_rows(cases)
    encoder = Encoder(model, cache_dir=cache_dir)
    embedded = cached_vectors(
        [data.texts[i] for i in rows], encoder=encoder, cache_dir=cache_dir, progress=progress
    )
    vectors = np.zeros((len(data.texts), embedded.shape[1]), dtype=np.float32)
    vectors[rows] = embedded  # rows no user touches stay zero and are never read
    embed_seconds = time.perf_counter() - started
    # The models work on small matrices: one BLAS thread each is several times faster than many
    # threads fighting over two cores.
    with threadpool_limits(limits=1):
        ours = paperbot_methods(vectors, data.titles)
        tfidf = tfidf_features(data.texts)
        theirs = baseline_methods(vectors, tfidf, seed=seed)
        everything: list[Method] = [*ours, *theirs, *reference_methods(vectors, tfidf, rows, cases)]
        runs = evaluate(
            everything, cases, shown=settings.shown, seed=seed, clock=time.perf_counter, progress=progress
        )
        profile_calibration = pass_rates(ours[1], cases, runs[1].users)  # as shipped
        pairs = pair_pass_rates(vectors, data.citations, seed=seed) if calibrate_pairs else ()
        floor = calibrate_floor(vectors, data.citations, seed=seed) if calibrate_pairs else None
    return EvalReport(
        dataset=str(dataset),
        split=split,
        users=len(cases),
        seed=seed,
        settings=settings,
        paperbot=tuple(run.summary for run in runs[: len(ours)]),
        baselines=tuple(run.summary for run in runs[len(ours) : len(ours) + len(theirs)]),
        references=tuple(run.summary for run in runs[len(ours) + len(theirs) :]),
        profile_calibration=profile_calibration,
        pair_calibration=pairs,
        floor_calibration=floor,
        embed_seconds=embed_seconds,
        total_seconds=time.perf_counter() - started,
    )


def _cell(metric: Metric) -> str:
    return f"{metric.mean:.3f} ±{metric.ci95:.3f}"


def format_table(report: EvalReport) -> Table:
    """One row per method; ± is the half-width of a 95% bootstrap interval over users."""
    s = report.settings
    table = Table(
        title=f"CiteULike-a: {report.users} {report.split} users, {s.seed_papers} seed papers, "
        f"{s.days} days of their papers + {s.per_day} others, top {s.shown} shown",
        caption=f"paperbot warm P@10 / best baseline = {report.warm_ratio:.2f}x (seed {report.seed}; "
        f"embedding {report.embed_seconds:.0f} s, total {report.total_seconds:.0f} s)",
    )
    headers = ("method", "P@10 day 1", "P@10 all", "P@10 warm", "nDCG@10", "MRR", "prec. shown", "shown/day")
    for header in headers:
        table.add_column(header, justify="left" if header == "method" else "right")
    for group in (report.paperbot, report.baselines, report.references):
        for m in group:
            metrics = (
                m.precision_day1,
                m.precision_all,
                m.precision_warm,
                m.ndcg10,
                m.mrr,
                m.precision_shown,
            )
            table.add_row(m.name, *map(_cell, metrics), f"{m.shown_per_day:.1f}")
        table.add_section()
    return table


def format_calibration(report: EvalReport) -> Table:
    """Share of related and of random papers reaching each minimum score (profiles.eval.calibration),
    without / with the similarity floor."""
    floor = report.floor_calibration
    table = Table(
        title="minimum score calibration (share passing: score only / score and similarity floor)",
        caption=f"similarity floor {floor.floor:.2f}: keeps {floor.related_kept:.1%} of {floor.pairs} cited "
        f"pairs, blocks {floor.random_blocked:.1%} of random pairs"
        if floor
        else None,
    )
    headers = ("min score", "cited papers", "random (pairs)", "held-out library", "random (profiles)")
    for header in headers:
        table.add_column(header, justify="right")
    pairs = {r.threshold: r for r in report.pair_calibration}

    def cell(without: float, floored: float) -> str:
        return f"{without:.1%} / {floored:.1%}"

    for rate in report.profile_calibration:
        pair = pairs.get(rate.threshold)
        cited = (
            (cell(pair.related, pair.related_floored), cell(pair.unrelated, pair.unrelated_floored))
            if pair
            else ("", "")
        )
        table.add_row(
            f"{rate.threshold:.1f}",
            *cited,
            cell(rate.related, rate.related_floored),
            cell(rate.unrelated, rate.unrelated_floored),
        )
    return table
