"""Missed digests after downtime, and digests whose sender died mid-run.

Policy (also in docs/deploy.md): after any downtime, each active subscription gets **at most one**
digest: its most recent period whose send time has passed, if that period has no outcome yet. Older
missed periods are skipped rather than sent late, one after another: a digest is "what is new since
last time", and three stale digests in a row are noise. A period that ended before the subscription
was created is not "missed" (a new subscription waits for its first send time).

The catch-up runs when a scheduler becomes leader and then every few minutes (the retry sweep), so a
digest left claimed by a temporary failure, or by a process that died, is sent by the next sweep.
Doubles are impossible whatever runs when: every send goes through `bot.digests.run.run_digest`, which
claims the unique (subscription, period) key first.

A leader that has just taken the lock knows no other scheduler is running, so any digest still
"claimed" without an error was left by a dead process: `release_interrupted` marks those for retry
instead of waiting for their 15-minute lease. (A one-off `digest run` from the CLI that is sending at
that very second would be retried too; its mail carries the same Message-ID, which mail clients fold.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, update
from sqlmodel import col, select

from bot.digests.period import Period, latest_period
from bot.digests.run import run_digest
from bot.records import DigestResult, SubscriptionView
from bot.service import Paperbot
from storage import models
from storage.db import session_scope

__all__ = ["Missed", "missed", "catch_up", "release_interrupted", "INTERRUPTED"]

log = logging.getLogger("paperbot.scheduler")

INTERRUPTED = "interrupted: the process sending it stopped before recording the outcome"


@dataclass(frozen=True)
class Missed:
    subscription: SubscriptionView
    period: Period
    status: str | None  # None: never attempted; "claimed": attempted, outcome unknown


def missed(bot: Paperbot, *, now: datetime) -> list[Missed]:
    """Active subscriptions whose latest due period (at `now`) has no outcome yet."""
    due = {s.id: (s, latest_period(s, now=now)) for s in bot.subscriptions(active_only=True, now=now)}
    sub, digest = models.Subscription, models.Digest
    with session_scope(bot.engine) as session:
        created = dict(session.exec(select(sub.id, sub.created_at).where(col(sub.id).in_(list(due)))).all())
        # Only the periods due now: a handful of keys, however long the digest history grows.
        keys = sorted({period.key for _, period in due.values()})
        rows = session.exec(
            select(digest.subscription_id, digest.period, digest.status).where(col(digest.period).in_(keys))
        ).all()
    done = {(sub_id, key): status for sub_id, key, status in rows}
    found = []
    for sub_id, (subscription, period) in due.items():
        if sub_id not in created or period.end < created[sub_id]:
            continue
        status = done.get((sub_id, period.key))
        if status in (None, "claimed"):
            found.append(Missed(subscription, period, status))
    return found


def release_interrupted(bot: Paperbot, *, before: datetime) -> int:
    """Mark digests claimed before `before` and still without an outcome as retryable; returns how many.
    Only a scheduler that holds the leader lock may call this (see the module docstring)."""
    with session_scope(bot.engine) as session:
        result = session.connection().execute(
            update(models.Digest)
            .where(
                and_(
                    col(models.Digest.status) == "claimed",
                    col(models.Digest.error).is_(None),
                    col(models.Digest.claimed_at) < before,
                )
            )
            .values(error=INTERRUPTED)
        )
        count = int(result.rowcount)
    if count:
        log.warning("job=recover interrupted_digests=%d (sent again now, with the same Message-ID)", count)
    return count


def catch_up(
    bot: Paperbot,
    *,
    now: Callable[[], datetime],
    stop: threading.Event | None = None,
    on_result: Callable[[DigestResult, float], None] | None = None,
) -> list[DigestResult]:
    """Send every missed digest (see the policy above), one at a time; stops early when `stop` is set
    so a shutdown waits for one digest at most. `on_result(result, seconds)` is called after each.

    `now` is a clock, read afresh for each digest: a claim must carry the time it was really made, or a
    long catch-up's claims would look abandoned (older than the lease) to a concurrent run."""
    results = []
    for item in missed(bot, now=now()):
        if stop is not None and stop.is_set():
            break
        started = time.perf_counter()
        try:
            result = run_digest(bot, subscription_id=item.subscription.id, now=now())
        except Exception as exc:  # one broken digest must not hold up everyone else's
            log.exception("digest for subscription %d crashed", item.subscription.id)
            result = DigestResult(item.subscription.id, item.period.key, "retry", error=repr(exc))
        results.append(result)
        if on_result is not None:
            on_result(result, time.perf_counter() - started)
    return results
