"""In-process counters and job timings, written in the Prometheus text format (version 0.0.4).

The format is a few lines of text, so paperbot writes it itself rather than depend on
prometheus_client. Counters here count what *this process* did; totals that every process shares
(digests by status, votes, listings) are read from the database at scrape time by `bot.server.ops`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Metrics", "Sample", "Family", "render", "BUCKETS"]

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)  # seconds; digests to ingests
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Labels
    value: float


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # counter | gauge | histogram
    help: str
    samples: tuple[Sample, ...]


_COUNTERS = {
    "paperbot_listings_ingested_total": "New listings stored by this process's ingest jobs.",
    "paperbot_digests_total": "Digest runs of this process by outcome (sent, empty, failed, retry, skipped).",
    "paperbot_jobs_total": "Scheduler job runs of this process by job and outcome (ok, error).",
}
_DURATION = "paperbot_job_duration_seconds"


class Metrics:
    """Thread-safe counters and one duration histogram per job name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = {name: {} for name in _COUNTERS}
        self._hist: dict[str, list[float]] = {}  # job -> bucket counts..., sum, count

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        if name not in self._counters:
            raise KeyError(f"unknown counter {name!r}; add it to bot.metrics._COUNTERS with its help text")
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._counters[name]
            series[key] = series.get(key, 0.0) + amount

    def observe(self, job: str, seconds: float) -> None:
        with self._lock:
            row = self._hist.setdefault(job, [0.0] * (len(BUCKETS) + 2))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    row[i] += 1
            row[-2] += seconds
            row[-1] += 1

    def families(self) -> list[Family]:
        with self._lock:
            counters = {name: dict(series) for name, series in self._counters.items()}
            hist = {job: list(row) for job, row in self._hist.items()}
        result = [
            Family(name, "counter", help_text, tuple(Sample(name, k, v) for k, v in sorted(series.items())))
            for (name, help_text), series in zip(_COUNTERS.items(), counters.values(), strict=True)
        ]
        samples: list[Sample] = []
        for job, row in sorted(hist.items()):
            for bound, count in zip((*BUCKETS, math.inf), (*row[: len(BUCKETS)], row[-1]), strict=True):
                le = "+Inf" if bound == math.inf else repr(bound)
                samples.append(Sample(f"{_DURATION}_bucket", (("job", job), ("le", le)), count))
            samples.append(Sample(f"{_DURATION}_sum", (("job", job),), row[-2]))
            samples.append(Sample(f"{_DURATION}_count", (("job", job),), row[-1]))
        result.append(Family(_DURATION, "histogram", "Scheduler job run time by job.", tuple(samples)))
        return result


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value == int(value) else repr(value)


def render(families: Iterable[Family]) -> str:
    """The exposition text: HELP and TYPE for each family, then its samples."""
    lines = []
    for family in families:
        lines.append(f"# HELP {family.name} {family.help}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for sample in family.samples:
            labels = ",".join(f'{key}="{_escape(val)}"' for key, val in sample.labels)
            lines.append(
                f"{sample.name}{{{labels}}} {_value(sample.value)}"
                if labels
                else f"{sample.name} {_value(sample.value)}"
            )
    return "\n".join(lines) + "\n"
