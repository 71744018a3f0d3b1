"""APScheduler 3.11 in the background of `paperbot serve` (embedded mode): the digest tick, ingest,
housekeeping.

The database is the source of truth and holds the schedule (`subscription.next_due_at`); the jobs are
fixed and few, so a subscription added or changed by any process (CLI, Slack, web) is seen by the next
tick without any syncing. Jobs:

    tick          every minute: the due subscriptions, delivered here in chunks of at most 500
                  (`bot.digests.tick`: the same logic distributed mode runs on procrastinate workers,
                  with the catch-up policy and what happens on DST days)
    startup       once on becoming leader: ingest (when sources are configured), then a tick
    ingest        every 60 min over the configured sources
    housekeeping  daily 03:30 UTC: retention and index compaction (`bot.schedule.housekeeping`)
    leader        every 15 s: a follower tries the lock; the leader checks it still holds it

Only the process holding the leader lock (`bot.schedule.leader`) schedules; the others serve the web only and
take over when the leader dies. Job defaults follow the integration notes: a late run is still run
within an hour (APScheduler's default grace of 1 s silently drops it), runs that piled up coalesce into
one, and a job never overlaps itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.exc import SQLAlchemyError

from bot.digests.tick import RETRY, deliver_chunk, recover, tick
from bot.metrics import Metrics
from bot.records import DigestResult
from bot.schedule.housekeeping import forget_slack_events, prune
from bot.schedule.jobs import JobRunner, job_line
from bot.schedule.leader import LeaderLock, leader_lock
from bot.service import Paperbot
from bot.vocab import SchedulerState

__all__ = ["Scheduler", "SchedulerConfig", "SchedulerInfo", "JOB_DEFAULTS", "FOLLOWER_MESSAGE"]

log = logging.getLogger("paperbot.scheduler")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


JOB_DEFAULTS = {"misfire_grace_time": 3600, "coalesce": True, "max_instances": 1}
FOLLOWER_MESSAGE = "another paperbot serve holds the scheduler lock; serving web only"


@dataclass(frozen=True)
class SchedulerConfig:
    ingest_every: timedelta = timedelta(minutes=60)
    retry_after: timedelta = RETRY  # how soon an unsettled digest (temporary failure) is tried again
    lock_retry: timedelta = timedelta(seconds=15)
    housekeeping_at: str = "03:30"  # UTC
    retention: timedelta = timedelta(days=90)  # must exceed the longest digest window (a week)
    drain_timeout: float = 30.0  # seconds a shutdown waits for running digests
    workers: int = 4


@dataclass(frozen=True)
class SchedulerInfo:
    state: SchedulerState  # disabled: serve --no-schedule
    lock: str
    since: datetime | None  # when this process became leader
    last_tick_at: datetime | None
    running_jobs: int
    last_ingest_at: datetime | None
    last_ingest_error: str | None


class Scheduler:
    """Leader election plus the jobs; `start()` returns at once, `stop()` drains running jobs."""

    def __init__(
        self,
        bot: Paperbot,
        *,
        config: SchedulerConfig | None = None,
        lock: LeaderLock | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: Metrics | None = None,
    ) -> None:
        self.bot = bot
        self.config = config or SchedulerConfig()
        self.lock = lock or leader_lock(bot.engine, bot.settings.data_dir)
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.state: SchedulerState = "stopped"
        self._aps = BackgroundScheduler(
            timezone=UTC,
            job_defaults=JOB_DEFAULTS,
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(self.config.workers)},
        )
        self._mutex = threading.RLock()  # state changes
        self._jobs = JobRunner(self.metrics)
        self._since: datetime | None = None
        self._last_ingest: tuple[datetime | None, str | None] = (None, None)
        self._last_tick: datetime | None = None

    # ---- life cycle --------------------------------------------------------------------------

    def start(self, *, paused: bool = False) -> None:
        """Try to lead now, then re-check every `lock_retry`. `paused` (tests) never fires a job."""
        self._aps.start(paused=paused)
        self.check_leader()
        self._aps.add_job(
            self.check_leader, "interval", seconds=self.config.lock_retry.total_seconds(), id="leader"
        )

    def disable(self) -> None:
        """`serve --no-schedule`: this process never schedules (health says so)."""
        self.state = "disabled"

    def stop(self, timeout: float | None = None) -> bool:
        """Take no new jobs, wait up to `timeout` s for running ones, release the lock. True if drained."""
        limit = self.config.drain_timeout if timeout is None else timeout
        self._jobs.stopping.set()
        if self._aps.running:
            self._aps.shutdown(wait=False)
        drained = self._jobs.stop(limit)
        if not drained:
            running = self._jobs.running
            log.warning("%d job(s) still running after %g s; the next start resumes them", running, limit)
        with self._mutex:  # not while a concurrent check_leader is taking the lock
            self.lock.release()
            if self.state != "disabled":
                self.state = "stopped"
        log.info("scheduler stopped; leader lock released")
        return drained

    def info(self) -> SchedulerInfo:
        return SchedulerInfo(
            state=self.state,
            lock=self.lock.description,
            since=self._since,
            last_tick_at=self._last_tick,
            running_jobs=self._jobs.running,
            last_ingest_at=self._last_ingest[0],
            last_ingest_error=self._last_ingest[1],
        )

    def check_leader(self) -> None:
        """The `leader` job: a follower tries the lock, a leader makes sure it still holds it."""
        with self._mutex:
            if self._jobs.stopping.is_set():
                return
            try:
                self._check_leader()
            except SQLAlchemyError as exc:  # database down: stand by, the next check tries again
                retry = self.config.lock_retry.total_seconds()
                log.error(
                    "scheduler cannot reach the database (%s); retrying in %g s", _first_line(exc), retry
                )
                self._demote()
                self.lock.release()

    def _check_leader(self) -> None:
        if self.state == "leader":
            if not self.lock.still_held():
                log.error("lost the scheduler lock (%s); standing by as follower", self.lock.description)
                self._demote()
        elif self.lock.try_acquire():
            self._promote()
        elif self.state != "follower":
            self.state = "follower"
            retry = self.config.lock_retry.total_seconds()
            log.warning("%s (retrying every %g s)", FOLLOWER_MESSAGE, retry)

    def _promote(self) -> None:
        now = self.clock()
        self.state, self._since = "leader", now
        log.info("scheduler leader (%s)", self.lock.description)
        # A new leader knows no other scheduler runs: what a dead process left is taken up by the first tick.
        if count := recover(self.bot, now=now):
            log.warning("job=recover interrupted_digests=%d (sent again now, same Message-ID)", count)
        c = self.config
        hour, minute = (int(part) for part in c.housekeeping_at.split(":"))
        self._aps.add_job(self.startup, id="startup", replace_existing=True)
        # At the start of every minute: send times are whole minutes, so a digest goes out on time.
        self._aps.add_job(self.tick, CronTrigger(second=0, timezone=UTC), id="tick")
        self._aps.add_job(self.ingest, "interval", seconds=c.ingest_every.total_seconds(), id="ingest")
        daily = CronTrigger(hour=hour, minute=minute, timezone=UTC)
        self._aps.add_job(self.housekeeping, daily, id="housekeeping")

    def _demote(self) -> None:
        for job in self._aps.get_jobs():
            if job.id != "leader":
                job.remove()
        self.state, self._since = "follower", None

    # ---- jobs ----------------------------------------------------------------------------------

    def _digest_done(self, result: DigestResult, seconds: float) -> None:
        self.metrics.inc("paperbot_digests_total", status=result.status)
        self.metrics.observe("digest", seconds)
        fields = {
            "subscription": result.subscription_id,
            "period": result.period,
            "status": result.status,
            "items": result.items,
            "error": result.error,
        }
        log.info(job_line("digest", fields, seconds))

    def tick(self) -> None:
        """The due subscriptions (`bot.digests.tick`), delivered here chunk by chunk; each digest gets its
        own log line, and a shutdown waits for the digest being sent at most."""

        def deliver(chunk: tuple[int, ...]) -> None:
            if self._jobs.stopping.is_set():
                return  # left to the next leader: these come due again when their hand-off lease ends
            results.extend(
                deliver_chunk(
                    self.bot,
                    chunk,
                    now=self.clock(),
                    retry=self.config.retry_after,
                    on_result=self._digest_done,
                    stopping=self._jobs.stopping.is_set,
                )
            )

        def work() -> dict[str, object]:
            now = self.clock()
            due = tick(self.bot, now=now, hand_on=deliver)
            self._last_tick = now
            return {"due": due, "sent": sum(r.status == "sent" for r in results)}

        results: list[DigestResult] = []
        self._jobs.run("tick", work)

    def ingest(self) -> None:
        def work() -> dict[str, object]:
            if not self.bot.configured_sources():
                return {"sources": 0, "status": "no sources configured (paperbot sources add)"}
            now = self.clock()
            try:
                report = self.bot.ingest(now=now)
            except Exception as exc:
                self._last_ingest = (now, repr(exc))
                raise
            failed = [r for r in report.sources if r.status == "failed"]
            self._last_ingest = (now, "; ".join(f"{r.source}: {r.error}" for r in failed) or None)
            self.metrics.inc("paperbot_listings_ingested_total", report.totals["new"])
            return {"sources": len(report.sources), **report.totals, "embedded": report.embedded}

        self._jobs.run("ingest", work)

    def startup(self) -> None:
        """First job of a new leader: fresh papers first, so the catch-up digests include them."""
        self.ingest()
        self.tick()

    def housekeeping(self) -> None:
        def work() -> dict[str, object]:
            now = self.clock()
            report = prune(self.bot, before=now - self.config.retention)
            events = forget_slack_events(self.bot, now=now)
            return {
                "listings": report.listings,
                "vectors": report.vectors,
                "indexed": report.indexed,
                "slack_events": events,
            }

        self._jobs.run("housekeeping", work)
