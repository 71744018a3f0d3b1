"""Subscribers, their interests and subscriptions: validation and database work (no ranking here)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot import views
from bot.errors import InvalidInput, NotFound
from bot.ingest.sources.ids import normalise_doi, parse_arxiv_id
from bot.inputs import Schedule, ScheduleChange, check_email
from bot.records import SubscriberView
from bot.vocab import parse_frequency
from storage import models
from storage.rows import rows_of

__all__ = [
    "schedule_of",
    "Identity",
    "upsert_subscription",
    "set_schedule",
    "get_subscriber",
    "find_subscriber",
    "subscriber_view",
    "resolve_seed",
]


def get_subscriber(session: Session, subscriber_id: int) -> models.Subscriber:
    row = session.get(models.Subscriber, subscriber_id)
    if row is None:
        raise views.no_subscriber(subscriber_id)
    return row


def find_subscriber(
    session: Session,
    *,
    email: str | None = None,
    slack_user_id: str | None = None,
    slack_channel_id: str | None = None,
) -> models.Subscriber | None:
    query = select(models.Subscriber)
    if slack_channel_id:
        query = query.where(models.Subscriber.slack_channel_id == slack_channel_id)
    elif slack_user_id:
        query = query.where(
            models.Subscriber.slack_user_id == slack_user_id, models.Subscriber.kind == "person"
        )
    elif email:
        query = query.where(func.lower(models.Subscriber.email) == email.lower())
    else:
        return None
    return session.exec(query.order_by(col(models.Subscriber.id))).first()


def subscriber_view(session: Session, row: models.Subscriber) -> SubscriberView:
    assert row.id is not None
    return views.subscriber(rows_of(session), row.id)


def resolve_seed(session: Session, reference: str) -> models.Listing:
    """A stored listing named by arXiv id/URL, DOI, canonical id or paperbot listing id."""
    ref = reference.strip()
    row: models.Listing | None = None
    if ref.isdigit():
        row = session.get(models.Listing, int(ref))
    elif (arxiv := parse_arxiv_id(ref)) is not None:
        row = session.exec(select(models.Listing).where(models.Listing.arxiv_id == arxiv[0])).first()
    elif (doi := normalise_doi(ref)) is not None:
        row = session.exec(select(models.Listing).where(models.Listing.doi == doi)).first()
    else:
        row = session.exec(select(models.Listing).where(models.Listing.canonical_id == ref)).first()
    if row is None:
        raise NotFound(
            f"seed paper {reference!r} is not in the database and was not found on arXiv or Crossref; "
            "check the id, or ingest a feed that has the paper first"
        )
    return row


@dataclass(frozen=True)
class Identity:
    """Who a subscriber is: exactly one of an email address, a Slack user or a Slack channel."""

    email: str | None = None
    slack_user_id: str | None = None
    slack_channel_id: str | None = None
    slack_team_id: str | None = None
    name: str = ""

    @classmethod
    def of(
        cls,
        *,
        email: str | None,
        slack_user_id: str | None,
        slack_channel_id: str | None,
        slack_team_id: str | None = None,
        name: str = "",
    ) -> Identity:
        if sum(bool(x) for x in (email, slack_user_id, slack_channel_id)) != 1:
            raise InvalidInput("give exactly one of an email address, a Slack user or a Slack channel")
        return cls(
            email=check_email(email) if email else None,
            slack_user_id=slack_user_id or None,
            slack_channel_id=slack_channel_id or None,
            slack_team_id=slack_team_id,
            name=name.strip(),
        )

    def delivery(self, deliver_to_email: str | None = None) -> tuple[str, str]:
        """(channel, target): email to the address, Slack to the channel or the user's DM."""
        if deliver_to_email:
            return "email", check_email(deliver_to_email)
        if self.email:
            return "email", self.email
        return "slack", self.slack_channel_id or self.slack_user_id or ""

    def get_or_create(self, session: Session) -> models.Subscriber:
        row = find_subscriber(
            session,
            email=self.email,
            slack_user_id=self.slack_user_id,
            slack_channel_id=self.slack_channel_id,
        )
        if row is None:
            row = models.Subscriber(
                name=self.name or self.email or self.slack_channel_id or self.slack_user_id or "",
                kind="channel" if self.slack_channel_id else "person",
                email=self.email,
                slack_user_id=self.slack_user_id,
                slack_channel_id=self.slack_channel_id,
                slack_team_id=self.slack_team_id,
            )
            session.add(row)
            session.flush()
        elif self.name and row.name != self.name:  # e.g. the person's Slack name, looked up again
            row.name = self.name
            session.add(row)
        return row


def schedule_of(row: models.Subscription) -> Schedule:
    """The schedule a stored subscription has."""
    return Schedule(
        frequency=parse_frequency(row.frequency),
        send_time=row.send_time,
        timezone=row.timezone,
        weekday=row.weekday,
        digest_size=row.digest_size,
        always_send=row.always_send,
    )


def set_schedule(row: models.Subscription, schedule: Schedule) -> None:
    for field in fields(schedule):
        setattr(row, field.name, getattr(schedule, field.name))
    row.next_due_at = None  # the next tick plans it from the new schedule (bot.digests.store.take_due)


def upsert_subscription(
    session: Session, subscriber_id: int, channel: str, target: str, change: Schedule | ScheduleChange
) -> models.Subscription:
    """The subscription for this delivery target, created (the default schedule with `change`) or
    changed where `change` says (a ScheduleChange keeps what it leaves None), and resumed."""
    row = session.exec(
        select(models.Subscription).where(
            models.Subscription.subscriber_id == subscriber_id,
            models.Subscription.channel == channel,
            models.Subscription.target == target,
        )
    ).first()
    current = schedule_of(row) if row else Schedule()
    row = row or models.Subscription(subscriber_id=subscriber_id, channel=channel, target=target)
    set_schedule(row, change if isinstance(change, Schedule) else change.applied_to(current))
    row.active, row.paused_reason, row.paused_until = True, None, None
    session.add(row)
    session.flush()
    return row
