"""The one scheduling logic of both modes: a tick selects the due subscriptions and hands them on in
chunks; delivering a chunk plans each subscription's next look.

    tick(bot, now=now, hand_on=...)          # every minute: embedded runs the chunks, distributed defers them
    deliver_chunk(bot, ids, now=now)         # one pool, one FAISS search, then claim, render, send each

Each subscription carries `next_due_at` (indexed), so a tick is one query however many subscriptions
there are. After a run it is set to

    the next send time         when the period's digest is settled (sent, empty, failed, or nothing to
                               send: paused, no interests)
    now + RETRY                when it is still claimed (a temporary failure, or another run sending it)
    now + the hand-off lease   by the tick itself, until the run ends: a chunk that never ran (its
                               process died) is looked at again by a later tick

Catch-up policy (also in docs/deploy.md): after any downtime each subscription gets **at most one**
digest, that of its latest period whose send time has passed, if it has no outcome yet; older missed
periods are skipped rather than sent late one after another. A period that ended before the
subscription was created is never sent. DST: one send time per local date, so a 02:30 subscription in
Europe/Berlin is due at 03:30 CEST on the spring-forward day and once, at the first 02:30, on the
fall-back day (`bot.digests.period.next_send_after`). Exactly once is the claim's job
(`bot.digests.store`), whatever runs when.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from bot.digests import store
from bot.digests.batch import Batch
from bot.digests.period import latest_period, next_send_after
from bot.digests.run import CHUNK, run_chunk
from bot.records import DigestResult, JobRef
from bot.service import Paperbot

__all__ = ["tick", "deliver_chunk", "chunks", "recover", "RETRY", "HAND_OFF"]

RETRY = timedelta(minutes=5)  # an unsettled digest is looked at again this soon
HAND_OFF = store.LEASE  # a chunk handed on and not finished by then is handed on again

HandOn = Callable[[tuple[int, ...]], None]


def chunks(ids: Sequence[int], size: int = CHUNK) -> list[tuple[int, ...]]:
    """`ids` in runs of at most `size` (at most CHUNK: one FAISS search and bounded memory each)."""
    if not 1 <= size <= CHUNK:
        raise ValueError(f"a chunk holds 1 to {CHUNK} subscriptions, not {size}")
    return [tuple(ids[start : start + size]) for start in range(0, len(ids), size)]


def tick(bot: Paperbot, *, now: datetime, hand_on: HandOn, size: int = CHUNK) -> int:
    """Hand every subscription due at `now` on, in chunks of at most `size`; returns how many."""
    due = store.take_due(bot.engine, now=now, lease=HAND_OFF)
    for chunk in chunks(due, size):
        hand_on(chunk)
    return len(due)


def recover(bot: Paperbot, *, now: datetime) -> int:
    """For a scheduler that has just become the only one (the embedded leader): a digest still claimed
    without an outcome was left by a dead process and is retried at once, and the subscriptions handed
    to that process are planned afresh instead of waiting out their hand-off lease. Returns how many
    digests were interrupted."""
    store.release_handed(bot.engine, now=now, lease=HAND_OFF)
    return store.release_interrupted(bot.engine, before=now)


def deliver_chunk(
    bot: Paperbot,
    subscription_ids: Sequence[int],
    *,
    now: datetime,
    job: JobRef | None = None,
    retry: timedelta = RETRY,
    sleep: Callable[[float], None] = time.sleep,
    on_result: Callable[[DigestResult, float], None] | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> list[DigestResult]:
    """Deliver the latest due digest of each subscription (see `run_chunk`), then plan their next look.
    `job` names the queue job running it, so its retry takes over this attempt's claims at once; a
    digest left unsettled is looked at again after `retry`. A shutdown (`stopping()`) ends the chunk
    after the digest in flight; the subscriptions not reached keep their hand-off lease, so the next
    scheduler (`recover`) or a later tick delivers them."""
    if len(subscription_ids) > CHUNK:
        raise ValueError(f"a chunk holds at most {CHUNK} subscriptions, not {len(subscription_ids)}")
    subscriptions = bot.subscriptions_by_id(subscription_ids)
    with Batch(bot, now, sleep, job=job) as batch:
        results = run_chunk(bot, subscriptions, batch, on_result=on_result, stopping=stopping)
    reached = {result.subscription_id for result in results}
    subscriptions = [s for s in subscriptions if s.id in reached]
    keys = [(s.id, latest_period(s, now=now).key) for s in subscriptions]
    known = store.statuses(bot.engine, keys)
    store.plan(
        bot.engine,
        [
            (s.id, now + retry if known.get(key) == "claimed" else next_send_after(s, now))
            for s, key in zip(subscriptions, keys, strict=True)
        ],
    )
    return results
