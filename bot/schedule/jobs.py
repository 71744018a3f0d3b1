"""Running scheduler jobs: timing, one log line and metrics per run, and a count of running jobs so a
shutdown can wait for them.

    job=digest subscription=12 period=2026-11-23 status=sent items=7 duration_ms=412
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from bot.metrics import Metrics

__all__ = ["JobRunner", "job_line"]

log = logging.getLogger("paperbot.scheduler")


def job_line(job: str, fields: Mapping[str, object], seconds: float) -> str:
    """`job=NAME key=value ... duration_ms=N`; None values are left out, values with spaces quoted."""
    parts = [f"job={job}"]
    for key, value in fields.items():
        if value is None:
            continue
        text = str(value)
        quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        parts.append(f"{key}={quoted}" if (" " in text or not text or "\n" in text) else f"{key}={text}")
    parts.append(f"duration_ms={round(seconds * 1000)}")
    return " ".join(parts)


class JobRunner:
    """Runs jobs unless stopped; a failing job is logged with its traceback and counted, never raised
    into APScheduler (which would only log it without our fields)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.stopping = threading.Event()
        self._idle = threading.Condition()
        self.running = 0

    def run(self, name: str, work: Callable[[], Mapping[str, object]]) -> None:
        if self.stopping.is_set():
            return
        with self._idle:
            self.running += 1
        started, outcome = time.perf_counter(), "ok"
        fields: dict[str, object] = {}
        try:
            fields = dict(work())
        except Exception as exc:
            outcome, fields = "error", {"status": "error", "error": repr(exc)}
            log.exception("job %s failed", name)
        finally:
            seconds = time.perf_counter() - started
            self.metrics.observe(name, seconds)
            self.metrics.inc("paperbot_jobs_total", job=name, outcome=outcome)
            log.info(job_line(name, fields, seconds))
            with self._idle:
                self.running -= 1
                self._idle.notify_all()

    def stop(self, timeout: float) -> bool:
        """Refuse new runs and wait up to `timeout` s for running ones; True when none is left."""
        self.stopping.set()
        with self._idle:
            return self._idle.wait_for(lambda: self.running == 0, timeout=timeout)
