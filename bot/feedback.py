"""Votes: 👍 up, 👎 down, 🔖 save. One row per (subscriber, paper); the last vote wins."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.errors import NotFound
from bot.records import FeedbackResult
from bot.vocab import parse_vote
from storage import models

__all__ = ["withdraw_vote", "item_owner"]


def _current(session: Session, subscriber_id: int, listing_id: int) -> models.Feedback | None:
    return session.exec(
        select(models.Feedback).where(
            models.Feedback.subscriber_id == subscriber_id, models.Feedback.listing_id == listing_id
        )
    ).first()


def item_owner(session: Session, digest_item_id: int) -> tuple[models.DigestItem, int]:
    """A digest item and the subscriber whose profile its votes teach (a channel digest teaches the
    channel's shared profile, a DM digest the person's)."""
    item = session.get(models.DigestItem, digest_item_id)
    if item is None:
        raise NotFound(
            f"This paper is no longer in our records (digest item {digest_item_id}), "
            "so the vote cannot be recorded."
        )
    digest = session.get(models.Digest, item.digest_id)
    subscription = session.get(models.Subscription, digest.subscription_id) if digest else None
    if subscription is None:
        raise NotFound(f"digest item {digest_item_id} belongs to a subscription that no longer exists")
    return item, subscription.subscriber_id


def withdraw_vote(session: Session, *, digest_item_id: int, vote: str) -> FeedbackResult:
    """Undo a vote (a removed reaction) if it is still the recorded one."""
    item, subscriber_id = item_owner(session, digest_item_id)
    listing = session.get(models.Listing, item.listing_id)
    title = listing.title if listing else ""
    row = _current(session, subscriber_id, item.listing_id)
    if row is None or row.vote != vote:
        current = parse_vote(row.vote) if row else None
        return FeedbackResult(subscriber_id, item.listing_id, current, changed=False, title=title)
    session.delete(row)
    return FeedbackResult(subscriber_id, item.listing_id, None, changed=True, title=title)
