"""Digest rows: claim a (subscription, period) before sending, store its items, record the outcome.

A claim is a Digest row under the unique (subscription_id, period) key, inserted together with its
items in one transaction: a concurrent or repeated claim hits the key and loses cleanly, and a digest
never exists without the items it will send. Status: claimed -> sent | empty | failed.

A claimed digest whose attempt ended with a temporary error (`error` set), or whose claimer vanished
(older than the lease), is taken over by the next run with a compare-and-swap on `attempts`, and sent
with the same items. A claim made by a queue job carries the job's id and attempt: a retry of that same
job (its worker was killed) takes the claim over at once, since the attempt that made it is known dead;
any other run waits for the lease. Every later write names the attempt, so a run that lost its claim
cannot overwrite the outcome of the run that took it over.

The schedule lives on the subscription: `next_due_at` is when a tick should next look at it.
`take_due` selects the due ones and pushes them a hand-off lease ahead (so a chunk that never ran is
looked at again), and `plan` sets the next time after a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, bindparam, insert, or_, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from bot.digests.period import Period, next_send_after
from bot.errors import NotFound
from bot.records import (
    DigestEntry,
    DigestView,
    JobRef,
    LastDigest,
    ListingView,
    Recommendation,
    SubscriptionView,
)
from bot.views import resume_ended_pauses
from bot.vocab import DigestStatus, ViewStatus, parse_digest_status
from storage import models
from storage.db import session_scope
from storage.rows import rows_of

__all__ = [
    "Claim",
    "Found",
    "find",
    "claim",
    "take_over",
    "finish",
    "release_interrupted",
    "release_handed",
    "statuses",
    "take_due",
    "plan_new",
    "plan",
    "digest_view",
    "preview_view",
    "entry",
    "last_digest",
    "INTERRUPTED",
]

LEASE = timedelta(minutes=15)  # a claim older than this, still without an outcome, was abandoned
INTERRUPTED = "interrupted: the process sending it stopped before recording the outcome"
_KEYS_PER_QUERY = 500  # ids in one IN list: far below SQLite's and PostgreSQL's parameter limits


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
    engine: Engine,
    subscription_id: int,
    period: Period,
    picks: Sequence[Recommendation],
    *,
    now: datetime,
    job: JobRef | None = None,
) -> Claim | None:
    """Insert the digest and its items; None when another run holds the key already."""
    try:
        with session_scope(engine) as session:
            digest = models.Digest(
                subscription_id=subscription_id,
                period=period.key,
                attempts=1,
                claimed_at=now,
                job_id=job.id if job else None,
                job_attempt=job.attempt if job else None,
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


def take_over(engine: Engine, found: Found, *, now: datetime, job: JobRef | None = None) -> Claim | None:
    """Claim a digest left unsent (temporary failure, abandoned, or claimed by an earlier attempt of
    `job`); None if it is in progress or another run took it first."""
    digest = models.Digest
    left = [col(digest.error).is_not(None), col(digest.claimed_at) < now - LEASE]
    if job is not None:
        left.append(and_(col(digest.job_id) == job.id, col(digest.job_attempt) < job.attempt))
    with session_scope(engine) as session:
        result = session.connection().execute(
            update(digest)
            .where(
                and_(
                    col(digest.id) == found.id,
                    col(digest.status) == "claimed",
                    col(digest.attempts) == found.attempts,
                    or_(*left),
                )
            )
            .values(
                attempts=found.attempts + 1,
                claimed_at=now,
                error=None,
                job_id=job.id if job else None,
                job_attempt=job.attempt if job else None,
            )
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


def release_interrupted(engine: Engine, *, before: datetime) -> int:
    """Mark digests claimed before `before` and still without an outcome as retryable; returns how many.
    Only a process that knows no other sender is running may call this: the embedded scheduler when it
    has just taken the leader lock. (A one-off `paperbot digest` sending at that very second would be
    retried too; its mail carries the same Message-ID, which mail clients fold.)"""
    with session_scope(engine) as session:
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
        return int(result.rowcount)


def release_handed(engine: Engine, *, now: datetime, lease: timedelta = LEASE) -> int:
    """Replan every subscription due again within `lease`: the ones a dead process was handed (their
    hand-off lease still runs) and the ones waiting for a retry; returns how many. The next tick plans
    them from their creation, which sends a missed latest period once and skips a settled one. Only a
    process that knows no other scheduler runs may call this (the embedded leader when it takes over)."""
    due = col(models.Subscription.next_due_at)
    with session_scope(engine) as session:
        result = session.connection().execute(
            update(models.Subscription).where(due > now, due <= now + lease).values(next_due_at=None)
        )
        return int(result.rowcount)


def statuses(engine: Engine, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """The status of the digest of each (subscription, period) key that has one, in a query per 500."""
    found: dict[tuple[int, str], str] = {}
    digest = models.Digest
    with session_scope(engine) as session:
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            part = keys[start : start + _KEYS_PER_QUERY]
            rows = session.exec(
                select(digest.subscription_id, digest.period, digest.status).where(
                    tuple_(col(digest.subscription_id), col(digest.period)).in_(part)
                )
            ).all()
            found.update({(sub_id, period): status for sub_id, period, status in rows})
    return found


def plan_new(engine: Engine) -> None:
    """Plan the subscriptions that have no plan yet (see `_plan_new`); `take_due` does it first."""
    with session_scope(engine) as session:
        _plan_new(session)


def _plan_new(session: Session) -> None:
    """Subscriptions without a plan (new, rescheduled, resumed) are due at their first send time at or
    after their creation: a period that ended before the subscription existed is never sent, and one
    missed since (downtime, a paused stretch) is sent once as a catch-up."""
    rows = session.exec(
        select(models.Subscription).where(
            col(models.Subscription.active), col(models.Subscription.next_due_at).is_(None)
        )
    ).all()
    first = [
        (row.id, next_send_after(SubscriptionView.of(row), row.created_at - _JUST_BEFORE)) for row in rows
    ]
    _set_due(session, [(sub_id, due) for sub_id, due in first if sub_id is not None], planned=False)


_JUST_BEFORE = timedelta(microseconds=1)


def _set_due(session: Session, plans: Sequence[tuple[int, datetime]], *, planned: bool) -> None:
    """`next_due_at` for each subscription whose plan is still what the caller read: set (`planned`)
    or NULL, so a concurrent reschedule is never overwritten."""
    if not plans:
        return
    due = col(models.Subscription.next_due_at)
    unchanged = due.is_not(None) if planned else due.is_(None)
    session.connection().execute(
        update(models.Subscription)
        .where(col(models.Subscription.id) == bindparam("sid"), unchanged)
        .values(next_due_at=bindparam("due")),
        [{"sid": sub_id, "due": when} for sub_id, when in plans],
    )


def take_due(engine: Engine, *, now: datetime, lease: timedelta = LEASE) -> list[int]:
    """Active subscriptions due at `now`, oldest first; each is pushed `lease` ahead in the same
    transaction, so it is handed on once and looked at again if the run it was handed to never ends.
    Pauses that ended by `now` are resumed first, so both modes resume them on time.
    On PostgreSQL rows another tick holds are skipped (FOR UPDATE SKIP LOCKED), not waited for."""
    sub = models.Subscription
    with session_scope(engine) as session:
        resume_ended_pauses(rows_of(session), now=now)
        _plan_new(session)
        ids = [
            sub_id
            for sub_id in session.exec(
                select(sub.id)
                .where(col(sub.active), col(sub.next_due_at) <= now)
                .order_by(col(sub.next_due_at), col(sub.id))
                .with_for_update(skip_locked=True)
            ).all()
            if sub_id is not None
        ]
        for start in range(0, len(ids), _KEYS_PER_QUERY):
            session.connection().execute(
                update(sub)
                .where(col(sub.id).in_(ids[start : start + _KEYS_PER_QUERY]))
                .values(next_due_at=now + lease)
            )
    return ids


def plan(engine: Engine, plans: Sequence[tuple[int, datetime]]) -> None:
    """Set when each subscription is due next, unless it was rescheduled meanwhile (NULL: replanned by
    the next tick from its new schedule)."""
    with session_scope(engine) as session:
        _set_due(session, plans, planned=True)


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
