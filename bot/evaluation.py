"""Offline evaluation on CiteULike-a: the I/O around `profiles.evaluate`.

Loads the dataset directory, embeds the abstracts the run needs with `bot.embed.Encoder` (vectors are
cached in `cache_dir` as .npy, keyed by model and content hash, so only the first run pays for the
model), runs paperbot and the baselines on the same simulated users and returns an `EvalReport`.
docs/evaluation.md describes the protocol and the reference numbers.

    python -m bot.evaluation --dataset ../shared/data/citeulike-a --users 100
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

from bot.embed import DEFAULT_MODEL, Encoder, listing_text
from profiles.baselines import tfidf_features
from profiles.calibration import PassRate, pass_rates
from profiles.evaluate import PaperbotMethod, all_methods, evaluate
from profiles.metrics import MethodResult, Metric
from profiles.protocol import Settings, UserCase, make_cases

__all__ = [
    "CiteULike",
    "EvalReport",
    "load_citeulike",
    "cached_vectors",
    "run_eval",
    "format_table",
    "format_calibration",
    "main",
]

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class CiteULike:
    """The papers that have abstracts (corpus rows) and every user's library as corpus rows."""

    item_ids: tuple[int, ...]  # official CiteULike item index of each row
    titles: tuple[str, ...]
    texts: tuple[str, ...]  # "title. abstract", as the service embeds listings
    libraries: tuple[tuple[int, ...], ...]  # per user (line of users.dat): rows with an abstract


def load_citeulike(directory: Path) -> CiteULike:
    """Read items_with_abstracts.csv and users.dat (see the dataset's README.md)."""
    with (directory / "items_with_abstracts.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    row_of = {int(r["item_index"]): n for n, r in enumerate(rows)}
    libraries = []
    for line in (directory / "users.dat").read_text(encoding="utf-8").splitlines():
        items = (int(i) for i in line.split()[1:])
        libraries.append(tuple(row_of[i] for i in items if i in row_of))
    return CiteULike(
        item_ids=tuple(row_of),
        titles=tuple(r["title"] for r in rows),
        texts=tuple(listing_text(r["title"], r["abstract"]) for r in rows),
        libraries=tuple(libraries),
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
    methods: tuple[MethodResult, ...]  # paperbot first, then the baselines
    references: tuple[MethodResult, ...]  # bounds that know the whole library (profiles.references)
    calibration: tuple[PassRate, ...]  # paperbot's final profiles: related vs unrelated pass rates
    embed_seconds: float
    total_seconds: float

    @property
    def warm_ratio(self) -> float:
        """paperbot's warm precision@10 over the best baseline's (random excluded)."""
        best = max(m.precision_warm.mean for m in self.methods[2:])
        return self.methods[0].precision_warm.mean / best if best else float("inf")

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
    progress: Progress | None = None,
) -> EvalReport:
    """Run paperbot and the baselines on `users` simulated users (docs/evaluation.md)."""
    started = time.perf_counter()
    data = load_citeulike(dataset)
    settings = Settings(
        seed_papers=seed_papers, days=days, per_day=per_day, negatives=negatives, background=background
    )
    cases = make_cases(
        data.libraries, len(data.texts), users=users, settings=settings, seed=seed, split=split
    )
    rows = _needed_rows(cases)
    embedded = cached_vectors(
        [data.texts[i] for i in rows], encoder=Encoder(model), cache_dir=cache_dir, progress=progress
    )
    vectors = np.zeros((len(data.texts), embedded.shape[1]), dtype=np.float32)
    vectors[rows] = embedded  # rows no user touches stay zero and are never read
    embed_seconds = time.perf_counter() - started
    # The models work on small matrices: one BLAS thread each is several times faster than many
    # threads fighting over two cores.
    with threadpool_limits(limits=1):
        methods = all_methods(vectors, data.titles, tfidf_features(data.texts), seed=seed)
        runs = evaluate(
            methods, cases, shown=settings.shown, seed=seed, clock=time.perf_counter, progress=progress
        )
        paperbot = methods[0]
        assert isinstance(paperbot, PaperbotMethod)
        calibration = pass_rates(paperbot, cases, runs[0].users)
    return EvalReport(
        dataset=str(dataset),
        split=split,
        users=len(cases),
        seed=seed,
        settings=settings,
        methods=tuple(run.summary for run in runs[: len(methods)]),
        references=tuple(run.summary for run in runs[len(methods) :]),
        calibration=calibration,
        embed_seconds=embed_seconds,
        total_seconds=time.perf_counter() - started,
    )


def _cell(metric: Metric) -> str:
    return f"{metric.mean:.3f} ± {metric.ci95:.3f}"


def format_table(report: EvalReport) -> Table:
    """One row per method; ± is the half-width of a 95% bootstrap interval over users."""
    s = report.settings
    table = Table(
        title=f"CiteULike-a, {report.users} {report.split} users, {s.seed_papers} seed papers, "
        f"{s.days} days of {s.per_day} + theirs, top {s.shown} shown",
        caption=f"paperbot warm P@10 / best baseline: {report.warm_ratio:.2f}x   "
        f"(seed {report.seed}; embed {report.embed_seconds:.0f} s, total {report.total_seconds:.0f} s)",
    )
    for header in ("method", "P@10 day 1", "P@10 all days", "P@10 warm", "nDCG@10", "MRR", "shown/day", "s"):
        table.add_column(header, justify="left" if header == "method" else "right")
    for m in (*report.methods, *report.references):
        table.add_row(
            m.name,
            _cell(m.precision_day1),
            _cell(m.precision_all),
            _cell(m.precision_warm),
            _cell(m.ndcg10),
            _cell(m.mrr),
            f"{m.shown_per_day:.1f}",
            f"{m.seconds:.0f}",
        )
    return table


def format_calibration(report: EvalReport) -> Table:
    """How many related and unrelated papers reach each minimum score (paperbot's final profiles)."""
    table = Table(title="minimum score calibration (paperbot, profile after the last day)")
    for header in ("min score", "held-out library papers passing", "random papers passing"):
        table.add_column(header, justify="right")
    for rate in report.calibration:
        table.add_row(f"{rate.threshold:.1f}", f"{rate.related:.1%}", f"{rate.unrelated:.1%}")
    return table


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m bot.evaluation`: run the evaluation and print both tables (or --json)."""
    import argparse
    import json

    from rich.console import Console

    parser = argparse.ArgumentParser(prog="python -m bot.evaluation", description=main.__doc__)
    parser.add_argument("-d", "--dataset", type=Path, required=True, help="the citeulike-a directory")
    parser.add_argument("-u", "--users", type=int, default=100, help="simulated users")
    parser.add_argument(
        "-k", "--seed-papers", type=int, default=5, help="library papers that seed the profile"
    )
    parser.add_argument("-D", "--days", type=int, default=10, help="daily digests per user")
    parser.add_argument("-p", "--per-day", type=int, default=150, help="random non-library papers per day")
    parser.add_argument("-s", "--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--split", choices=("test", "tune"), default="test", help="user half to sample")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path("paperbot-data/eval-cache"), help="vector cache"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    console = Console(stderr=True)

    def progress(stage: str, done: int, total: int) -> None:
        if done == total:
            console.print(f"{stage}: {total} done")

    report = run_eval(
        args.dataset,
        users=args.users,
        seed_papers=args.seed_papers,
        days=args.days,
        per_day=args.per_day,
        seed=args.seed,
        cache_dir=args.cache_dir,
        split=args.split,
        progress=progress,
    )
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        return
    out = Console()
    out.print(format_table(report))
    out.print(format_calibration(report))


if __name__ == "__main__":
    main()
