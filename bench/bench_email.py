"""Benchmark: render and send digests by email, against bare smtplib sending pre-rendered mail.

A batch run renders each digest (Jinja2 + css-inline + signed links) and sends it over one reused
SMTP connection (`bot.channels.email.smtp.SmtpSender`). The baseline sends the very same messages, rendered
beforehand, with a bare `smtplib.SMTP.send_message` loop on one connection: the wire, plus the
flattening `send_message` does for each message (the email package's generator, 1.5-2 ms a digest;
paperbot's sender serialises in one pass instead, `bot.channels.email.wire`). Both talk to an aiosmtpd
sink in a separate process on loopback. Runs alternate; the best of N is reported. Target:
paperbot / bare >= 0.8.

    .venv/bin/python bench/bench_email.py [--digests 1000] [--papers 10] [--repeat 3]

Prints a table and writes bench/results/email-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot.channels.email.links import Links
from bot.channels.email.render import render_email
from bot.channels.email.smtp import SmtpSender
from bot.config import load_settings
from bot.ingest.sources import parse
from bot.records import DigestEntry, DigestView, ListingView, SubscriptionView
from bot.service import sample_feed_path

RESULTS = Path(__file__).resolve().parent / "results"
REAL_FEED = (
    Path(__file__).resolve().parents[2]
    / "shared/data/feeds/arxiv_api_query_all-testing_m100_2026-04-12.atom.xml"
)
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def papers() -> list[ListingView]:
    feed = REAL_FEED if REAL_FEED.exists() else sample_feed_path()
    return [
        ListingView(
            id=n,
            canonical_id=str(n),
            title=p.title,
            abstract=p.abstract,
            authors=p.authors,
            categories=p.categories,
            arxiv_id=p.arxiv_id,
            doi=p.doi,
            version=p.version,
            abs_url=p.abs_url,
            pdf_url=p.pdf_url,
            published=p.published,
            first_seen=NOW,
            sources=(p.source,),
            upvotes=p.upvotes,
        )
        for n, p in enumerate(parse(feed.read_bytes()))
    ]


def digests(count: int, size: int) -> list[tuple[DigestView, SubscriptionView]]:
    pool = papers()
    out = []
    for d in range(count):
        entries = tuple(
            DigestEntry(
                d * size + i, i + 1, pool[(d * size + i) % len(pool)], 3.0, 'matches "testing"', "testing"
            )
            for i in range(size)
        )
        target = f"reader{d}@example.org"
        view = DigestView(
            d + 1, d + 1, d + 1, f"Reader {d}", "email", target, "2026-11-23",
            NOW - timedelta(days=1), NOW, ("testing", "fuzzing"), entries, "claimed",
        )  # fmt: skip
        subscription = SubscriptionView(
            d + 1, d + 1, "email", target, "daily", "08:00", "UTC", 0, size, False, True, None
        )  # fmt: skip
        out.append((view, subscription))
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sink(port: int) -> subprocess.Popen[bytes]:
    """aiosmtpd's Sink handler (accepts and discards) in its own process, so it does not share our GIL."""
    command = [
        sys.executable,
        "-m",
        "aiosmtpd",
        "-n",
        "-c",
        "aiosmtpd.handlers.Sink",
        "-l",
        f"127.0.0.1:{port}",
    ]
    sink = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return sink
        except OSError:
            time.sleep(0.05)
    sink.kill()
    raise SystemExit("the aiosmtpd sink did not start")


def timed(run: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) of `run`: the CPU figure leaves out the sink's share
    of the wire and most of what other processes on the machine do to the wall clock."""
    gc.collect()  # each run starts without the previous run's garbage
    start, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--digests", type=int, default=1000)
    parser.add_argument("--papers", type=int, default=10, help="papers per digest")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    port = free_port()
    sink = start_sink(port)
    settings = load_settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False, secret_key="b" * 40)
    links = Links.from_settings(settings)
    work = digests(args.digests, args.papers)
    rendered: list[EmailMessage] = []

    def paperbot() -> None:
        with SmtpSender(settings) as sender:
            for view, subscription in work:
                sender.send(
                    render_email(view, subscription=subscription, settings=settings, now=NOW, links=links)
                )

    def render_only() -> None:
        rendered[:] = [
            render_email(view, subscription=s, settings=settings, now=NOW, links=links) for view, s in work
        ]

    def bare() -> None:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for message in rendered:
                smtp.send_message(message)

    runs = {
        "render + send (paperbot)": paperbot,
        "render only": render_only,
        "send only (bare smtplib)": bare,
    }
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    cpu_seconds: dict[str, list[float]] = {name: [] for name in runs}
    try:
        for _ in range(args.repeat):
            for name, run in runs.items():
                wall, cpu = timed(run)
                seconds[name].append(wall)
                cpu_seconds[name].append(cpu)
            rendered.clear()  # 1,000 live messages would slow the next run's garbage collection
    finally:
        sink.terminate()
        sink.wait(10)

    view, subscription = work[0]
    size = len(
        render_email(view, subscription=subscription, settings=settings, now=NOW, links=links).as_bytes()
    )
    rate = {name: args.digests / min(walls) for name, walls in seconds.items()}
    ratio = rate["render + send (paperbot)"] / rate["send only (bare smtplib)"]
    table = Table(title=f"{args.digests} digests of {args.papers} papers, best of {args.repeat}")
    table.add_column("run")
    table.add_column("best s", justify="right")
    table.add_column("digests/s", justify="right")
    table.add_column("best CPU s (this process)", justify="right")
    for name, walls in seconds.items():
        table.add_row(name, f"{min(walls):.2f}", f"{rate[name]:.0f}", f"{min(cpu_seconds[name]):.2f}")
    console = Console()
    console.print(table)
    verdict = "meets" if ratio >= 0.8 else "MISSES"
    console.print(f"paperbot / bare smtplib = {ratio:.2f} ({verdict} the target of >= 0.8)")
    console.print(f"message size: {size / 1024:.0f} KiB")

    when = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(exist_ok=True)
    report = {
        "benchmark": "email",
        "when": when,
        "args": vars(args),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "load": os.getloadavg(),
        "digests_per_second": rate,
        "ratio_to_bare_smtplib": ratio,
        "message_bytes": size,
    }
    (RESULTS / f"email-{when}.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
