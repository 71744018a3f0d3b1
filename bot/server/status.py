"""What `paperbot status` shows: sources, schedules with their next run, recent and failed digests.

    with open_views(settings) as rows:
        status = collect_status(rows, configured=settings.sources, now=datetime.now(UTC))
    render_status(status, Console())          # tables; `to_json(status)` for --json

Next runs come from the same rule the tick plans with (`bot.digests.period.next_send_after`), so status
and scheduler cannot disagree, DST days included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Column, Table

from bot import views
from bot.digests.period import next_send_after
from bot.records import QueueCounts, SourceView, SubscriptionView
from bot.views import DigestStatus, Rows
from bot.vocab import plural

__all__ = ["SubscriptionStatus", "Status", "collect_status", "render_status"]


@dataclass(frozen=True)
class SubscriptionStatus:
    id: int
    subscriber_id: int
    channel: str
    target: str
    schedule: str  # e.g. "weekdays 08:00 Europe/Berlin"
    active: bool
    paused_reason: str | None
    next_run_local: datetime | None  # in the subscription's time zone; None while paused
    next_run_utc: datetime | None
    last_period: str | None
    last_status: str | None


@dataclass(frozen=True)
class Status:
    now: datetime
    sources: tuple[SourceView, ...]  # the configured ones (`sources list --all` shows the rest)
    subscriptions: tuple[SubscriptionStatus, ...]
    recent_digests: tuple[DigestStatus, ...]
    failed_digests: tuple[DigestStatus, ...]  # the latest failed for good or waiting for a retry
    queue: QueueCounts | None  # distributed mode's jobs; None on SQLite (embedded mode)

    @property
    def paused(self) -> tuple[SubscriptionStatus, ...]:
        return tuple(s for s in self.subscriptions if not s.active)


def _schedule(s: SubscriptionView) -> str:
    days = {"daily": "daily", "weekdays": "weekdays", "weekly": f"weekly on {_DAY_NAMES[s.weekday]}"}
    return f"{days.get(s.frequency, s.frequency)} {s.send_time} {s.timezone}"


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _subscription(view: SubscriptionView, last: DigestStatus | None, now: datetime) -> SubscriptionStatus:
    fire = next_send_after(view, now) if view.active else None
    return SubscriptionStatus(
        id=view.id,
        subscriber_id=view.subscriber_id,
        channel=view.channel,
        target=view.target,
        schedule=_schedule(view),
        active=view.active,
        paused_reason=view.paused_reason,
        next_run_local=fire.astimezone(ZoneInfo(view.timezone)) if fire else None,
        next_run_utc=fire,
        last_period=last.period if last else None,
        last_status=last.status if last else None,
    )


def collect_status(rows: Rows, *, configured: Sequence[str], now: datetime, recent: int = 10) -> Status:
    """Everything `paperbot status` shows, as of `now`; `configured`: PAPERBOT_SOURCES; `recent`
    bounds the digest lists."""
    digests = views.digest_rows(rows, recent=recent)
    subscriptions = tuple(
        _subscription(view, digests.latest.get(view.id), now)
        for view in views.subscriptions(rows, active_only=False, now=now)
    )
    sources = tuple(views.list_sources(rows, views.configured_sources(rows, configured)))
    return Status(now, sources, subscriptions, digests.recent, digests.failing, views.queue_counts(rows))


def _when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    return value.strftime(fmt) if value else ""


def render_status(status: Status, console: Console) -> None:
    """Four tables (sources, subscriptions, recent digests, failed deliveries) and a summary line."""
    source = Column("source", overflow="fold")  # cut short, long paths all looked the same
    sources = Table("id", source, "kind", "last success", "last error", title="Sources")
    for s in status.sources:
        error = f"{_when(s.last_error_at)}: {s.last_error}" if s.last_error else ""
        sources.add_row(
            str(s.id),
            s.url + ("" if s.enabled else " (PAPERBOT_SOURCES)"),
            s.kind or "",
            _when(s.last_success_at),
            error,
        )
    columns = ("id", "to", "schedule", "next run (local)", "next run (UTC)", "last digest")
    subs = Table(*columns, title="Subscriptions")
    for sub in status.subscriptions:
        last = f"{sub.last_period} {sub.last_status}" if sub.last_period else ""
        next_local = _when(sub.next_run_local) if sub.active else f"paused: {sub.paused_reason or 'paused'}"
        subs.add_row(
            str(sub.id),
            f"{sub.channel}:{sub.target}",
            sub.schedule,
            next_local,
            _when(sub.next_run_utc),
            last,
        )
    digests = Table("id", "subscription", "period", "status", "attempts", "sent", title="Recent digests")
    for dg in status.recent_digests:
        digests.add_row(
            str(dg.id), str(dg.subscription_id), dg.period, dg.status, str(dg.attempts), _when(dg.sent_at)
        )
    failed = Table("id", "subscription", "period", "status", "error", title="Failed deliveries")
    for dg in status.failed_digests:
        state = "failed" if dg.status == "failed" else "will retry"
        failed.add_row(str(dg.id), str(dg.subscription_id), dg.period, state, dg.error or "")
    for table in (sources, subs, digests, failed):
        if table.row_count:
            console.print(table)
    if (queue := status.queue) is not None:
        console.print(
            f"queue: {queue.pending} pending, {queue.running} running, {queue.retrying} retrying, "
            f"{queue.failed} failed jobs"
        )
    console.print(
        f"{plural(len(status.sources), 'source')}, "
        f"{len(status.subscriptions) - len(status.paused)} active and "
        f"{len(status.paused)} paused subscriptions, {len(status.failed_digests)} failed deliveries"
    )
