"""Digest rows: claim a (subscription, period) before sending, store its items, record the outcome.

A claim is a Digest row under the unique (subscription_id, period) key, inserted together with its
items in one transaction: a concurrent or repeated claim hits the key and loses cleanly, and a digest
never exists without the items it will send. Status: claimed -> sent | empty | failed.

A claimed digest whose attempt ended with a temporary error (`error` set), or whose claimer vanished
(older than the lease), is taken over by the next run with a compare-and-swap on `attempts`, and sent
with the same items. Every later write names the attempt, so a run that lost its claim cannot
overwrite the outcome of the run that took it over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from bot.digests.period import Period
from bot.errors import NotFound
from bot.records import DigestEntry, DigestView, LastDigest, ListingView, Recommendation, SubscriptionView
from bot.vocab import DigestStatus, ViewStatus, parse_digest_status
from storage import models
from storage.db import session_scope

__all__ = [
    "Claim",
    "Found",
    "find",
    "claim",
    "take_over",
    "finish",
    "digest_view",
    "preview_view",
    "entry",
    "last_digest",
]

LEASE = timedelta(minutes=15)  # a claim older than this, still without an outcome, was abandoned


@dataclass(frozen=True)
class Found:
    id: int
    status: str
    attempts: int
    error: str | None
    claimed_at: datetime
    message_ref: str | None


@dataclass(frozen=True)
class Claim:
    """The right to send one digest, held by one attempt."""

    digest_id: int
    attempt: int


def find(engine: Engine, subscription_id: int, period: str) -> Found | None:
    with session_scope(engine) as session:
        row = session.exec(
            select(models.Digest).where(
                models.Digest.subscription_id == subscription_id, models.Digest.period == period
            )
        ).first()
        if row is None or row.id is None:
            return None
        return Found(row.id, row.status, row.attempts, row.error, row.claimed_at, row.message_ref)


def claim(
    engine: Engine, subscription_id: int, period: Period, picks: Sequence[Recommendation], *, now: datetime
) -> Claim | None:
    """Insert the digest and its items; None when another run holds the key already."""
    try:
        with session_scope(engine) as session:
            digest = models.Digest(
                subscription_id=subscription_id, period=period.key, attempts=1, claimed_at=now
            )
            session.add(digest)
            session.flush()
            assert digest.id is not None
            if picks:  # one statement for all items: a digest's cost does not grow with its size
                session.connection().execute(
                    insert(models.DigestItem),
                    [
                        {
                            "digest_id": digest.id,
                            "listing_id": pick.listing.id,
                            "position": position,
                            "score": pick.score,
                            "reason": pick.reason,
                            "interest_id": pick.interest_id,
                        }
                        for position, pick in enumerate(picks, start=1)
                    ],
                )
            return Claim(digest.id, 1)
    except IntegrityError:
        return None


def take_over(engine: Engine, found: Found, *, now: datetime) -> Claim | None:
    """Claim a digest left unsent (temporary failure or abandoned); None if it is in progress or
    another run took it first."""
    with session_scope(engine) as session:
        result = session.connection().execute(
            update(models.Digest)
            .where(
                and_(
                    col(models.Digest.id) == found.id,
                    col(models.Digest.status) == "claimed",
                    col(models.Digest.attempts) == found.attempts,
                    or_(col(models.Digest.error).is_not(None), col(models.Digest.claimed_at) < now - LEASE),
                )
            )
            .values(attempts=found.attempts + 1, claimed_at=now, error=None)
        )
        won = result.rowcount == 1
    return Claim(found.id, found.attempts + 1) if won else None


def finish(
    engine: Engine,
    held: Claim,
    *,
    status: DigestStatus,
    error: str | None = None,
    sent_at: datetime | None = None,
    message_ref: str | None = None,
) -> None:
    """Record the attempt's outcome; status "claimed" with an error means "retry on the next run"."""
    with session_scope(engine) as session:
        session.connection().execute(
            update(models.Digest)
            .where(
                col(models.Digest.id) == held.digest_id,
                col(models.Digest.attempts) == held.attempt,
                col(models.Digest.status) == "claimed",
            )
            .values(status=status, error=error, sent_at=sent_at, message_ref=message_ref)
        )


def _header(session: Session, subscription_id: int) -> tuple[models.Subscriber, tuple[str, ...]]:
    subscription = session.get(models.Subscription, subscription_id)
    if subscription is None:
        raise NotFound(f"no subscription {subscription_id}")
    subscriber = session.get(models.Subscriber, subscription.subscriber_id)
    assert subscriber is not None
    labels = session.exec(
        select(models.Interest.label)
        .where(models.Interest.subscriber_id == subscriber.id)
        .order_by(col(models.Interest.id))
    ).all()
    return subscriber, tuple(labels)


def digest_view(
    engine: Engine, digest_id: int, *, period: Period, subscription: SubscriptionView
) -> DigestView:
    """A stored digest with its items in order, ready to render."""
    with session_scope(engine) as session:
        digest = session.get(models.Digest, digest_id)
        if digest is None:
            raise NotFound(f"no digest {digest_id}")
        subscriber, interests = _header(session, digest.subscription_id)
        rows = session.exec(
            select(models.DigestItem, models.Listing, models.Interest.label)
            .join(models.Listing, col(models.Listing.id) == col(models.DigestItem.listing_id))
            .outerjoin(models.Interest, col(models.Interest.id) == col(models.DigestItem.interest_id))
            .where(models.DigestItem.digest_id == digest_id)
            .order_by(col(models.DigestItem.position))
        ).all()
        entries = tuple(
            DigestEntry(
                item_id=item.id or 0,
                position=item.position,
                listing=ListingView.of(listing),
                score=item.score,
                reason=item.reason,
                interest_label=label,
            )
            for item, listing, label in rows
        )
        status = parse_digest_status(digest.status)
        return _view(digest_id, status, subscriber, interests, entries, period, subscription)


def preview_view(
    engine: Engine, picks: Sequence[Recommendation], *, period: Period, subscription: SubscriptionView
) -> DigestView:
    """What a digest would hold, stored nowhere (dry runs); its items have id 0."""
    with session_scope(engine) as session:
        subscriber, interests = _header(session, subscription.id)
    entries = tuple(
        DigestEntry(
            item_id=0,
            position=n,
            listing=pick.listing,
            score=pick.score,
            reason=pick.reason,
            interest_label=pick.interest_label,
        )
        for n, pick in enumerate(picks, start=1)
    )
    return _view(0, "preview", subscriber, interests, entries, period, subscription)


def _view(
    digest_id: int,
    status: ViewStatus,
    subscriber: models.Subscriber,
    interests: tuple[str, ...],
    entries: tuple[DigestEntry, ...],
    period: Period,
    subscription: SubscriptionView,
) -> DigestView:
    assert subscriber.id is not None
    return DigestView(
        id=digest_id,
        subscription_id=subscription.id,
        subscriber_id=subscriber.id,
        subscriber_name=subscriber.name,
        channel=subscription.channel,
        target=subscription.target,
        period=period.key,
        period_start=period.start,
        period_end=period.end,
        interests=interests,
        entries=entries,
        status=status,
    )


def entry(engine: Engine, item_id: int) -> DigestEntry:
    """One digest item with its paper (for the web pages)."""
    with session_scope(engine) as session:
        found = session.exec(
            select(models.DigestItem, models.Listing)
            .join(models.Listing, col(models.Listing.id) == col(models.DigestItem.listing_id))
            .where(models.DigestItem.id == item_id)
        ).first()
        if found is None:
            raise NotFound("This paper is no longer in our records, so the link cannot be used.")
        item, listing = found
        return DigestEntry(
            item_id=item_id,
            position=item.position,
            listing=ListingView.of(listing),
            score=item.score,
            reason=item.reason,
            interest_label=None,
        )


def last_digest(engine: Engine, subscriber_id: int) -> LastDigest | None:
    """The subscriber's last digest that delivered papers, and how many listings were first seen after
    it; None when none was ever sent."""
    with session_scope(engine) as session:
        sent_at = session.exec(
            select(func.max(models.Digest.sent_at))
            .join(models.Subscription, col(models.Subscription.id) == col(models.Digest.subscription_id))
            .where(models.Subscription.subscriber_id == subscriber_id, models.Digest.status == "sent")
        ).one()
        if sent_at is None:
            return None
        since = select(func.count()).where(col(models.Listing.first_seen) > sent_at)
        return LastDigest(sent_at, int(session.exec(since).one()))
