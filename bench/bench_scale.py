"""Benchmark: distributed mode's delivery throughput with 1, 2 and 4 `paperbot worker` processes.

For each worker count: a fresh database on a private PostgreSQL server (tests/pg.py), `--subscribers`
email subscriptions (1-5 interests) over `--listings` archived papers with stored vectors (the same
population as bench_daily_cycle.py, no votes; always_send, as its random vectors match nothing), all
due; `paperbot digest --all-due --defer` queues them
as deliver_chunk jobs of 500; then N real `paperbot worker --queues deliver` processes deliver to an
aiosmtpd sink in its own process that waits `--delay-ms` before answering each DATA (a relay's
latency). Timed from the workers' start to the last digest stored as sent.

Then each worker's memory: its peak RSS (VmHWM) after the deliveries; then `--embed` listings per
worker lose their vectors and go to the same workers as embed_listings jobs (one per worker), so the
model loads, and each worker's peak RSS is read again; both times with whether torch is mapped in.

    .venv/bin/python bench/bench_scale.py [--subscribers 100000] [--workers 1,2,4] [--delay-ms 20]

Prints digests/s per worker count (every digest is a mail through the sink), the scaling efficiency
(rate / (workers x rate of one)) and the workers' peak RSS, and writes
bench/results/scale-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from procrastinate.types import JSONValue
from rich.console import Console
from rich.table import Table
from sqlalchemy import update

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_daily_cycle import populate  # noqa: E402  (the same synthetic population)
from bench_email import free_port  # noqa: E402

from bot.config import Settings, load_settings  # noqa: E402
from bot.schedule.tasks import build_app  # noqa: E402
from storage import models  # noqa: E402
from storage.db import make_engine, session_scope  # noqa: E402
from tests.pg import postgres_bin, running_postgres  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PAPERBOT = str(Path(sys.executable).with_name("paperbot"))

# An SMTP sink that answers each DATA after a delay, in its own process (the relay's latency).
SINK = """
import asyncio, sys
from aiosmtpd.controller import Controller
class Slow:
    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep({delay})
        return "250 OK"
controller = Controller(Slow(), hostname="127.0.0.1", port={port})
controller.start()
print("ready", flush=True)
sys.stdin.read()
"""


def start_sink(port: int, delay: float) -> subprocess.Popen[str]:
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK.format(delay=delay, port=port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
    return sink


def fresh_database(server: str) -> str:
    name = f"scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + f"/{name}"


def settled(url: str) -> int:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        row = conn.execute("SELECT count(*) FROM digest WHERE status IN ('sent', 'empty')").fetchone()
    return int(row[0]) if row else 0


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise SystemExit(f"/proc/{pid}/status has no {field} (is this Linux?)")


def peak_rss_mib(pid: int) -> float:
    """The peak resident set of process `pid` so far (the kernel's high-water mark), in MiB."""
    return _status_kib(pid, "VmHWM") / 1024


def torch_mapped(pid: int) -> bool:
    """Whether process `pid` has loaded torch (its shared library is mapped)."""
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def _sql(url: str, query: str, *params: object) -> int:
    """The first column of the first row, or for a statement without rows the rows it touched."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        cursor = conn.execute(query, params)
        row = cursor.fetchone() if cursor.description else None
    return int(row[0]) if row else cursor.rowcount


# The vectors of the first N listings (listings and vectors are joined by the text's hash).
VECTORS = "FROM embedding WHERE content_hash IN (SELECT content_hash FROM listing WHERE id <= %s)"


def embed_on_workers(url: str, settings: Settings, workers: int, per_worker: int) -> float:
    """Takes the vectors of `workers` x `per_worker` listings and defers one embed_listings job per
    worker; returns the seconds until every vector is back."""
    count = workers * per_worker
    assert _sql(url, "SELECT count(*) FROM listing WHERE id <= %s", count) == count, "listing ids not 1..N"
    assert _sql(url, f"DELETE {VECTORS}", count) == count
    started = time.perf_counter()
    app = build_app(url, settings)
    with app.open():
        for n in range(workers):
            ids: list[JSONValue] = list(range(n * per_worker + 1, (n + 1) * per_worker + 1))
            app.configure_task("embed_listings").defer(listing_ids=ids)
    while _sql(url, f"SELECT count(*) {VECTORS}", count) < count:
        time.sleep(0.5)
    return time.perf_counter() - started


@dataclass(frozen=True)
class Run:
    workers: int
    digests: int
    seconds: float
    peak_rss_mib_after_deliveries: list[float]  # one per worker
    torch_loaded_to_deliver: list[bool]
    embed_seconds: float
    peak_rss_mib_after_embedding: list[float]
    torch_loaded: list[bool]

    @property
    def per_second(self) -> float:
        return self.digests / self.seconds


def run(server: str, args: argparse.Namespace, workers: int, data: Path) -> Run:
    url = fresh_database(server)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_") and k != "DATABASE_URL"}
    port = free_port()
    env |= {
        "DATABASE_URL": url,
        "PAPERBOT_DATA_DIR": str(data / f"w{workers}"),
        "PAPERBOT_SMTP_HOST": "127.0.0.1",
        "PAPERBOT_SMTP_PORT": str(port),
        "PAPERBOT_SMTP_STARTTLS": "false",
        "OMP_NUM_THREADS": "1",
    }
    settings = load_settings(database_url=url, data_dir=data / f"w{workers}")
    populate(settings, args.subscribers, args.listings, seed=7)
    engine = make_engine(settings.db_url)
    with session_scope(engine) as session:  # due now: created two days ago, not planned yet
        created = datetime.now(UTC) - timedelta(days=2)
        # always_send: the synthetic vectors put no paper above the similarity floor, so without it
        # every digest settled "empty" with no mail and the relay was never reached (the first runs
        # measured that); with it each subscriber gets the short "nothing new" mail through the sink.
        session.connection().execute(
            update(models.Subscription).values(created_at=created, next_due_at=None, always_send=True)
        )
    engine.dispose()
    queued = subprocess.run(
        [PAPERBOT, "digest", "--all-due", "--defer", "--json"], env=env, capture_output=True, text=True
    )
    assert queued.returncode == 0, queued.stderr
    sink = start_sink(port, args.delay_ms / 1000)
    logs = [(data / f"worker-{workers}-{n}.log").open("wb") for n in range(workers)]
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [PAPERBOT, "worker", "--queues", "deliver,default,embed"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    try:
        while (done := settled(url)) < args.subscribers:
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"a worker exited; see {data}")
            time.sleep(0.5)
        seconds = time.perf_counter() - started
        delivered_rss = [peak_rss_mib(p.pid) for p in procs]
        torch_delivering = [torch_mapped(p.pid) for p in procs]
        embed_seconds = embed_on_workers(url, settings, workers, args.embed) if args.embed else 0.0
        embedded_rss = [peak_rss_mib(p.pid) for p in procs]
        torch = [torch_mapped(p.pid) for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(60)
        assert sink.stdin is not None
        sink.stdin.close()
        sink.wait(10)
    return Run(workers, done, seconds, delivered_rss, torch_delivering, embed_seconds, embedded_rss, torch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--listings", type=int, default=2_000)
    parser.add_argument("--workers", default="1,2,4", help="comma-separated worker counts")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="the sink's delay per message")
    parser.add_argument(
        "--embed", type=int, default=500, help="listings each worker re-embeds after delivering (0: none)"
    )
    args = parser.parse_args()
    bindir = postgres_bin()
    if bindir is None:
        raise SystemExit("needs PostgreSQL server binaries (apt-get install postgresql)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp, running_postgres(bindir) as server:
        for count in (int(n) for n in args.workers.split(",")):
            rows.append(run(server, args, count, Path(tmp)))
            Console().print(asdict(rows[-1]))
    one = rows[0].per_second / rows[0].workers
    table = Table(
        "workers",
        "digests (each a mail)",
        "seconds",
        "digests/s",
        "scaling efficiency",
        "peak RSS MiB, delivering (torch)",
        "then embedding (torch)",
    )
    for row in rows:
        table.add_row(
            str(row.workers),
            str(row.digests),
            f"{row.seconds:.1f}",
            f"{row.per_second:.1f}",
            f"{row.per_second / (row.workers * one):.2f}",
            ", ".join(
                f"{mib:.0f} ({'yes' if torch else 'no'})"
                for mib, torch in zip(
                    row.peak_rss_mib_after_deliveries, row.torch_loaded_to_deliver, strict=True
                )
            ),
            ", ".join(
                f"{mib:.0f} ({'yes' if torch else 'no'})"
                for mib, torch in zip(row.peak_rss_mib_after_embedding, row.torch_loaded, strict=True)
            ),
        )
    Console().print(table)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "args": vars(args),
        "cpus": os.cpu_count(),
        "load": os.getloadavg(),
        "python": platform.python_version(),
        "rows": [
            asdict(row) | {"per_second": row.per_second, "efficiency": row.per_second / (row.workers * one)}
            for row in rows
        ],
    }
    (RESULTS / f"scale-{stamp}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
