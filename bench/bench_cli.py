"""Benchmark: how long the everyday `paperbot` commands take, as a user runs them.

Each command runs as its own `paperbot` process (the console script beside this Python) on a data
dir holding the bundled sample (321 papers, stored without vectors: none of these commands needs
them), one configured source, and a subscriber with one interest and one vote. The setup's first
interest makes the one-time ONNX export, so `profile add-interest` is timed "after the first use".

Every command runs once untimed (it writes the bytecode cache, as an installed paperbot has one),
then N timed rounds, the commands taking turns. Wall time and peak RSS are the process's own
(`os.wait4`); the table shows the median of N. Targets: < 0.5 s for the reading commands and the
vote, < 2 s and < 300 MB for `profile add-interest`.

    .venv/bin/python bench/bench_cli.py [--rounds 5] [--baseline ../other-checkout]

With --baseline, each command also runs on another checkout's code (PYTHONPATH, same data dir),
in turn with this one, so that both see the same machine load.

Prints a table with the load average before and after, and writes bench/results/cli-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_S = 0.5
ADD_INTEREST_TARGET_S = 2.0
ADD_INTEREST_TARGET_MB = 300.0


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float


@dataclass(frozen=True)
class Row:
    code: str  # "this checkout" or the baseline's path
    command: str
    median_s: float
    min_s: float
    max_s: float
    median_cpu_s: float
    peak_rss_mb: float
    target_s: float
    target_mb: float | None

    @property
    def met(self) -> bool:
        fast = self.median_s < self.target_s
        return fast and (self.target_mb is None or self.peak_rss_mb < self.target_mb)


def paperbot_command() -> list[str]:
    """The installed console script if there is one, else the module (same code either way)."""
    script = Path(sys.executable).with_name("paperbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def run(args: list[str], env: dict[str, str]) -> tuple[Run, str]:
    """One process: its wall time, CPU time and peak RSS, and its stdout. Fails loudly on exit != 0."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([*paperbot_command(), *args], env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"paperbot {' '.join(args)} failed ({process.returncode}): {stderr.strip()}")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall_s=wall, cpu_s=cpu, peak_rss_mb=usage.ru_maxrss / 1024), stdout


def prepare(env: dict[str, str]) -> tuple[int, float]:
    """The data dir for the commands; returns a listing id to vote on and the first interest's time
    (it includes the one-time ONNX export)."""
    run(["ingest", "--sample", "--no-embed"], env)
    run(["sources", "add", "arxiv:cs.LG"], env)
    first, _ = run(["subscribe", "--email", "bench@example.org", "--interest", "protein design"], env)
    _, listed = run(["listings", "--limit", "1", "--json"], env)
    listing = int(json.loads(listed)[0]["id"])
    run(["feedback", "1", str(listing), "save"], env)
    return listing, first.wall_s


def commands(listing: int) -> dict[str, list[str]]:
    return {
        "status": ["status"],
        "listings --limit 20": ["listings", "--limit", "20"],
        "sources list": ["sources", "list"],
        "profile show 1": ["profile", "show", "1"],
        "feedback 1 ID up": ["feedback", "1", str(listing), "up"],
        "profile add-interest 1 TEXT": ["profile", "add-interest", "1", "TEXT"],
    }


def measure(rounds: int, envs: dict[str, dict[str, str]], listing: int) -> list[Row]:
    runs: dict[tuple[str, str], list[Run]] = {(c, name): [] for c in envs for name in commands(listing)}
    for n in range(rounds + 1):  # round 0 warms up: bytecode cache, page cache
        for name, args in commands(listing).items():
            for code, env in envs.items():
                # a new text each time, so every run embeds (a stored one would be reused)
                text = f"graph neural networks for molecules {code} {n}"
                timed, _ = run([text if a == "TEXT" else a for a in args], env)
                if n:
                    runs[code, name].append(timed)
    rows = []
    for (code, name), timings in runs.items():
        walls = [t.wall_s for t in timings]
        adding = name.startswith("profile add-interest")
        rows.append(
            Row(
                code=code,
                command=name,
                median_s=statistics.median(walls),
                min_s=min(walls),
                max_s=max(walls),
                median_cpu_s=statistics.median(t.cpu_s for t in timings),
                peak_rss_mb=max(t.peak_rss_mb for t in timings),
                target_s=ADD_INTEREST_TARGET_S if adding else TARGET_S,
                target_mb=ADD_INTEREST_TARGET_MB if adding else None,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", "-r", type=int, default=5, help="timed runs of each command (median)")
    parser.add_argument("--baseline", type=Path, help="another checkout to time in turn with this one")
    options = parser.parse_args()

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_") and k != "DATABASE_URL"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed paperbot has its bytecode cached
        env["PAPERBOT_DATA_DIR"] = str(Path(tmp) / "data")
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])  # this checkout's code
        listing, first_interest_s = prepare(env)
        envs = {"this checkout": env}
        if options.baseline:
            envs[str(options.baseline)] = {**env, "PYTHONPATH": str(options.baseline.resolve())}
        rows = measure(options.rounds, envs, listing)
    load_after = os.getloadavg()

    from rich.console import Console
    from rich.table import Table

    table = Table(
        "code",
        "command",
        "median s",
        "min s",
        "max s",
        "median CPU s",
        "peak RSS MB",
        "target",
        "met",
        title=f"paperbot commands, median of {options.rounds} (load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after)",
    )
    for r in rows:
        target = f"< {r.target_s:g} s" + (f", < {r.target_mb:g} MB" if r.target_mb else "")
        table.add_row(
            r.code,
            r.command,
            f"{r.median_s:.3f}",
            f"{r.min_s:.3f}",
            f"{r.max_s:.3f}",
            f"{r.median_cpu_s:.3f}",
            f"{r.peak_rss_mb:.0f}",
            target,
            "yes" if r.met else "NO",
        )
    console = Console(width=150)
    console.print(table)
    console.print(f"first interest of the data dir (one-time ONNX export included): {first_interest_s:.1f} s")

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "rounds": options.rounds,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "first_interest_s": first_interest_s,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "rows": [{**asdict(r), "met": r.met} for r in rows],
    }
    path = RESULTS / f"cli-{stamp}.json"
    path.write_text(json.dumps(report, indent=2))
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
