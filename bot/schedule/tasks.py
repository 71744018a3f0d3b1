"""Distributed mode (DATABASE_URL is PostgreSQL): procrastinate tasks run by `paperbot worker` processes.

    tick            every minute; periodic tasks are deduplicated in the database, so every worker carries
                    the schedule and it still runs once: defers the due subscriptions as deliver_chunk jobs
                    (`bot.digests.tick`, the same logic embedded mode runs in-process)
    deliver_chunk   queue "deliver": at most 500 subscriptions; one pool, one FAISS search, then claim,
                    render and send each. Slack subscriptions go on to post_slack
    post_slack      queue "slack", lock "slack:workspace": one installation posts with one bot token, so
                    one workspace, whose posts never overlap (Slack's per-workspace rate limits)
    ingest          every PAPERBOT_INGEST_INTERVAL_MINUTES: one ingest_source job per configured source
    ingest_source   queue "embed" (the model is loaded there): fetch, store and embed one source
    embed_listings  queue "embed": at most 500 stored listings without a vector, embedded and indexed
    embed_interest  queue "embed": a subscriber's interests without a vector (added on the web tier,
                    which defers this instead of loading the model)
    housekeeping    daily 03:30 UTC: retention and index compaction
    retry_stalled   every minute (more often when PAPERBOT_WORKER_STALLED_SECONDS is under two minutes):
                    the jobs of a worker whose heartbeat stopped (killed, machine lost) are queued again;
                    a retried deliver_chunk takes over the claims of its earlier attempt

Exactly once stays in the database: every digest goes through the unique (subscription, period) claim,
so a job run twice sends nothing twice; the one window no queue closes (the relay accepted, the outcome
not yet stored) re-sends with the same Message-ID. Each worker process builds one Paperbot on first use,
so the model loads once per process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from procrastinate import App, JobContext, PsycopgConnector
from sqlalchemy.engine import make_url

from bot.config import Settings, load_settings
from bot.digests.run import CHUNK
from bot.digests.tick import deliver_chunk as deliver
from bot.digests.tick import tick as select_due
from bot.records import DigestResult, JobRef
from bot.schedule.housekeeping import forget_slack_events, prune
from bot.schedule.jobs import job_line
from bot.service import Paperbot

__all__ = [
    "build_app",
    "conninfo",
    "defer_due",
    "interest_embedder",
    "retry_stalled_cron",
    "heartbeat_seconds",
    "QUEUES",
    "TASKS",
]

log = logging.getLogger("paperbot.worker")

QUEUES = ("deliver", "slack", "embed", "default")
TASKS = (
    "tick",
    "deliver_chunk",
    "post_slack",
    "ingest",
    "ingest_source",
    "embed_listings",
    "embed_interest",
    "housekeeping",
    "retry_stalled",
)

_bot: Paperbot | None = None
_bot_lock = threading.Lock()


def _paperbot() -> Paperbot:
    """This process's Paperbot, built on first use (the model with it, once per worker process)."""
    global _bot
    with _bot_lock:
        if _bot is None:
            _bot = Paperbot(load_settings())
        return _bot


def conninfo(database_url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (postgresql+psycopg://...)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _now(at: str | None) -> datetime:
    """When a job runs: the wall clock, or the instant it was handed on if that is later. A claim then
    always carries the time it was really made (or later), never an older one that would make it look
    abandoned to a concurrent run; tests pass future instants to replay a whole day."""
    wall = datetime.now(UTC)
    return max(wall, datetime.fromisoformat(at)) if at else wall


@contextmanager
def _timed(name: str) -> Iterator[dict[str, object]]:
    """One `job=NAME key=value ... duration_ms=N` line per task run; the task fills in the fields. A
    failure is logged and raised, so procrastinate records the job as failed (`paperbot status`)."""
    fields: dict[str, object] = {}
    started = time.perf_counter()
    try:
        yield fields
    except Exception as exc:
        fields.update(status="error", error=repr(exc))
        raise
    finally:
        log.info(job_line(name, fields, time.perf_counter() - started))


def _log(result: DigestResult, seconds: float) -> None:
    fields = {
        "subscription": result.subscription_id,
        "period": result.period,
        "status": result.status,
        "items": result.items,
        "error": result.error,
    }
    log.info(job_line("digest", fields, seconds))


def defer_due(app: App, bot: Paperbot, *, now: datetime, size: int) -> int:
    """The tick of distributed mode: the due subscriptions as deliver_chunk jobs of at most `size`."""

    def hand_on(chunk: tuple[int, ...]) -> None:
        app.configure_task("deliver_chunk").defer(subscription_ids=list(chunk), at=now.isoformat())

    return select_due(bot, now=now, hand_on=hand_on, size=size)


def _ingest_cron(settings: Settings) -> str:
    minutes = settings.ingest_interval_minutes
    return f"*/{minutes} * * * *" if minutes < 60 else f"0 */{max(1, minutes // 60)} * * *"


def interest_embedder(settings: Settings) -> Callable[[int], None]:
    """For the web tier: hands a subscriber's new interests to an embed worker (an embed_interest job)
    instead of loading the model in the web process."""
    app = build_app(settings.db_url, settings)

    def defer(subscriber_id: int) -> None:
        with app.open():
            job = app.configure_task("embed_interest").defer(subscriber_id=subscriber_id)
        log.info("subscriber %d: new interests handed to the embed queue (job %d)", subscriber_id, job)

    return defer


def retry_stalled_cron(stalled_seconds: int) -> str:
    """How often to look for stalled jobs: every half of the stall timeout, at most once a minute
    (cron's sixth field is seconds)."""
    every = stalled_seconds // 2
    return "* * * * *" if every >= 60 else f"* * * * * */{every}"


def heartbeat_seconds(stalled_seconds: int) -> float:
    """A worker's heartbeat interval: three heartbeats fit in the stall timeout, so one late beat is
    not death."""
    return stalled_seconds / 3


def build_app(database_url: str, settings: Settings | None = None) -> App:
    """The procrastinate app on `database_url` with paperbot's tasks registered."""
    settings = settings or load_settings()
    app = App(connector=PsycopgConnector(conninfo=conninfo(database_url)))
    retry_after = timedelta(seconds=settings.scheduler_sweep_seconds)

    @app.periodic(cron="* * * * *", periodic_id="tick")
    @app.task(name="tick", queue="default", pass_context=True)
    def tick(context: JobContext, timestamp: int) -> None:
        now = datetime.fromtimestamp(timestamp, UTC)
        with _timed("tick") as fields:
            fields.update(at=now.isoformat(), due=defer_due(context.app, _paperbot(), now=now, size=CHUNK))

    @app.task(name="deliver_chunk", queue="deliver", pass_context=True)
    def deliver_chunk(context: JobContext, subscription_ids: list[int], at: str | None = None) -> None:
        bot = _paperbot()
        job = JobRef(context.job.id or 0, context.job.attempts)
        subscriptions = bot.subscriptions_by_id(subscription_ids)
        slack = [s.id for s in subscriptions if s.channel == "slack"]
        for sub_id in slack:
            poster = context.app.configure_task("post_slack", lock="slack:workspace")
            poster.defer(subscription_id=sub_id, at=at)
        rest = [s.id for s in subscriptions if s.channel != "slack"]
        deliver(bot, rest, now=_now(at), job=job, retry=retry_after, on_result=_log)

    @app.task(name="post_slack", queue="slack", pass_context=True)
    def post_slack(context: JobContext, subscription_id: int, at: str | None = None) -> None:
        job = JobRef(context.job.id or 0, context.job.attempts)
        deliver(_paperbot(), [subscription_id], now=_now(at), job=job, retry=retry_after, on_result=_log)

    @app.periodic(cron=_ingest_cron(settings), periodic_id="ingest")
    @app.task(name="ingest", queue="default", pass_context=True)
    def ingest(context: JobContext, timestamp: int) -> None:
        with _timed("ingest") as fields:
            sources = _paperbot().configured_sources()
            for url in sources:
                context.app.configure_task("ingest_source").defer(url=url)
            fields["sources"] = len(sources)

    @app.task(name="ingest_source", queue="embed")
    def ingest_source(url: str) -> None:
        with _timed("ingest_source") as fields:
            report = _paperbot().ingest(sources=[url], now=datetime.now(UTC))
            fields.update(source=url, **report.totals, embedded=report.embedded)

    @app.task(name="embed_listings", queue="embed")
    def embed_listings(listing_ids: list[int]) -> None:
        with _timed("embed_listings") as fields:
            fields.update(listings=len(listing_ids), embedded=_paperbot().embed_listings(listing_ids))

    @app.task(name="embed_interest", queue="embed")
    def embed_interest(subscriber_id: int) -> None:
        with _timed("embed_interest") as fields:
            embedded = _paperbot().embed_interests(subscriber_id=subscriber_id)
            fields.update(subscriber=subscriber_id, embedded=embedded)

    @app.periodic(cron="30 3 * * *", periodic_id="housekeeping")
    @app.task(name="housekeeping", queue="default")
    def housekeeping(timestamp: int) -> None:
        bot, now = _paperbot(), datetime.fromtimestamp(timestamp, UTC)
        with _timed("housekeeping") as fields:
            report = prune(bot, before=now - timedelta(days=settings.retention_days))
            events = forget_slack_events(bot, now=now)
            fields.update(listings=report.listings, vectors=report.vectors, slack_events=events)

    stalled_after = settings.worker_stalled_seconds

    @app.periodic(cron=retry_stalled_cron(stalled_after), periodic_id="retry_stalled")
    @app.task(name="retry_stalled", queue="default", queueing_lock="retry_stalled", pass_context=True)
    async def retry_stalled(context: JobContext, timestamp: int) -> None:
        manager = context.app.job_manager
        stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after))
        for job in stalled:
            await manager.retry_job(job)
        if stalled:
            log.warning("job=retry_stalled retried=%d ids=%s", len(stalled), [job.id for job in stalled])

    return app
