"""Build a subscriber's profile and candidate set from the database, then rank with `profiles`.

The ranking itself is pure (profiles.rank); this module only gathers arrays and rows for it.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlmodel import Session, col, select

from bot.embed import Encoder
from bot.records import ListingView, Recommendation
from bot.vectors import listing_vectors
from profiles.model import Interest, Profile, Vote, interest_from_seeds, unit
from profiles.rank import DEFAULT_MIN_SCORE, Candidate, query_vectors, rank
from storage import models
from storage.index import VectorIndex

__all__ = [
    "interest_vectors",
    "refresh_interest_vectors",
    "load_profile",
    "shown_listing_ids",
    "recommend_for",
]

BACKGROUND = 300  # random listing vectors offered to the ranker as negatives
VOTE_VALUE = {"up": 1, "save": 1, "down": -1}


def interest_vectors(encoder: Encoder, text: str | None, seeds: np.ndarray | None) -> np.ndarray:
    """The rows stored for an interest: its text embedding, or one row per seed paper."""
    if seeds is not None and len(seeds):
        return unit(seeds)
    assert text, "an interest needs text or seed papers"
    return encoder.encode([text])


def _interest(row: models.Interest, encoder: Encoder, dim: int) -> Interest:
    if row.vector is None or row.vector_model != encoder.model_name:
        raise LookupError(row.id)  # the caller refreshes it first (embeds only new text)
    rows = np.frombuffer(row.vector, dtype=np.float32).reshape(-1, dim)
    assert row.id is not None
    if row.seed_listing_ids or len(rows) > 1:
        return interest_from_seeds(row.id, row.label, rows)
    return Interest(id=row.id, label=row.label, vector=unit(rows[0]))


def refresh_interest_vectors(session: Session, encoder: Encoder, subscriber_id: int) -> None:
    """Embed interests whose text has no vector yet for the current model (seed interests re-read
    their papers' vectors)."""
    rows = session.exec(select(models.Interest).where(models.Interest.subscriber_id == subscriber_id)).all()
    for row in rows:
        if row.vector is not None and row.vector_model == encoder.model_name:
            continue
        seeds = None
        if row.seed_listing_ids:
            _, seeds = listing_vectors(session, encoder.model_name, row.seed_listing_ids)
        row.vector = interest_vectors(encoder, row.text, seeds).astype(np.float32).tobytes()
        row.vector_model = encoder.model_name
        session.add(row)
    session.flush()


def shown_listing_ids(session: Session, subscriber_id: int) -> set[int]:
    """Listings this subscriber has already been sent or has voted on."""
    sent = session.exec(
        select(models.DigestItem.listing_id)
        .join(models.Digest, col(models.Digest.id) == col(models.DigestItem.digest_id))
        .join(models.Subscription, col(models.Subscription.id) == col(models.Digest.subscription_id))
        .where(models.Subscription.subscriber_id == subscriber_id, models.Digest.status == "sent")
    ).all()
    voted = session.exec(
        select(models.Feedback.listing_id).where(models.Feedback.subscriber_id == subscriber_id)
    ).all()
    return set(sent) | set(voted)


def load_profile(session: Session, subscriber: models.Subscriber, encoder: Encoder, dim: int) -> Profile:
    assert subscriber.id is not None
    refresh_interest_vectors(session, encoder, subscriber.id)
    interests = session.exec(
        select(models.Interest)
        .where(models.Interest.subscriber_id == subscriber.id)
        .order_by(col(models.Interest.id))
    ).all()
    feedback = session.exec(
        select(models.Feedback, models.Listing.title, models.DigestItem.interest_id)
        .join(models.Listing, col(models.Listing.id) == col(models.Feedback.listing_id))
        .outerjoin(models.DigestItem, col(models.DigestItem.id) == col(models.Feedback.digest_item_id))
        .where(models.Feedback.subscriber_id == subscriber.id)
    ).all()
    ids, vectors = listing_vectors(session, encoder.model_name, [f.listing_id for f, _, _ in feedback])
    by_id = dict(zip(ids.tolist(), vectors, strict=True))
    votes = tuple(
        Vote(
            listing_id=f.listing_id,
            vector=by_id[f.listing_id],
            value=VOTE_VALUE[f.vote],
            at=f.updated_at,
            title=title,
            interest_id=interest_id,
        )
        for f, title, interest_id in feedback
        if f.listing_id in by_id
    )
    return Profile(
        interests=tuple(_interest(row, encoder, dim) for row in interests),
        votes=votes,
        followed_authors=tuple(subscriber.followed_authors),
        muted_keywords=tuple(subscriber.muted_keywords),
    )


def _window_ids(session: Session, since: datetime | None, exclude: set[int]) -> np.ndarray:
    query = select(models.Listing.id)
    if since is not None:
        query = query.where(col(models.Listing.first_seen) >= since)
    ids = {i for i in session.exec(query).all() if i is not None}
    return np.array(sorted(ids - exclude), dtype=np.int64)


def _background(session: Session, model: str, rng: np.random.Generator) -> np.ndarray:
    ids = np.array(
        [i for i in session.exec(select(models.Listing.id)).all() if i is not None], dtype=np.int64
    )
    picked = rng.choice(ids, size=min(BACKGROUND, len(ids)), replace=False)
    return listing_vectors(session, model, picked.tolist())[1]


def recommend_for(
    session: Session,
    *,
    subscriber: models.Subscriber,
    profile: Profile,
    index: VectorIndex,
    model: str,
    since: datetime | None,
    limit: int,
    now: datetime,
    min_score: float | None,
    per_query: int = 200,
) -> list[Recommendation]:
    """Candidates from FAISS (per query vector, union, restricted to the window and to papers not yet
    shown), ranked by profiles.rank."""
    assert subscriber.id is not None
    allowed = _window_ids(session, since, shown_listing_ids(session, subscriber.id))
    if not len(allowed):
        return []
    _, found = index.search(query_vectors(profile), min(per_query, len(allowed)), allowed=allowed)
    candidate_ids = sorted({int(i) for i in found.ravel() if i >= 0})
    rows = {
        r.id: r for r in session.exec(select(models.Listing).where(col(models.Listing.id).in_(candidate_ids)))
    }
    ids, vectors = listing_vectors(session, model, candidate_ids)
    candidates = [
        Candidate(
            listing_id=int(i),
            vector=v,
            title=rows[i].title,
            abstract=rows[i].abstract,
            authors=tuple(rows[i].authors),
            published=rows[i].published,
            upvotes=rows[i].upvotes,
        )
        for i, v in zip(ids.tolist(), vectors, strict=True)
    ]
    rng = np.random.default_rng(subscriber.id)
    ranked = rank(
        profile,
        candidates,
        now=now,
        limit=limit,
        min_score=DEFAULT_MIN_SCORE if min_score is None else min_score,
        background=_background(session, model, rng),
        seed=subscriber.id,
    )
    labels = {i.id: i.label for i in profile.interests}
    return [
        Recommendation(
            listing=ListingView.of(rows[item.listing_id]),
            score=item.score,
            reason=item.reason,
            interest_id=item.interest_id,
            interest_label=labels.get(item.interest_id or -1),
        )
        for item in ranked
    ]
