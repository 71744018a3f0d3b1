"""Deliver digests: one self-contained, idempotent unit per (subscription, period), ids in.

    run_digest(bot, subscription_id=3, now=now)   # the digest of the latest period that is due
    run_due(bot, now=now)                         # every active subscription whose period is unsent

One digest: claim the (subscription, period) key together with the picked items, render for the
channel, deliver, record the outcome. A repeated or concurrent run loses the claim and reports
"skipped"; an attempt that failed for a temporary reason (SMTP down) is retried by the next run with
the same items; a permanent failure (SMTP 5xx) marks the digest failed with the server's reason.
Nothing above the bar: the digest is "empty" and nothing is sent, unless the subscriber chose
always_send (then a short note goes out).

DigestResult.status: sent | empty | skipped (already settled, claimed elsewhere, paused, no
interests) | retry (temporary failure; the next run resends) | failed (permanent) | dry_run.

If a run dies after the server accepted the mail but before the outcome is stored, the retry sends it
again with the same Message-ID (mail clients fold such duplicates).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Literal

from bot.channels.email.links import Links
from bot.channels.email.outbox import write_outbox
from bot.channels.email.render import render_email
from bot.digests import store
from bot.digests.batch import Batch
from bot.digests.period import Period, latest_period
from bot.errors import DeliveryError, InvalidInput, TemporaryDeliveryError
from bot.records import DigestResult, DigestView, MatchRequest, Recommendation, SubscriptionView
from bot.service import Paperbot

if TYPE_CHECKING:  # bot.recommend loads scikit-learn: only where ranking happens
    from bot.recommend import Outcome, Pool

__all__ = [
    "Channel",
    "CHANNELS",
    "run_digest",
    "run_due",
    "run_for_subscriber",
    "run_chunk",
    "email_channel",
    "outbox_channel",
]

log = logging.getLogger("paperbot.digests")
CHUNK = 500  # subscriptions ranked together: a few queries per chunk, and memory stays bounded

# Renders a digest for its channel and delivers it; returns where it went (Message-ID, path, Slack ts).
# Raises TemporaryDeliveryError (retry later) or DeliveryError (permanent).
Channel = Callable[[DigestView, SubscriptionView, Batch], str]


def _links(batch: Batch) -> Links:
    return batch.shared("links", lambda: Links.from_settings(batch.settings))


def _write_outbox(view: DigestView, subscription: SubscriptionView, batch: Batch, name: str) -> str:
    message = render_email(
        view, subscription=subscription, settings=batch.settings, now=batch.now, links=_links(batch)
    )
    return str(write_outbox(message, outbox_dir=batch.settings.outbox_dir, name=name))


def email_channel(view: DigestView, subscription: SubscriptionView, batch: Batch) -> str:
    """SMTP when PAPERBOT_SMTP_HOST is set, else the file outbox."""
    if not batch.settings.smtp_host:
        return outbox_channel(view, subscription, batch)
    message = render_email(
        view, subscription=subscription, settings=batch.settings, now=batch.now, links=_links(batch)
    )
    return batch.bot.smtp.send(message, sleep=batch.sleep)


def outbox_channel(view: DigestView, subscription: SubscriptionView, batch: Batch) -> str:
    """Files `<outbox>/<digest id>-<period>.eml` and `.html`."""
    return _write_outbox(view, subscription, batch, f"{view.id}-{view.period}")


# The dispatch point. A "module:function" string is imported on first use, so Slack's dependencies
# load only when a Slack digest goes out.
CHANNELS: dict[str, Channel | str] = {
    "email": email_channel,
    "outbox": outbox_channel,
    "slack": "bot.channels.slack.post:deliver_digest",
}


def _channel(name: str) -> Channel:
    entry = CHANNELS.get(name)
    if entry is None:
        raise DeliveryError(f"unknown channel {name!r}; paperbot delivers to {', '.join(CHANNELS)}")
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        try:
            loaded: Channel = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise DeliveryError(f"the {name} channel is not available in this installation ({exc})") from exc
        return loaded
    return entry


def _request(subscription: SubscriptionView, period: Period) -> MatchRequest:
    return MatchRequest(subscription.subscriber_id, period.start, subscription.digest_size)


def _picks(
    bot: Paperbot, subscription: SubscriptionView, period: Period, now: datetime, matched: Outcome | None
) -> list[Recommendation]:
    """The papers for this digest: `matched` when the caller ranked a whole batch, else ranked now."""
    if matched is None:
        [matched] = bot.recommend_many([_request(subscription, period)], now=now)
    if isinstance(matched, InvalidInput):
        raise matched
    picks = matched
    log.info("subscription %d, %s: %d papers above the bar", subscription.id, period.key, len(picks))
    return picks


def _claim(
    bot: Paperbot, subscription: SubscriptionView, period: Period, batch: Batch, matched: Outcome | None
) -> store.Claim | str:
    """This run's claim on the period's digest, or why there is none."""
    found = store.find(bot.engine, subscription.id, period.key)
    if found is None:
        try:
            picks = _picks(bot, subscription, period, batch.now, matched)
        except InvalidInput as exc:  # no interests yet: nothing to rank, nothing to claim
            return exc.message
        return store.claim(bot.engine, subscription.id, period, picks, now=batch.now, job=batch.job) or (
            "another run claimed this digest first"
        )
    if found.status != "claimed":
        return f"already {found.status}"
    return store.take_over(bot.engine, found, now=batch.now, job=batch.job) or (
        "another run is sending this digest"
    )


def _preview(bot: Paperbot, subscription: SubscriptionView, period: Period, batch: Batch) -> DigestResult:
    """A dry run: the stored digest if there is one, else what would be picked; written to the outbox."""
    found = store.find(bot.engine, subscription.id, period.key)
    if found is not None:
        view = store.digest_view(bot.engine, found.id, period=period, subscription=subscription)
    else:
        picks = _picks(bot, subscription, period, batch.now, None)
        view = store.preview_view(bot.engine, picks, period=period, subscription=subscription)
    where = _write_outbox(view, subscription, batch, f"dry-run-{subscription.id}-{period.key}")
    return DigestResult(subscription.id, period.key, "dry_run", items=len(view.entries), location=where)


def _run(
    bot: Paperbot,
    subscription: SubscriptionView,
    batch: Batch,
    *,
    dry_run: bool,
    matched: Outcome | None = None,
) -> DigestResult:
    period = latest_period(subscription, now=batch.now)
    if not subscription.active:
        reason = f"subscription is {subscription.paused_reason or 'paused'}"
        return DigestResult(subscription.id, period.key, "skipped", error=reason)
    if dry_run:
        return _preview(bot, subscription, period, batch)
    held = _claim(bot, subscription, period, batch, matched)
    if isinstance(held, str):
        found = store.find(bot.engine, subscription.id, period.key)
        digest_id, ref = (found.id, found.message_ref) if found else (None, None)
        return DigestResult(subscription.id, period.key, "skipped", digest_id, location=ref, error=held)
    view = store.digest_view(bot.engine, held.digest_id, period=period, subscription=subscription)
    return _send(bot, view, subscription, held, batch)


def _send(
    bot: Paperbot, view: DigestView, subscription: SubscriptionView, held: store.Claim, batch: Batch
) -> DigestResult:
    result = partial(DigestResult, subscription.id, view.period, digest_id=view.id, items=len(view.entries))
    if not view.entries and not subscription.always_send:
        store.finish(bot.engine, held, status="empty", sent_at=batch.now)
        return result("empty")
    try:
        where = _channel(view.channel)(view, subscription, batch)
    except TemporaryDeliveryError as exc:
        store.finish(bot.engine, held, status="claimed", error=exc.message)
        log.warning("digest %d (subscription %d) will be retried: %s", view.id, subscription.id, exc.message)
        return result("retry", error=exc.message)
    except DeliveryError as exc:
        store.finish(bot.engine, held, status="failed", error=exc.message)
        # A permanent refusal (channel gone, address rejected) would repeat every period: pause the
        # subscription with the reason, which App Home and `paperbot status` show.
        bot.set_active(subscription_id=subscription.id, active=False, reason=exc.message)
        log.error("digest %d (subscription %d) failed, paused: %s", view.id, subscription.id, exc.message)
        return result("failed", error=exc.message)
    except Exception as exc:  # a bug: the attempt ends, the next run retries, the caller sees it
        store.finish(bot.engine, held, status="claimed", error=f"internal error: {exc!r}")
        raise
    status: Literal["sent", "empty"] = "sent" if view.entries else "empty"
    store.finish(bot.engine, held, status=status, sent_at=batch.now, message_ref=where)
    return result(status, location=where)


def _batch(bot: Paperbot, now: datetime | None, sleep: Callable[[float], None] | None) -> Batch:
    """A run's shared state; by default now, and the service's sleep (tests give it a fake one)."""
    return Batch(bot, now or datetime.now(UTC), sleep or bot.sleep)


def run_digest(
    bot: Paperbot,
    *,
    subscription_id: int,
    now: datetime | None = None,
    dry_run: bool = False,
    sleep: Callable[[float], None] | None = None,
) -> DigestResult:
    """Deliver the latest due digest of one subscription (or, with dry_run, write it to the outbox
    as dry-run-<subscription>-<period>.eml and change nothing)."""
    with _batch(bot, now, sleep) as batch:
        return _run(bot, bot.subscription(subscription_id=subscription_id), batch, dry_run=dry_run)


def run_for_subscriber(
    bot: Paperbot,
    *,
    subscriber_id: int,
    now: datetime | None = None,
    dry_run: bool = False,
    sleep: Callable[[float], None] | None = None,
) -> list[DigestResult]:
    """`run_digest` for each active subscription of one subscriber."""
    subscriptions = bot.subscriber(subscriber_id=subscriber_id).subscriptions
    with _batch(bot, now, sleep) as batch:
        return [_run(bot, s, batch, dry_run=dry_run) for s in subscriptions if s.active]


def _rank_together(
    bot: Paperbot, due: list[tuple[SubscriptionView, Period]], *, now: datetime, pool: Pool | None
) -> dict[int, Outcome]:
    """Rankings by subscription id for a chunk; empty if ranking them together fails, so that each
    digest ranks on its own and a crash stays with the one digest that causes it."""
    if not due:
        return {}
    try:
        outcomes = bot.recommend_many([_request(s, p) for s, p in due], now=now, pool=pool)
    except Exception:
        log.exception("ranking %d subscriptions together failed; ranking them one by one", len(due))
        return {}
    return {s.id: outcome for (s, _), outcome in zip(due, outcomes, strict=True)}


def run_chunk(
    bot: Paperbot,
    subscriptions: Sequence[SubscriptionView],
    batch: Batch,
    *,
    pool: Pool | None = None,
    on_result: Callable[[DigestResult, float], None] | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> list[DigestResult]:
    """The latest due digest of each subscription (at most CHUNK): the unclaimed ones ranked together
    in one FAISS search against `pool` (loaded here if not given), then each claimed, rendered and sent
    on its own. A digest that crashes is logged and left for the next run; `on_result(result, seconds)`
    is called after each. Once `stopping()` (a shutdown) no further digest is started: the results
    cover the subscriptions that ran."""
    due = [(s, latest_period(s, now=batch.now)) for s in subscriptions]
    known = store.statuses(bot.engine, [(s.id, p.key) for s, p in due])
    fresh = [(s, p) for s, p in due if s.active and (s.id, p.key) not in known]
    if pool is None and fresh:
        pool = bot.load_pool(min(p.start for _, p in fresh))
    matched = _rank_together(bot, fresh, now=batch.now, pool=pool)
    results = []
    for subscription, period in due:
        if stopping():
            break
        started = time.perf_counter()
        try:
            result = _run(bot, subscription, batch, dry_run=False, matched=matched.get(subscription.id))
        except Exception as exc:  # one broken digest must not hold up everyone else's
            log.exception("digest for subscription %d crashed", subscription.id)
            result = DigestResult(subscription.id, period.key, "retry", error=f"internal error: {exc!r}")
        results.append(result)
        if on_result is not None:
            on_result(result, time.perf_counter() - started)
    return results


def run_due(
    bot: Paperbot, *, now: datetime | None = None, sleep: Callable[[float], None] | None = None
) -> list[DigestResult]:
    """Deliver every active subscription's latest period that has no outcome yet, CHUNK subscriptions
    at a time (`run_chunk`) against one pool of listings loaded for the run."""
    now = now or datetime.now(UTC)
    due = []
    for subscription in bot.subscriptions(active_only=True, now=now):
        period = latest_period(subscription, now=now)
        found = store.find(bot.engine, subscription.id, period.key)
        if found is None or found.status == "claimed":  # not settled: sent, empty or failed
            due.append((subscription, period, found is None))
    unclaimed = [period.start for _, period, fresh in due if fresh]
    pool = bot.load_pool(min(unclaimed)) if unclaimed else None
    results = []
    with _batch(bot, now, sleep) as batch:
        for start in range(0, len(due), CHUNK):
            chunk = [subscription for subscription, _, _ in due[start : start + CHUNK]]
            results += run_chunk(bot, chunk, batch, pool=pool)
    return results
