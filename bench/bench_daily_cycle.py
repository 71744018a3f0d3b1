"""Benchmark: one daily cycle at load. Not a test.

Setup (in a child process, timed, not a stage): S subscribers (1-5 interests each, embedded by the
real model from a pool of 120 phrases; 2% of them with 200 votes) and L older listings, bulk-inserted
with SYNTHETIC random unit vectors (the real model would need hours for 50,000 papers). Then the stages:

1. ingest + embed: a D-paper day (real titles and abstracts from ../shared feeds and the bundled
   sample, repeated with a numbered suffix to reach D), real model, FAISS index updated
2. match: `recommend_many` for every due subscription, `bot.digests.run.CHUNK` at a time against one
   pool, as `run_due` does it (diagnostic: the deliver stage does this again)
3. build: render every digest of stage 2 to a MIME message (diagnostic: nothing stored or sent)
4. deliver (match + claim + render + send, to an aiosmtpd sink in its own process), as
   `--deliver jobs` (default): `run_digest` once per subscription, as the scheduled job per
   subscription in `paperbot serve` does; or `--deliver due`: one `run_due` for all of them, as
   `paperbot digest --all-due` and the scheduler's sweep do

The daily cycle is stages 1 + 4: what `paperbot serve` runs each day. Each stage reports time,
throughput and the peak RSS so far (ru_maxrss) of the process running the cycle: model, index,
pool and delivery, without the setup's bulk insert.

    .venv/bin/python bench/bench_daily_cycle.py [--subscribers 10000] [--listings 50000] [--day 2000]

Prints a table and writes bench/results/daily-cycle-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert, select
from sqlmodel import col

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_email import free_port, start_sink  # noqa: E402  (the same aiosmtpd sink)

from bot.channels.email.links import Links  # noqa: E402
from bot.channels.email.render import render_email  # noqa: E402
from bot.config import (
    DEFAULT_MODEL,  # noqa: E402
    Settings,  # noqa: E402
)
from bot.digests.period import latest_period  # noqa: E402
from bot.digests.run import CHUNK, run_digest, run_due  # noqa: E402
from bot.digests.store import preview_view  # noqa: E402
from bot.ingest.sources import parse  # noqa: E402
from bot.recommend import Outcome  # noqa: E402
from bot.records import MatchRequest  # noqa: E402
from bot.service import Paperbot, sample_feed_path  # noqa: E402
from bot.vectors.embed import content_hash, listing_text  # noqa: E402
from storage import models  # noqa: E402
from storage.db import session_scope  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
FEEDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "feeds"
TOPICS = (
    "graph neural networks",
    "protein structure prediction",
    "reinforcement learning",
    "large language models",
    "software testing",
    "fuzzing",
    "genomics",
    "single-cell RNA sequencing",
    "causal inference",
    "diffusion models",
    "robotics manipulation",
    "speech recognition",
    "computer vision",
    "federated learning",
    "quantum computing",
    "climate modelling",
    "drug discovery",
    "bayesian optimisation",
    "program synthesis",
    "time series forecasting",
)
ANGLES = ("", " for molecules", " benchmarks", " theory", " in medicine", " at scale")


def rss() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def real_papers() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in [sample_feed_path(), *sorted(FEEDS.glob("arxiv_*.xml"))]:
        try:
            found += [(p.title, p.abstract) for p in parse(path.read_bytes())]
        except Exception:  # noqa: BLE001,S112 - error fixtures among the samples
            continue
    return [(t, a) for t, a in dict(found).items() if a]


def day_feed(path: Path, count: int, papers: list[tuple[str, str]]) -> None:
    items = []
    for n in range(count):
        title, abstract = papers[n % len(papers)]
        suffix = f" (day copy {n // len(papers)})" if n >= len(papers) else ""
        items.append(
            f"<item><title>{escape(title + suffix)}</title><link>https://example.org/day/{n}</link>"
            f"<guid>day-{n}</guid><description>{escape(abstract)}</description></item>"
        )
    path.write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>day</title>{"".join(items)}'
        "</channel></rss>",
        encoding="utf-8",
    )


def values(table: type[Any], **fields: Any) -> dict[str, Any]:
    """A row for a bulk insert, with every default the model would fill in."""
    return dict(table(**fields).model_dump(exclude={"id"}))


def populate(settings: Settings, subscribers: int, listings: int, seed: int) -> None:
    bot = Paperbot(settings)
    encoder = bot.encoder  # with an ONNX model this also makes the export, outside the timed cycle
    rng, pick = np.random.default_rng(seed), random.Random(seed)
    model, dim = bot.settings.model, encoder.dim
    old = datetime.now(UTC) - timedelta(days=30)
    vectors = rng.standard_normal((listings, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    phrases = [t + a for t in TOPICS for a in ANGLES]
    phrase_vectors = encoder.encode(phrases)
    with session_scope(bot.engine) as session:
        rows, embeddings = [], []
        for n in range(listings):
            title, abstract = f"Archived paper {n} on {pick.choice(TOPICS)}", f"Synthetic abstract {n}."
            digest = content_hash(listing_text(title, abstract))
            rows.append(
                values(
                    models.Listing,
                    canonical_id=f"bench:{n}",
                    title=title,
                    abstract=abstract,
                    content_hash=digest,
                    first_seen=old,
                    last_seen=old,
                    sources=["bench"],
                )
            )
            embeddings.append(
                values(models.Embedding, model=model, content_hash=digest, vector=vectors[n].tobytes())
            )
        session.execute(insert(models.Listing), rows)
        session.execute(insert(models.Embedding), embeddings)
        send_time = f"{datetime.now(UTC) - timedelta(hours=2):%H:%M}"
        session.execute(
            insert(models.Subscriber),
            [values(models.Subscriber, name=f"r{n}", email=f"r{n}@example.org") for n in range(subscribers)],
        )
        ids = list(session.execute(select(col(models.Subscriber.id))).scalars())
        interests, subscriptions, votes = [], [], []
        listing_ids = list(session.execute(select(col(models.Listing.id))).scalars())
        for sid in ids:
            for k in pick.sample(range(len(phrases)), pick.randint(1, 5)):
                interests.append(
                    values(
                        models.Interest,
                        subscriber_id=sid,
                        label=phrases[k],
                        text=phrases[k],
                        vector=phrase_vectors[k : k + 1].tobytes(),
                        vector_model=model,
                    )
                )
            subscriptions.append(
                values(
                    models.Subscription,
                    subscriber_id=sid,
                    channel="email",
                    target=f"r{sid}@example.org",
                    send_time=send_time,
                )
            )
            if pick.random() < 0.02:
                for lid in pick.sample(listing_ids, 200):
                    votes.append(
                        values(
                            models.Feedback,
                            subscriber_id=sid,
                            listing_id=lid,
                            vote=pick.choice(["up", "down"]),
                        )
                    )
        session.execute(insert(models.Interest), interests)
        session.execute(insert(models.Subscription), subscriptions)
        if votes:
            session.execute(insert(models.Feedback), votes)
    bot.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--listings", type=int, default=50_000)
    parser.add_argument("--day", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--deliver", choices=("jobs", "due"), default="jobs", help="see the docstring, stage 4"
    )
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help="PAPERBOT_MODEL, e.g. bundled:all-MiniLM-L6-v2@onnx-int8"
    )
    args = parser.parse_args()
    console, stages = Console(), list[dict[str, Any]]()
    port = free_port()
    sink = start_sink(port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            options: dict[str, Any] = {"data_dir": Path(tmp) / "data", "secret_key": "bench-" + "k" * 40}
            options["model"] = args.model
            options |= {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
            settings = Settings(**options)
            started = time.perf_counter()
            # In a child process, so that the bulk insert's memory does not count in this one's peak RSS.
            setup = multiprocessing.get_context("spawn").Process(
                target=populate, args=(settings, args.subscribers, args.listings, args.seed)
            )
            setup.start()
            setup.join()
            assert setup.exitcode == 0, "setup failed"
            console.print(f"setup (separate process): {time.perf_counter() - started:.1f} s")
            bot = Paperbot(settings)

            def stage(name: str, unit: str, count: int, run: Any) -> Any:
                started = time.perf_counter()
                result = run()
                seconds = time.perf_counter() - started
                stages.append(
                    {
                        "stage": name,
                        "seconds": round(seconds, 2),
                        "count": count,
                        "unit": unit,
                        "per_second": round(count / seconds, 1) if seconds else None,
                        "peak_rss_mb": round(rss()),
                    }
                )
                console.print(f"{name}: {seconds:.1f} s ({count} {unit})")
                return result

            stage("open index (rebuild from db)", "vectors", args.listings, lambda: len(bot.index))
            feed = Path(tmp) / "day.rss"
            day_feed(feed, args.day, real_papers())
            report = stage("ingest + embed day", "papers", args.day, lambda: bot.ingest(sources=[str(feed)]))
            assert report.totals["failed"] == 0, report
            due = bot.subscriptions()
            now = datetime.now(UTC)
            periods = [latest_period(s, now=now) for s in due]
            requests = [
                MatchRequest(s.subscriber_id, p.start, s.digest_size)
                for s, p in zip(due, periods, strict=True)
            ]

            def match() -> list[Outcome]:
                pool = bot.load_pool(min(p.start for p in periods))
                return [
                    outcome
                    for start in range(0, len(requests), CHUNK)
                    for outcome in bot.recommend_many(requests[start : start + CHUNK], now=now, pool=pool)
                ]

            outcomes = stage("match", "subscribers", len(due), match)
            views = [
                (preview_view(bot.engine, picks, period=p, subscription=s), s)
                for s, p, picks in zip(due, periods, outcomes, strict=True)
                if isinstance(picks, list) and picks
            ]
            links = Links.from_settings(settings)
            stage(
                "build (render, nothing sent)",
                "digests",
                len(views),
                lambda: sum(
                    len(render_email(v, subscription=s, settings=settings, now=now, links=links).as_bytes())
                    for v, s in views
                ),
            )
            if args.deliver == "jobs":
                name = "deliver (run_digest per subscription: match + claim + render + send)"
                results = stage(
                    name,
                    "digests",
                    len(due),
                    lambda: [run_digest(bot, subscription_id=s.id, now=now) for s in due],
                )
            else:
                name = "deliver (run_due: match + claim + render + send)"
                results = stage(name, "digests", len(due), lambda: run_due(bot, now=now))
            statuses: dict[str, int] = {}
            for r in results:
                statuses[r.status] = statuses.get(r.status, 0) + 1
            console.print(f"digest outcomes: {statuses}")
            bot.close()
    finally:
        sink.terminate()
        sink.wait(10)
    table = Table("stage", "seconds", "count", "per second", "peak RSS MB")
    for s in stages:
        table.add_row(
            s["stage"],
            str(s["seconds"]),
            f"{s['count']} {s['unit']}",
            str(s["per_second"]),
            str(s["peak_rss_mb"]),
        )
    cycle = [s for s in stages if s["stage"].startswith(("ingest", "deliver"))]
    table.add_row(
        "daily cycle (ingest + deliver)",
        str(round(sum(s["seconds"] for s in cycle), 2)),
        "",
        "",
        str(max(s["peak_rss_mb"] for s in stages)),
    )
    console.print(table)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"daily-cycle-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(
        json.dumps(
            {"args": vars(args), "machine": platform.platform(), "stages": stages, "outcomes": statuses},
            indent=2,
        )
    )
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
