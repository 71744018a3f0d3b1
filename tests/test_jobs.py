"""Job runs: the log line, metrics, and a shutdown that waits for running jobs, but not forever."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from bot.metrics import Metrics
from bot.schedule.jobs import JobRunner, job_line


def test_job_line_leaves_out_none_and_quotes_values_with_spaces() -> None:
    fields = {"subscription": 12, "period": "2026-11-23", "status": "retry", "error": 'said "try later"'}
    line = job_line("digest", {**fields, "location": None}, 0.4124)
    expected = 'job=digest subscription=12 period=2026-11-23 status=retry error="said \\"try later\\""'
    assert line == expected + " duration_ms=412"


def test_a_failing_job_is_logged_and_counted_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    with caplog.at_level(logging.INFO, logger="paperbot.scheduler"):
        JobRunner(metrics).run("ingest", lambda: {"sources": 1 // 0})
    assert "job ingest failed" in caplog.text and "ZeroDivisionError" in caplog.text
    assert "job=ingest status=error error=" in caplog.text
    counted = {
        s.labels: s.value for f in metrics.families() if f.name == "paperbot_jobs_total" for s in f.samples
    }
    assert counted == {(("job", "ingest"), ("outcome", "error")): 1.0}


def test_stop_waits_for_a_running_job_but_not_forever() -> None:
    runner, release = JobRunner(Metrics()), threading.Event()

    def slow() -> dict[str, object]:
        release.wait(10)
        return {}

    worker = threading.Thread(target=runner.run, args=("digest", slow))
    worker.start()
    deadline = time.monotonic() + 5
    while runner.running == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runner.stop(0.05) is False  # still sending: the caller decides what to do
    runner.run("ingest", lambda: pytest.fail("a stopped runner starts no job"))
    release.set()
    assert runner.stop(5) is True
    worker.join()
