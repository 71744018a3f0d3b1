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
import multiprocessing
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table
from threadpoolctl import threadpool_limits

from bot.config import DEFAULT_MODEL
from bot.vectors.embed import Encoder, listing_text
from profiles.eval.baselines import tfidf_features
from profiles.eval.calibration import FloorCalibration, PassRate, calibrate_floor, pair_pass_rates, pass_rates
from profiles.eval.evaluate import (
    Mapper,
    MethodRun,
    baseline_methods,
    evaluate,
    paperbot_methods,
    reference_methods,
)
from profiles.eval.metrics import MethodResult, Metric, MultiResult, summarise_multi
from profiles.eval.protocol import (
    Method,
    Settings,
    UserCase,
    alone,
    candidate_users,
    interest_text,
    make_cases,
    make_multi_cases,
    unrelated_groups,
)
from profiles.eval.votes import DigestLength, VoteResponse, digest_length, vote_response
from profiles.model import unit

__all__ = [
    "CiteULike",
    "EvalReport",
    "load_citeulike",
    "cached_vectors",
    "run_eval",
    "format_table",
    "format_calibration",
    "format_multi",
    "format_votes",
    "format_report",
]

Progress = Callable[[str, int, int], None]  # (stage, done, total)


CORPORA = ("abstracts", "titles")


@dataclass(frozen=True)
class CiteULike:
    """One corpus of CiteULike-a (rows) and every user's library as corpus rows.

    "abstracts": the 1,929 papers with an abstract; "titles": all 16,980 papers, title only. users.dat,
    citations.dat and item-tag.dat index the 16,980-item set, line i of titles_all_items.txt being
    item i, so in the titles corpus a row is the official item index."""

    corpus: str
    item_ids: tuple[int, ...]  # official CiteULike item index of each row
    titles: tuple[str, ...]
    texts: tuple[str, ...]  # "title. abstract" (or the title alone), as the service embeds listings
    libraries: tuple[tuple[int, ...], ...]  # per user (line of users.dat): rows of this corpus
    citations: tuple[tuple[int, int], ...]  # (citing or cited, other) row pairs, both directions
    tags: tuple[tuple[str, ...], ...]  # per row: the tags CiteULike users gave the paper (item-tag.dat)


def _rows_per_line(path: Path, row_of: dict[int, int] | None) -> list[tuple[int, ...]]:
    """users.dat / citations.dat / item-tag.dat: line n lists indices after a count; keep those in
    `row_of` (every index when it is None), mapped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if row_of is None:
        return [tuple(map(int, line.split()[1:])) for line in lines]
    return [tuple(row_of[i] for i in map(int, line.split()[1:]) if i in row_of) for line in lines]


def _unmangle(title: str) -> str:
    """A line of titles_all_items.txt as the title it is. 58 titles with quotes in them are written
    as CSV fields ('"The concept of ""Ba"": ..."'); about 200 went through UTF-8 read as cp1252
    (the dataset's README), 9 of them with a byte cp1252 does not define."""
    if len(title) > 1 and title[0] == title[-1] == '"' and '""' in title:
        title = title[1:-1].replace('""', '"')
    try:
        return b"".join(map(_cp1252_byte, title)).decode("utf-8")
    except UnicodeError:  # not mangled: a real non-ASCII character
        return title


def _cp1252_byte(char: str) -> bytes:
    # The bytes cp1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) came through as the same code point.
    try:
        return char.encode("cp1252")
    except UnicodeEncodeError:
        if ord(char) < 256:
            return bytes([ord(char)])
        raise


def _corpus_rows(directory: Path, corpus: str) -> tuple[list[int], list[str], list[str]]:
    """Official item index, title and embedded text of each row of `corpus`."""
    if corpus == "titles":
        lines = (directory / "titles_all_items.txt").read_text(encoding="utf-8").splitlines()
        titles = [_unmangle(t).strip() for t in lines]
        return list(range(len(titles))), titles, [listing_text(t, "") for t in titles]
    if corpus != "abstracts":
        raise ValueError(f"corpus must be one of {', '.join(CORPORA)}, not {corpus!r}")
    with (directory / "items_with_abstracts.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return (
        [int(r["item_index"]) for r in rows],
        [r["title"] for r in rows],
        [listing_text(r["title"], r["abstract"]) for r in rows],
    )


def load_citeulike(directory: Path, corpus: str = "abstracts") -> CiteULike:
    """Read one corpus with users.dat, citations.dat and the tags (see the dataset's README.md)."""
    items, titles, texts = _corpus_rows(directory, corpus)
    row_of = {item: n for n, item in enumerate(items)}
    linked = _rows_per_line(directory / "citations.dat", None)
    citations = [
        (row_of[item], row_of[other])
        for item, others in enumerate(linked)
        if item in row_of
        for other in others
        if other in row_of
    ]
    names = (directory / "tags.dat").read_text(encoding="utf-8").splitlines()
    tagged = _rows_per_line(directory / "item-tag.dat", None)
    return CiteULike(
        corpus=corpus,
        item_ids=tuple(items),
        titles=tuple(titles),
        texts=tuple(texts),
        libraries=tuple(_rows_per_line(directory / "users.dat", row_of)),
        citations=tuple(citations),
        tags=tuple(tuple(names[t] for t in tagged[item]) if item < len(tagged) else () for item in items),
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


PROTOCOLS = ("single", "multi", "text")
MIN_LIBRARY = {"abstracts": 15, "titles": 30}  # library papers in the corpus for a user to take part
PER_DAY = {"abstracts": 150, "titles": 1700}  # others per day: an arXiv category; a busy arXiv day
SEED_PAPERS = {"single": 5, "multi": 3, "text": 0}
# Protocol multi merges users whose library centroids are below this cosine. Fixed before any method
# was compared: 19.8% of 20,000 random pairs of eligible users fall below it on the titles corpus,
# 15.4% on the abstracts (all-MiniLM-L6-v2), so merged libraries are about different things.
MAX_COSINE = 0.2


@dataclass(frozen=True)
class EvalReport:
    dataset: str
    corpus: str  # abstracts or titles
    protocol: str  # single, multi or text
    split: str  # "test" for reported numbers; "tune" is where hyper-parameters were chosen
    users: int  # simulated subscribers
    seed: int
    settings: Settings
    day_size: float  # mean papers per day
    paperbot: tuple[MethodResult, ...]  # like for like (no minimum score), then as shipped
    baselines: tuple[MethodResult, ...]
    references: tuple[MethodResult, ...]  # bounds that know the whole library (profiles.eval.references)
    multi: tuple[MultiResult, ...]  # protocol multi: paperbot (both rows) and the baselines
    votes: tuple[VoteResponse, ...]  # rank gain of a 👍's neighbours: paperbot and the baselines
    digest_lengths: tuple[DigestLength, ...]  # the shipped row, without and with votes
    interest_texts: tuple[str, ...]  # protocol text: each user's interest, in case order
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


def _vectors(
    texts: Sequence[str], rows: Iterable[int], *, model: str, cache_dir: Path, progress: Progress | None
) -> np.ndarray:
    """Vectors of `texts`: all of them when they are cached together, otherwise those of `rows` (the
    others are zero: no user touches them, they are never read)."""
    encoder = Encoder(model, cache_dir=cache_dir)  # loads the model only when a text is not cached
    if _cache_path(cache_dir, model, texts).exists():  # every text is cached: no run embeds again
        return cached_vectors(texts, encoder=encoder, cache_dir=cache_dir)
    rows = list(rows)
    embedded = cached_vectors(
        [texts[i] for i in rows], encoder=encoder, cache_dir=cache_dir, progress=progress
    )
    vectors = np.zeros((len(texts), embedded.shape[1]), dtype=np.float32)
    vectors[rows] = embedded
    return vectors


_TASK: Callable[[Any], Any] | None = None  # what forked workers run: they inherit it, nothing is pickled


def _run_task(item: Any) -> Any:
    assert _TASK is not None, "set by _process_map before the workers fork"
    return _TASK(item)


def _process_map(workers: int) -> Mapper:
    """A `map` over `workers` forked processes, results in order; the builtin map for one worker.
    The function reaches the workers by fork rather than pickling: the methods hold the corpus."""
    if workers <= 1:
        return map

    def mapper(function: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        global _TASK
        _TASK = function
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(_run_task, items, chunksize=1)

    return mapper


def _unrelated_users(
    data: CiteULike,
    settings: Settings,
    subscribers: int,
    group_size: int,
    split: str,
    seed: int,
    encode: Callable[[Sequence[str], Iterable[int]], np.ndarray],
) -> tuple[list[tuple[int, ...]], list[int], np.ndarray]:
    """Protocol multi's groups of users, the corpus rows embedded and the vectors. Users are merged from
    a random sample of the half large enough to find unrelated partners: only the sample's libraries
    need vectors for the centroids."""
    sample = candidate_users(
        data.libraries, settings=settings, split=split, seed=seed, limit=8 * subscribers * group_size
    )
    rows = sorted({i for u in sample for i in data.libraries[u]})
    vectors = encode(data.texts, rows)
    centroids = {u: unit(vectors[list(data.libraries[u])].sum(axis=0)) for u in sample}
    groups = unrelated_groups(
        data.libraries, centroids, sample, groups=subscribers, size=group_size, max_cosine=MAX_COSINE
    )
    return groups, rows, vectors


def _served_per_user(
    methods: Sequence[Method],
    runs: Sequence[MethodRun],
    cases: Sequence[UserCase],
    groups: Sequence[tuple[int, ...]],
    settings: Settings,
    seed: int,
    mapper: Mapper,
) -> list[MultiResult]:
    """Each method's recall per merged user, against the same method for each user alone over the same
    days: a library only counts as starved if it could be served."""
    solo = [
        alone(case, k, user)
        for case, group in zip(cases, groups, strict=True)
        for k, user in enumerate(group)
    ]
    own = evaluate(methods, solo, shown=settings.shown, seed=seed, clock=time.perf_counter, map_users=mapper)
    size = len(groups[0]) if groups else 1
    return [
        summarise_multi(
            method.name,
            cases,
            run.users,
            [by_user.users[n : n + size] for n in range(0, len(solo), size)],
            seed=seed,
        )
        for method, run, by_user in zip(methods, runs, own, strict=False)
    ]


def run_eval(
    dataset: Path,
    *,
    corpus: str = "abstracts",
    protocol: str = "single",
    users: int = 50,
    seed_papers: int | None = None,
    days: int = 10,
    per_day: int | None = None,
    group_size: int = 2,
    seed: int = 0,
    cache_dir: Path,
    split: str = "test",
    negatives: int = 100,
    background: int = 200,
    model: str = DEFAULT_MODEL,
    calibrate_pairs: bool = True,
    workers: int = 2,
    progress: Progress | None = None,
) -> EvalReport:
    """Run paperbot and the baselines on `users` simulated subscribers (docs/evaluation.md).

    `seed_papers` and `per_day` default by protocol and corpus (SEED_PAPERS, PER_DAY); protocol text
    has no seed paper. `calibrate_pairs` adds the citation-pair calibration (abstracts, single), which
    embeds every paper in the set. Users are simulated on `workers` processes.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    started = time.perf_counter()
    data = load_citeulike(dataset, corpus)
    n_items = len(data.texts)
    calibrate = calibrate_pairs and corpus == "abstracts" and protocol == "single"
    settings = Settings(
        seed_papers=0 if protocol == "text" else seed_papers or SEED_PAPERS[protocol],
        days=days,
        per_day=per_day or PER_DAY[corpus],
        negatives=negatives,
        background=background,
        min_library=MIN_LIBRARY[corpus],
        whole_corpus=corpus == "titles",
    )
    encode = partial(_vectors, model=model, cache_dir=cache_dir, progress=progress)
    if protocol == "multi":
        groups, rows, vectors = _unrelated_users(data, settings, users, group_size, split, seed, encode)
        cases = make_multi_cases(data.libraries, groups, n_items, settings=settings, seed=seed)
    else:
        cases = make_cases(data.libraries, n_items, users=users, settings=settings, seed=seed, split=split)
        rows = list(range(n_items)) if calibrate else _needed_rows(cases)
        vectors = encode(data.texts, rows)
    titles, wanted = list(data.titles), []
    if protocol == "text":  # each user's interest in words, embedded as the service embeds interests
        frequency = Counter(tag for row in data.tags for tag in set(row))
        wanted = [interest_text(case, data.tags, frequency) for case in cases]
        cases = [dataclasses.replace(case, seeds=(n_items + n,)) for n, case in enumerate(cases)]
        written = encode(wanted, range(len(wanted)))
        vectors, titles = np.vstack([vectors, written]), titles + wanted
    embed_seconds = time.perf_counter() - started
    # The models work on small matrices: one BLAS thread each is several times faster than many
    # threads fighting over two cores.
    mapper = _process_map(workers)
    with threadpool_limits(limits=1):
        ours = paperbot_methods(vectors, titles, text_rows=frozenset(range(n_items, len(titles))))
        tfidf = tfidf_features([*data.texts, *wanted])
        theirs = baseline_methods(vectors, tfidf, seed=seed)
        refs = reference_methods(vectors, tfidf, rows, cases, supervised=corpus == "abstracts")
        runs = evaluate(
            [*ours, *theirs, *refs],
            cases,
            shown=settings.shown,
            seed=seed,
            clock=time.perf_counter,
            progress=progress,
            map_users=mapper,
        )
        methods: list[Method] = [*ours, *theirs]
        multi: list[MultiResult] = []
        if protocol == "multi":
            multi = _served_per_user(methods, runs, cases, groups, settings, seed, mapper)
        votes = [
            vote_response(m, cases, run.users, vectors, seed=seed, map_users=mapper)
            for m, run in zip(methods, runs, strict=False)
        ]
        lengths = [
            digest_length(ours[1], cases, runs[1].users, day=d, shown=settings.shown) for d in (2, days)
        ]
        profile_calibration = pass_rates(ours[1], cases, runs[1].users) if protocol == "single" else ()
        pairs = pair_pass_rates(vectors, data.citations, seed=seed) if calibrate else ()
        floor = calibrate_floor(vectors, data.citations, seed=seed) if calibrate else None
    return EvalReport(
        dataset=str(dataset),
        corpus=corpus,
        protocol=protocol,
        split=split,
        users=len(cases),
        seed=seed,
        settings=settings,
        day_size=float(np.mean([len(b) for case in cases for b in case.batches])),
        paperbot=tuple(run.summary for run in runs[: len(ours)]),
        baselines=tuple(run.summary for run in runs[len(ours) : len(methods)]),
        references=tuple(run.summary for run in runs[len(methods) :]),
        multi=tuple(multi),
        votes=tuple(votes),
        digest_lengths=tuple(lengths),
        interest_texts=tuple(wanted),
        profile_calibration=profile_calibration,
        pair_calibration=pairs,
        floor_calibration=floor,
        embed_seconds=embed_seconds,
        total_seconds=time.perf_counter() - started,
    )


def _cell(metric: Metric) -> str:
    return f"{metric.mean:.3f} ±{metric.ci95:.3f}"


def _title(report: EvalReport) -> str:
    s = report.settings
    who = {
        "single": f"{report.users} {report.split} users, {s.seed_papers} seed papers",
        "multi": f"{report.users} {report.split} subscribers of unrelated users, "
        f"{s.seed_papers} seed papers each",
        "text": f"{report.users} {report.split} users, a written interest (their tags), no seed paper",
    }[report.protocol]
    days = f"{s.days} days of {report.day_size:,.0f} papers"
    return f"CiteULike-a {report.corpus}: {who}, {days}, top {s.shown} shown"


def format_table(report: EvalReport) -> Table:
    """One row per method; ± is the half-width of a 95% bootstrap interval over users."""
    table = Table(
        title=_title(report),
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


def format_multi(report: EvalReport) -> Table:
    """Protocol multi: is every library of a merged subscriber served?"""
    table = Table(
        title="every interest served: recall of each user's papers over all days",
        caption="balance = weakest / strongest recall per subscriber; starved = a user's papers never shown "
        "although that user alone got at least 2 hits",
    )
    for header in ("method", "recall, weakest user", "recall, strongest user", "balance", "starved"):
        table.add_column(header, justify="left" if header == "method" else "right")
    for m in report.multi:
        cells = (_cell(m.recall_weakest), _cell(m.recall_strongest), _cell(m.balance))
        table.add_row(m.name, *cells, f"{m.starved} of {m.starvable}")
    return table


def format_votes(report: EvalReport) -> Table:
    """The vote response (profiles.eval.votes)."""
    table = Table(
        title="after a 👍: mean rank gain of its 10 nearest unseen papers in the next day (> 0: they rose)",
        caption="; ".join(
            f"{d.name}, day {d.day}: {d.before:.1f} papers from the seeds alone, "
            f"{d.after:.1f} with the votes ({d.shrunk} of {d.users} shorter)"
            for d in report.digest_lengths
        ),
    )
    for header in ("method", "rank gain", "users"):
        table.add_column(header, justify="left" if header == "method" else "right")
    for v in report.votes:
        table.add_row(v.name, f"{v.rank_gain.mean:+.1f} ±{v.rank_gain.ci95:.1f}", str(v.users))
    return table


def format_report(report: EvalReport) -> list[Table]:
    """Every table of the report, in the order `paperbot eval` prints them."""
    tables = [format_table(report)]
    if report.multi:
        tables.append(format_multi(report))
    tables.append(format_votes(report))
    if report.profile_calibration:
        tables.append(format_calibration(report))
    return tables


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
