"""SQLModel tables. The schema itself comes from the Alembic migrations in storage/migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    LargeBinary,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

__all__ = [
    "utcnow",
    "Listing",
    "Embedding",
    "Source",
    "Subscriber",
    "Interest",
    "Subscription",
    "Digest",
    "DigestItem",
    "Feedback",
    "ProcessedEvent",
    "SlackMessage",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; always returns aware UTC (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: paperbot stores timezone-aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _created() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def _json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


# A paper, merged across every source and version that reported it.
class Listing(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    canonical_id: str = Field(sa_column=Column(String(300), unique=True, nullable=False))
    arxiv_id: str | None = Field(default=None, index=True, max_length=64)
    doi: str | None = Field(default=None, index=True, max_length=255)
    source_ids: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    title: str
    abstract: str = ""
    authors: list[str] = _json_list()
    categories: list[str] = _json_list()
    abs_url: str | None = None
    pdf_url: str | None = None
    published: datetime | None = _when(index=True)
    updated: datetime | None = _when()
    version: int | None = None
    sources: list[str] = _json_list()
    upvotes: int | None = None
    content_hash: str = Field(index=True, max_length=64)
    first_seen: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    last_seen: datetime = _created()


# One vector per (model, text): unchanged text is never embedded twice.
class Embedding(SQLModel, table=True):
    model: str = Field(primary_key=True, max_length=300)
    content_hash: str = Field(primary_key=True, max_length=64)
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = _created()


# A configured feed: URL or file path, with its conditional-GET state and last outcome.
class Source(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column=Column(String(2000), unique=True, nullable=False))
    enabled: bool = False  # part of the configured set (`sources add`); ad hoc ingests are only tracked
    kind: str | None = None  # family detected on the last successful fetch
    etag: str | None = None
    last_modified: str | None = None
    last_success_at: datetime | None = _when()
    last_error: str | None = None
    last_error_at: datetime | None = _when()
    last_counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _created()


# A profile owner: a person, or a channel with a shared profile.
class Subscriber(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = ""
    kind: str = "person"  # person | channel
    email: str | None = Field(default=None, index=True, max_length=320)
    slack_user_id: str | None = Field(default=None, index=True, max_length=64)
    slack_channel_id: str | None = Field(default=None, index=True, max_length=64)
    slack_team_id: str | None = Field(default=None, max_length=64)
    followed_authors: list[str] = _json_list()
    muted_keywords: list[str] = _json_list()
    created_at: datetime = _created()


# One distinct interest of a subscriber: free text and/or seed papers; its vector is cached.
class Interest(SQLModel, table=True):
    # Never reuse an id (SQLite would after a removal): ids reach users in buttons and commands.
    __table_args__ = {"sqlite_autoincrement": True}
    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True, ondelete="CASCADE")
    label: str
    text: str | None = None
    seed_listing_ids: list[int] = _json_list()
    # "title. abstract" of seed papers that are not listings (a BibTeX import), so the interest can be
    # embedded again when the model changes.
    seed_texts: list[str] = _json_list()
    # Keys ("arxiv:…", "doi:…", "title:<hash>") of the papers it was made from: the subscriber's own
    # library, never recommended back to them, and what makes importing the same papers again a no-op.
    library_keys: list[str] = _json_list()
    vector: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    vector_model: str | None = None
    created_at: datetime = _created()


# Where and when a subscriber's digest goes.
class Subscription(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True, ondelete="CASCADE")
    channel: str  # email | slack | outbox
    target: str  # address, Slack channel/user id, or outbox name
    frequency: str = "daily"  # daily | weekdays | weekly
    send_time: str = "08:00"  # HH:MM local time
    timezone: str = "UTC"
    weekday: int = 0  # for weekly: 0 = Monday
    digest_size: int = 10
    always_send: bool = False  # send a short note on days with nothing above the bar
    active: bool = True
    paused_reason: str | None = None
    paused_until: datetime | None = _when()  # a pause "for 2 weeks": resumed at the first run after this
    created_at: datetime = _created()
    # When a tick should next look at it (bot.schedule.tick): its next send time, a retry time, or the
    # end of a hand-off lease. NULL: not planned yet (new, rescheduled or resumed).
    next_due_at: datetime | None = _when(index=True)


# A digest for one subscription and one period, claimed before it is sent (unique key).
class Digest(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("subscription_id", "period", name="uq_digest_subscription_period"),)
    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="subscription.id", index=True, ondelete="CASCADE")
    period: str = Field(max_length=32)  # e.g. "2026-11-23" (daily) or "2026-W48" (weekly)
    status: str = "claimed"  # claimed | sent | empty | failed
    attempts: int = 0
    error: str | None = None
    message_ref: str | None = None  # Message-ID, Slack ts, or outbox path
    claimed_at: datetime = _created()
    sent_at: datetime | None = _when()
    # The queue job (procrastinate) and its attempt that hold the claim: a retry of that job takes the
    # claim over at once instead of waiting for the lease. NULL when claimed outside a queue job.
    job_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    job_attempt: int | None = None


class DigestItem(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    digest_id: int = Field(foreign_key="digest.id", index=True, ondelete="CASCADE")
    listing_id: int = Field(foreign_key="listing.id", index=True)
    position: int
    score: float
    reason: str
    interest_id: int | None = None


# The latest vote of a subscriber on a listing (repeated votes: last one wins).
class Feedback(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("subscriber_id", "listing_id", name="uq_feedback_subscriber_listing"),)
    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True, ondelete="CASCADE")
    listing_id: int = Field(foreign_key="listing.id", index=True)
    digest_item_id: int | None = Field(default=None, foreign_key="digestitem.id")
    vote: str  # up | down | save
    via: str = "cli"  # cli | email | slack_button | slack_reaction
    created_at: datetime = _created()
    updated_at: datetime = _created()


# Idempotency keys: Slack event ids, used one-time tokens.
class ProcessedEvent(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=300)
    created_at: datetime = _created()


# A Slack message paperbot posted for a digest; a reaction on it names the paper when it shows one.
class SlackMessage(SQLModel, table=True):
    channel_id: str = Field(primary_key=True, max_length=64)
    ts: str = Field(primary_key=True, max_length=32)
    digest_id: int = Field(foreign_key="digest.id", index=True, ondelete="CASCADE")
    digest_item_id: int | None = Field(default=None, foreign_key="digestitem.id", ondelete="CASCADE")
    created_at: datetime = _created()
