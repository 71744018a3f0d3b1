"""Frozen records that the service hands to front ends (CLI, Slack, web): never live ORM rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from bot.vocab import (
    Channel,
    DigestOutcome,
    Frequency,
    MoveCause,
    SourceStatus,
    ViewStatus,
    Vote,
    parse_channel,
    parse_frequency,
)
from storage.rows import json_value, utc

__all__ = ["ListingView", "SourceReport", "IngestReport", "SourceView", "to_json"]


def to_json(record: Any) -> Any:
    """A JSON-ready dict of a record (datetimes as ISO 8601)."""

    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [convert(item) for item in value]
        return value

    return convert(asdict(record))


@dataclass(frozen=True)
class ListingView:
    id: int
    canonical_id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    arxiv_id: str | None
    doi: str | None
    version: int | None
    abs_url: str | None
    pdf_url: str | None
    published: datetime | None
    first_seen: datetime
    sources: tuple[str, ...]
    upvotes: int | None

    @classmethod
    def of(cls, row: Any) -> ListingView:
        """From a `models.Listing` or a plain row of its columns (bot.views)."""
        assert row.id is not None
        return cls(
            id=row.id,
            canonical_id=row.canonical_id,
            title=row.title,
            abstract=row.abstract,
            authors=tuple(json_value(row.authors)),
            categories=tuple(json_value(row.categories)),
            arxiv_id=row.arxiv_id,
            doi=row.doi,
            version=row.version,
            abs_url=row.abs_url,
            pdf_url=row.pdf_url,
            published=utc(row.published),
            first_seen=utc(row.first_seen),
            sources=tuple(json_value(row.sources)),
            upvotes=row.upvotes,
        )


@dataclass(frozen=True)
class SourceReport:
    """What one ingest run did with one source."""

    source: str
    status: SourceStatus
    family: str | None = None
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    skipped: int = 0  # records in the feed that could not be read (no title, not a record)
    error: str | None = None


@dataclass(frozen=True)
class IngestReport:
    sources: tuple[SourceReport, ...]
    embedded: int = 0
    totals: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, reports: list[SourceReport], embedded: int) -> IngestReport:
        totals = {
            "new": sum(r.new for r in reports),
            "updated": sum(r.updated for r in reports),
            "duplicate": sum(r.duplicate for r in reports),
            "skipped": sum(r.skipped for r in reports),
            "failed": sum(r.status == "failed" for r in reports),
        }
        return cls(sources=tuple(reports), embedded=embedded, totals=totals)


@dataclass(frozen=True)
class SourceView:
    id: int
    url: str
    enabled: bool
    kind: str | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    last_counts: dict[str, int]

    @classmethod
    def of(cls, row: Any) -> SourceView:
        """From a `models.Source` or a plain row of its columns (bot.views)."""
        assert row.id is not None
        return cls(
            id=row.id,
            url=row.url,
            enabled=bool(row.enabled),
            kind=row.kind,
            last_success_at=utc(row.last_success_at),
            last_error=row.last_error,
            last_error_at=utc(row.last_error_at),
            last_counts=dict(json_value(row.last_counts)),
        )


@dataclass(frozen=True)
class InterestView:
    id: int
    label: str
    text: str | None
    seed_listing_ids: tuple[int, ...]


@dataclass(frozen=True)
class SubscriptionView:
    id: int
    subscriber_id: int
    channel: Channel
    target: str  # email address, Slack channel or user id, outbox name
    frequency: Frequency
    send_time: str  # HH:MM local
    timezone: str
    weekday: int
    digest_size: int
    always_send: bool
    active: bool
    paused_reason: str | None
    paused_until: datetime | None = None  # set for a pause with an end date

    @classmethod
    def of(cls, row: Any) -> SubscriptionView:
        """From a `models.Subscription` or a plain row of its columns (bot.views)."""
        assert row.id is not None
        return cls(
            id=row.id,
            subscriber_id=row.subscriber_id,
            channel=parse_channel(row.channel),
            target=row.target,
            frequency=parse_frequency(row.frequency),
            send_time=row.send_time,
            timezone=row.timezone,
            weekday=row.weekday,
            digest_size=row.digest_size,
            always_send=bool(row.always_send),
            active=bool(row.active),
            paused_reason=row.paused_reason,
            paused_until=utc(row.paused_until),
        )


@dataclass(frozen=True)
class SubscriberView:
    id: int
    name: str
    kind: str  # person | channel
    email: str | None
    slack_user_id: str | None
    slack_channel_id: str | None
    interests: tuple[InterestView, ...]
    subscriptions: tuple[SubscriptionView, ...]
    followed_authors: tuple[str, ...]
    muted_keywords: tuple[str, ...]
    votes: dict[str, int]  # counts by vote: up / down / save


@dataclass(frozen=True)
class MatchRequest:
    """Rank papers first seen since `since` (None: ever) for one subscriber, at most `limit`."""

    subscriber_id: int
    since: datetime | None
    limit: int = 10


@dataclass(frozen=True)
class Moved:
    """Why a paper is shown below one with a lower score: the digest is picked greedily, each step
    taking the best score after a penalty for closeness to the papers already picked (diversity), while
    each interest with a confident match keeps some slots (slot)."""

    below: int  # 1-based position of the first paper above it with a lower score
    cause: MoveCause
    near: int | None = None  # diversity: 1-based position of the earlier pick it is closest to
    cosine: float | None = None  # diversity: its cosine to that pick


@dataclass(frozen=True)
class Recommendation:
    """One ranked paper for a subscriber, with why it was picked (and, if it is shown below a paper
    with a lower score, why)."""

    listing: ListingView
    score: float
    reason: str
    interest_id: int | None
    interest_label: str | None
    moved: Moved | None = None


@dataclass(frozen=True)
class LastDigest:
    """When a subscriber's last digest with papers was sent, and how many papers arrived since."""

    sent_at: datetime
    new_papers: int


@dataclass(frozen=True)
class DigestEntry:
    """One paper in a digest; `item_id` is what feedback buttons and links carry."""

    item_id: int
    position: int
    listing: ListingView
    score: float
    reason: str
    interest_label: str | None


@dataclass(frozen=True)
class DigestView:
    """A claimed digest, ready to render for its channel."""

    id: int
    subscription_id: int
    subscriber_id: int
    subscriber_name: str
    channel: Channel
    target: str
    period: str
    period_start: datetime
    period_end: datetime
    interests: tuple[str, ...]
    entries: tuple[DigestEntry, ...]
    status: ViewStatus


@dataclass(frozen=True)
class QueueCounts:
    """Distributed mode's queue: jobs waiting, running, waiting to run again, and failed for good."""

    pending: int
    running: int
    retrying: int
    failed: int


@dataclass(frozen=True)
class JobRef:
    """The queue job running a delivery (procrastinate's job id, and how many attempts came before)."""

    id: int
    attempt: int


@dataclass(frozen=True)
class DigestResult:
    """What one digest run did: sent, empty (nothing above the bar), skipped (already sent or claimed
    elsewhere), retry (temporary failure, the next run retries), failed (permanent), dry_run."""

    subscription_id: int
    period: str
    status: DigestOutcome
    digest_id: int | None = None
    items: int = 0
    location: str | None = None  # outbox path, Message-ID or Slack ts
    error: str | None = None


@dataclass(frozen=True)
class FeedbackResult:
    subscriber_id: int
    listing_id: int
    vote: Vote | None  # None when a vote was withdrawn
    changed: bool  # False when the same vote was already recorded
    title: str  # the paper's, so a confirmation needs no second query
