"""APScheduler 3.11 in the background of `paperbot serve`: digests, ingest, retry sweep, housekeeping.

The database is the source of truth; jobs live in memory and are rebuilt from it when this process
becomes leader and whenever subscriptions change (`sync()` diffs, and runs every minute to see changes
made by other processes such as the CLI). Jobs:

    digest:<id>   one CronTrigger per active subscription, in its own time zone (`bot.schedule.triggers`,
                  which also says what happens on DST days)
    startup       once on becoming leader: ingest (when sources are configured), then the sweep
    sweep         every 5 min: missed and retryable digests (policy in `bot.schedule.catchup`)
    ingest        every 60 min over the configured sources
    housekeeping  daily 03:30 UTC: retention and index compaction (`bot.schedule.housekeeping`)
    sync          every minute: subscription changes from other processes
    leader        every 15 s: a follower tries the lock; the leader checks it still holds it

Only the process holding the leader lock (`bot.schedule.leader`) schedules; the others serve the web only and
take over when the leader dies. Job defaults follow the integration notes: a late run is still run
within an hour (APScheduler's default grace of 1 s silently drops it), runs that piled up coalesce into
one, and a job never overlaps itself.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.exc import SQLAlchemyError

from bot.digests.run import run_digest
from bot.metrics import Metrics
from bot.records import DigestResult
from bot.schedule.catchup import catch_up, release_interrupted
from bot.schedule.housekeeping import forget_slack_events, prune
from bot.schedule.jobs import JobRunner, job_line
from bot.schedule.leader import LeaderLock, leader_lock
from bot.schedule.triggers import signature, trigger_for
from bot.service import Paperbot
from bot.vocab import SchedulerState

__all__ = ["Scheduler", "SchedulerConfig", "SchedulerInfo", "SyncReport", "JOB_DEFAULTS", "FOLLOWER_MESSAGE"]

log = logging.getLogger("paperbot.scheduler")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


JOB_DEFAULTS = {"misfire_grace_time": 3600, "coalesce": True, "max_instances": 1}
FOLLOWER_MESSAGE = "another paperbot serve holds the scheduler lock; serving web only"


@dataclass(frozen=True)
class SchedulerConfig:
    ingest_every: timedelta = timedelta(minutes=60)
    sweep_every: timedelta = timedelta(minutes=5)
    sync_every: timedelta = timedelta(minutes=1)
    lock_retry: timedelta = timedelta(seconds=15)
    housekeeping_at: str = "03:30"  # UTC
    retention: timedelta = timedelta(days=90)  # must exceed the longest digest window (a week)
    drain_timeout: float = 30.0  # seconds a shutdown waits for running digests
    workers: int = 4


@dataclass(frozen=True)
class SyncReport:
    added: tuple[int, ...] = ()
    changed: tuple[int, ...] = ()
    removed: tuple[int, ...] = ()


@dataclass(frozen=True)
class SchedulerInfo:
    state: SchedulerState  # disabled: serve --no-schedule
    lock: str
    since: datetime | None  # when this process became leader
    digest_jobs: int
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
        self._planned: dict[int, tuple[str, str, str, int]] = {}
        self._mutex = threading.RLock()  # state changes and sync
        self._jobs = JobRunner(self.metrics)
        self._since: datetime | None = None
        self._last_ingest: tuple[datetime | None, str | None] = (None, None)

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
            digest_jobs=len(self._planned),
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
        release_interrupted(self.bot, before=now)
        c = self.config
        hour, minute = (int(part) for part in c.housekeeping_at.split(":"))
        self._aps.add_job(self.startup, id="startup", replace_existing=True)
        self._aps.add_job(self.sweep, "interval", seconds=c.sweep_every.total_seconds(), id="sweep")
        self._aps.add_job(self.ingest, "interval", seconds=c.ingest_every.total_seconds(), id="ingest")
        self._aps.add_job(self.sync, "interval", seconds=c.sync_every.total_seconds(), id="sync")
        daily = CronTrigger(hour=hour, minute=minute, timezone=UTC)
        self._aps.add_job(self.housekeeping, daily, id="housekeeping")
        self.sync()

    def _demote(self) -> None:
        for job in self._aps.get_jobs():
            if job.id != "leader":
                job.remove()
        self._planned = {}
        self.state, self._since = "follower", None

    # ---- subscriptions -------------------------------------------------------------------------

    def sync(self) -> SyncReport:
        """Bring the digest jobs in line with the active subscriptions in the database."""
        with self._mutex:
            if self.state != "leader":
                return SyncReport()
            wanted = {s.id: s for s in self.bot.subscriptions(active_only=True)}
            removed = tuple(sorted(set(self._planned) - set(wanted)))
            for sub_id in removed:
                with contextlib.suppress(JobLookupError):  # never added, or removed by a stop
                    self._aps.remove_job(f"digest:{sub_id}")
            added: list[int] = []
            changed: list[int] = []
            for sub_id, sub in wanted.items():
                if self._planned.get(sub_id) == signature(sub):
                    continue
                (changed if sub_id in self._planned else added).append(sub_id)
                self._aps.add_job(
                    self.digest, trigger_for(sub), args=[sub_id], id=f"digest:{sub_id}", replace_existing=True
                )
            self._planned = {sub_id: signature(sub) for sub_id, sub in wanted.items()}
        report = SyncReport(tuple(added), tuple(changed), removed)
        if added or changed or removed:
            log.info("job=sync added=%d changed=%d removed=%d", len(added), len(changed), len(removed))
        return report

    def digest_triggers(self) -> dict[int, CronTrigger]:
        """The trigger of each scheduled digest job, by subscription id."""
        return {
            int(job.id.split(":", 1)[1]): job.trigger
            for job in self._aps.get_jobs()
            if job.id.startswith("digest:")
        }

    # ---- jobs ----------------------------------------------------------------------------------

    def _count(self, result: DigestResult) -> dict[str, object]:
        self.metrics.inc("paperbot_digests_total", status=result.status)
        return {
            "subscription": result.subscription_id,
            "period": result.period,
            "status": result.status,
            "items": result.items,
            "error": result.error,
        }

    def digest(self, subscription_id: int) -> None:
        """The cron job of one subscription: its latest due digest (a repeat fire is a no-op)."""
        self._jobs.run(
            "digest",
            lambda: self._count(run_digest(self.bot, subscription_id=subscription_id, now=self.clock())),
        )

    def sweep(self) -> None:
        """Missed and retryable digests (`bot.schedule.catchup`); each digest also gets its own log line."""

        def one(result: DigestResult, seconds: float) -> None:
            self.metrics.observe("digest", seconds)
            log.info(job_line("digest", {**self._count(result), "trigger": "sweep"}, seconds))

        def work() -> dict[str, object]:
            results = catch_up(self.bot, now=self.clock, stop=self._jobs.stopping, on_result=one)
            return {"digests": len(results), "sent": sum(r.status == "sent" for r in results)}

        self._jobs.run("sweep", work)

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
        self.sweep()

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
