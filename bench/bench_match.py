"""Benchmark: `storage.index.match` against a raw FAISS IndexFlatIP search of the same vectors.

The daily job answers every due profile with one search against the day's new listings. This times
that search at the planned scale (100,000 profiles x 2,000 listings, top-20, 384-d unit vectors from a
seeded RNG): our `match` (which validates, builds a fresh index and maps rows to listing ids) versus
building an IndexFlatIP and calling `search` directly. Runs alternate and the best of N is reported.
Target: match / raw <= 1.2.

    .venv/bin/python bench/bench_match.py [--profiles 100000] [--listings 2000] [--k 20] [--repeat 7]

Prints a table and writes bench/results/match-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np
from rich.console import Console
from rich.table import Table

from storage.index import match

RESULTS = Path(__file__).resolve().parent / "results"
DIM = 384


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def raw_search(queries: np.ndarray, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    index = faiss.IndexFlatIP(DIM)
    index.add(vectors)
    return index.search(queries, k)


def timed_rounds(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, dict[str, list[float]]]:
    """Wall and CPU seconds of each run per candidate, alternating candidates (and their order) each round.

    CPU seconds (all of the process's threads) move less than wall time when other work shares the cores.
    """
    times: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in runs}
    names = list(runs)
    for round_ in range(repeat):
        for name in names if round_ % 2 == 0 else reversed(names):
            wall, cpu = time.perf_counter(), time.process_time()
            runs[name]()
            times[name]["wall"].append(time.perf_counter() - wall)
            times[name]["cpu"].append(time.process_time() - cpu)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description="Time storage.index.match against a raw IndexFlatIP search.")
    parser.add_argument("-p", "--profiles", type=int, default=100_000, help="profile (query) vectors")
    parser.add_argument("-l", "--listings", type=int, default=2_000, help="new listing vectors")
    parser.add_argument("-k", "--k", type=int, default=20, help="results per profile")
    parser.add_argument("-r", "--repeat", type=int, default=7, help="timed runs of each, best is reported")
    args = parser.parse_args()

    rng = np.random.default_rng(20240601)
    profiles, listings = unit_vectors(rng, args.profiles), unit_vectors(rng, args.listings)
    ids = rng.choice(10**9, args.listings, replace=False).astype(np.int64)

    ours_scores, ours_ids = match(profiles, listings, ids, args.k)  # warm-up, and a correctness check
    raw_scores, raw_rows = raw_search(profiles, listings, args.k)
    assert np.array_equal(ours_ids, ids[raw_rows]) and np.allclose(ours_scores, raw_scores)

    times = timed_rounds(
        {
            "storage.index.match": lambda: match(profiles, listings, ids, args.k),
            "raw IndexFlatIP": lambda: raw_search(profiles, listings, args.k),
        },
        args.repeat,
    )
    best = {name: {kind: min(ts) for kind, ts in runs.items()} for name, runs in times.items()}
    ratio = {
        kind: best["storage.index.match"][kind] / best["raw IndexFlatIP"][kind] for kind in ("wall", "cpu")
    }

    table = Table(title=f"{args.profiles:,} profiles x {args.listings:,} listings, top-{args.k}, dim {DIM}")
    for column in ("path", "best s", "median s", "best CPU s", "profiles/s"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name, runs in times.items():
        wall = best[name]["wall"]
        median = float(np.median(runs["wall"]))
        table.add_row(
            name, f"{wall:.3f}", f"{median:.3f}", f"{best[name]['cpu']:.3f}", f"{args.profiles / wall:,.0f}"
        )
    console = Console(width=120)  # a fixed width keeps the table whole when piped to a file
    console.print(table)
    console.print(
        f"match / raw: wall {ratio['wall']:.3f}, CPU {ratio['cpu']:.3f} (target <= 1.2); "
        f"faiss threads {faiss.omp_get_max_threads()}, load average {os.getloadavg()[0]:.1f}"
    )

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "benchmark": "match",
        "when": stamp,
        "args": vars(args),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "faiss": faiss.__version__},
        "faiss_threads": faiss.omp_get_max_threads(),
        "load_average": os.getloadavg(),
        "seconds": times,
        "best_seconds": best,
        "ratio": ratio,
    }
    (RESULTS / f"match-{stamp}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
