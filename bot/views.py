"""What the everyday commands show, and a vote, in plain SQL (`storage.rows`): no ORM is imported.

`paperbot status`, `listings`, `sources list`, `profile show` and `feedback` call these on a
sqlite3 connection and answer in a fraction of a second; the service and the web tier call the same
functions on their SQLAlchemy connection, so a view is read one way everywhere.

    with open_views(settings) as rows:
        view = subscriber(rows, 1)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.errors import NotFound
from bot.records import (
    FeedbackResult,
    InterestView,
    ListingView,
    QueueCounts,
    SourceView,
    SubscriberView,
    SubscriptionView,
)
from bot.vocab import VoteVia, parse_vote
from storage.rows import Rows, json_value, open_rows, utc

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = [
    "Rows",
    "open_views",
    "no_subscriber",
    "listings",
    "count_listings",
    "configured_sources",
    "list_sources",
    "resume_ended_pauses",
    "subscriptions",
    "subscriber",
    "DigestStatus",
    "DigestRows",
    "digest_rows",
    "queue_counts",
    "record_vote",
]

log = logging.getLogger("paperbot")


@contextmanager
def open_views(settings: Settings) -> Iterator[Rows]:
    """One transaction on the installation's database, created or upgraded first if need be."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open_rows(settings.db_url) as rows:
        yield rows


def no_subscriber(subscriber_id: int) -> NotFound:
    return NotFound(f"no subscriber {subscriber_id}; `paperbot subscribe --help` creates one")


# ---- listings and sources ----------------------------------------------------------------------

_LISTING = (
    "id, canonical_id, title, abstract, authors, categories, arxiv_id, doi, version, abs_url, pdf_url,"
    " published, first_seen, sources, upvotes"
)


def listings(rows: Rows, *, since: datetime | None = None, limit: int | None = None) -> list[ListingView]:
    """Stored listings, newest first; `since` compares the publication date (or first seen)."""
    when = "coalesce(published, first_seen)"
    where = f" WHERE {when} >= :since" if since is not None else ""
    bound = " LIMIT :limit" if limit is not None else ""
    sql = f"SELECT {_LISTING} FROM listing{where} ORDER BY {when} DESC, id DESC{bound}"
    params = {"since": rows.time(since) if since is not None else None, "limit": limit}
    bound_params = {name: value for name, value in params.items() if value is not None}
    return [ListingView.of(row) for row in rows.all(sql, **bound_params)]


def count_listings(rows: Rows) -> int:
    return int(rows.first("SELECT count(*) AS n FROM listing").n)


def configured_sources(rows: Rows, from_settings: Sequence[str]) -> list[str]:
    """PAPERBOT_SOURCES (`from_settings`) plus the sources added with `paperbot sources add`."""
    added = [row.url for row in rows.all("SELECT url FROM source WHERE enabled ORDER BY id")]
    if not from_settings:
        return added
    from bot.ingest.sources import resolve_source  # every feed parser: only when there is a name to resolve

    return list(dict.fromkeys([*map(resolve_source, from_settings), *added]))


def list_sources(rows: Rows, configured: Sequence[str], *, everything: bool = False) -> list[SourceView]:
    """The `configured` sources; with `everything`, also the removed ones and those of one-off
    ingests, which are only remembered."""
    sql = (
        "SELECT id, url, enabled, kind, last_success_at, last_error, last_error_at, last_counts"
        " FROM source ORDER BY id"
    )
    wanted = set(configured)
    return [SourceView.of(row) for row in rows.all(sql) if everything or row.url in wanted]


# ---- subscribers -----------------------------------------------------------------------------

_SUBSCRIPTION = (
    "id, subscriber_id, channel, target, frequency, send_time, timezone, weekday, digest_size,"
    " always_send, active, paused_reason, paused_until"
)


def resume_ended_pauses(rows: Rows, *, now: datetime) -> int:
    """Resume the subscriptions whose pause with an end date ended by `now` (unsubscribes never end);
    the next tick plans them afresh. Returns how many."""
    resumed = rows.run(
        "UPDATE subscription SET active = :yes, paused_reason = NULL, paused_until = NULL,"
        " next_due_at = NULL WHERE paused_until <= :now AND NOT active",
        yes=True,
        now=rows.time(now),
    )
    if resumed:
        log.info("resumed %d subscriptions whose pause ended", resumed)
    return resumed


def subscriptions(rows: Rows, *, active_only: bool = True, now: datetime) -> list[SubscriptionView]:
    """Subscriptions by id; pauses that ended by `now` are resumed first."""
    resume_ended_pauses(rows, now=now)
    where = " WHERE active" if active_only else ""
    return [
        SubscriptionView.of(row)
        for row in rows.all(f"SELECT {_SUBSCRIPTION} FROM subscription{where} ORDER BY id")
    ]


def subscriber(rows: Rows, subscriber_id: int) -> SubscriberView:
    """A subscriber with interests, subscriptions and vote counts; NotFound if there is none."""
    row = rows.first(
        "SELECT id, name, kind, email, slack_user_id, slack_channel_id, followed_authors, muted_keywords"
        " FROM subscriber WHERE id = :id",
        id=subscriber_id,
    )
    if row is None:
        raise no_subscriber(subscriber_id)
    mine = {"id": subscriber_id}
    interests = rows.all(
        "SELECT id, label, text, seed_listing_ids FROM interest WHERE subscriber_id = :id ORDER BY id", **mine
    )
    subs = rows.all(f"SELECT {_SUBSCRIPTION} FROM subscription WHERE subscriber_id = :id ORDER BY id", **mine)
    votes = rows.all(
        "SELECT vote, count(*) AS n FROM feedback WHERE subscriber_id = :id GROUP BY vote", **mine
    )
    return SubscriberView(
        id=row.id,
        name=row.name,
        kind=row.kind,
        email=row.email,
        slack_user_id=row.slack_user_id,
        slack_channel_id=row.slack_channel_id,
        interests=tuple(
            InterestView(i.id, i.label, i.text, tuple(json_value(i.seed_listing_ids))) for i in interests
        ),
        subscriptions=tuple(SubscriptionView.of(s) for s in subs),
        followed_authors=tuple(json_value(row.followed_authors)),
        muted_keywords=tuple(json_value(row.muted_keywords)),
        votes={v.vote: int(v.n) for v in votes},
    )


# ---- digests and the queue (operators' view) --------------------------------------------------


@dataclass(frozen=True)
class DigestStatus:
    id: int
    subscription_id: int
    period: str
    status: str  # claimed | sent | empty | failed
    attempts: int
    error: str | None
    claimed_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class DigestRows:
    recent: tuple[DigestStatus, ...]  # newest claims first
    latest: dict[int, DigestStatus]  # subscription id -> its newest digest
    failing: tuple[DigestStatus, ...]  # failed for good, or claimed with an error (will be retried)


_DIGEST = "SELECT id, subscription_id, period, status, attempts, error, claimed_at, sent_at FROM digest"


def _digests(rows: Rows, sql: str, **params: object) -> tuple[DigestStatus, ...]:
    return tuple(
        DigestStatus(
            r.id,
            r.subscription_id,
            r.period,
            r.status,
            r.attempts,
            r.error,
            utc(r.claimed_at),
            utc(r.sent_at),
        )
        for r in rows.all(sql, **params)
    )


def digest_rows(rows: Rows, *, recent: int) -> DigestRows:
    """The `recent` newest digests, each subscription's latest, and the `recent` newest failing ones."""
    newest = _digests(rows, f"{_DIGEST} ORDER BY claimed_at DESC, id DESC LIMIT :n", n=recent)
    last = _digests(rows, f"{_DIGEST} WHERE id IN (SELECT max(id) FROM digest GROUP BY subscription_id)")
    failing = _digests(
        rows,
        f"{_DIGEST} WHERE status = 'failed' OR (status = 'claimed' AND error IS NOT NULL)"
        " ORDER BY claimed_at DESC LIMIT :n",
        n=recent,
    )
    return DigestRows(newest, {d.subscription_id: d for d in last}, failing)


def queue_counts(rows: Rows) -> QueueCounts | None:
    """Distributed mode's jobs by state (None on SQLite, which has no queue). Retrying: waiting to run
    again after a failed or stalled attempt."""
    if rows.dialect != "postgresql":
        return None
    counts = rows.first(
        "SELECT count(*) FILTER (WHERE status = 'todo' AND attempts = 0) AS pending,"
        " count(*) FILTER (WHERE status = 'doing') AS running,"
        " count(*) FILTER (WHERE status = 'todo' AND attempts > 0) AS retrying,"
        " count(*) FILTER (WHERE status = 'failed') AS failed"
        " FROM procrastinate_jobs"
    )
    return QueueCounts(int(counts.pending), int(counts.running), int(counts.retrying), int(counts.failed))


# ---- votes -----------------------------------------------------------------------------------


def record_vote(
    rows: Rows,
    *,
    subscriber_id: int,
    listing_id: int,
    vote: str,
    via: VoteVia,
    digest_item_id: int | None,
    now: datetime,
) -> FeedbackResult:
    """One row per (subscriber, paper): repeating a vote changes nothing; a different vote replaces
    the earlier one."""
    vote = parse_vote(vote)
    if rows.first("SELECT id FROM subscriber WHERE id = :id", id=subscriber_id) is None:
        raise no_subscriber(subscriber_id)
    listing = rows.first("SELECT title FROM listing WHERE id = :id", id=listing_id)
    if listing is None:
        raise NotFound(f"no listing {listing_id}; `paperbot listings` shows the stored ids")
    mine = {"subscriber": subscriber_id, "listing": listing_id}
    current = rows.first(
        "SELECT id, vote, digest_item_id FROM feedback"
        " WHERE subscriber_id = :subscriber AND listing_id = :listing",
        **mine,
    )
    changed = current is None or current.vote != vote
    if current is None:
        rows.run(
            "INSERT INTO feedback"
            " (subscriber_id, listing_id, digest_item_id, vote, via, created_at, updated_at)"
            " VALUES (:subscriber, :listing, :item, :vote, :via, :now, :now)",
            **mine,
            item=digest_item_id,
            vote=vote,
            via=via,
            now=rows.time(now),
        )
    elif changed:
        rows.run(
            "UPDATE feedback SET vote = :vote, via = :via, updated_at = :now, digest_item_id = :item"
            " WHERE id = :id",
            id=current.id,
            vote=vote,
            via=via,
            now=rows.time(now),
            item=digest_item_id or current.digest_item_id,
        )
    # a second click or a replayed link: nothing new to learn from
    again = "" if changed else " already recorded"
    log.info("feedback: subscriber %d %s listing %d via %s%s", subscriber_id, vote, listing_id, via, again)
    return FeedbackResult(subscriber_id, listing_id, vote, changed=changed, title=listing.title)
