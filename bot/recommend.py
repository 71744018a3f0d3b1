"""Gather profiles and candidates from the database in bulk, then rank each subscriber with `profiles`.

A run over many subscribers costs a fixed number of queries per batch, not per subscriber: a `Pool`
(the listings in the widest window asked for, their vectors and one set of random background papers)
is loaded once; profiles and already-shown papers for a whole batch come in one query each; and one
FAISS search per window answers every query vector of the batch. Only `profiles.rank` runs per
subscriber, and it is pure.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, cached_property

import numpy as np
from sqlmodel import Session, col, func, select
from threadpoolctl import ThreadpoolController

from bot import vocab
from bot.errors import InvalidInput, NotFound
from bot.ingest.sources.ids import paper_keys
from bot.records import ListingView, MatchRequest, Moved, Recommendation
from bot.vectors.embed import Encoder, listing_text
from bot.vectors.store import listing_vectors, vectors_for_texts
from profiles.model import Interest, Profile, Vote, interest_from_seeds, unit
from profiles.rank import DEFAULT_MIN_SCORE, DEFAULT_PARAMS, Candidate, query_vectors, rank
from profiles.scoring import UNRELATED, Reference
from storage import models
from storage.index import VectorIndex, match

__all__ = [
    "Pool",
    "PoolState",
    "load_profiles",
    "recommend_many",
    "placements",
]

log = logging.getLogger("paperbot.recommend")
BACKGROUND = 300  # random listing vectors offered to the ranker as negatives and as the reference
PER_QUERY = 200  # nearest listings taken per query vector (interest, seed paper or liked paper)
VOTE_VALUE: dict[vocab.Vote, int] = {"up": 1, "save": 1, "down": -1}  # 🔖 counts as interest

Outcome = list[Recommendation] | InvalidInput  # InvalidInput: nothing to match (or no such subscriber)


def _ns(when: datetime) -> np.datetime64:
    return np.datetime64(when.astimezone(UTC).replace(tzinfo=None), "us")


def _vectors(
    session: Session, index: VectorIndex, model: str, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of `ids` from the in-memory index; any the index lacks (another process ingested them)
    come from the database and are added, so the index heals itself. Listings without a vector drop."""
    found, vectors = index.vectors(ids)
    missing = np.setdiff1d(ids, found)
    if len(missing):
        more_ids, more = listing_vectors(session, model, missing.tolist())
        if len(more_ids):
            index.add(more_ids, more)
            found, vectors = np.r_[found, more_ids], np.vstack([vectors, more])
    order = np.argsort(found, kind="stable")
    return found[order], vectors[order]


@dataclass(frozen=True)
class PoolState:
    """What a pool was loaded from, cheap to read again: equal states mean the pool is still current."""

    listings: int
    last_id: int | None
    last_seen: datetime | None  # every ingest that sees a listing again (new version, upvotes) moves it


def _pool_state(session: Session, since: datetime | None) -> PoolState:
    """One query over the window's rows (the first_seen index finds them)."""
    query = select(func.count(), func.max(models.Listing.id), func.max(models.Listing.last_seen))
    if since is not None:
        query = query.where(col(models.Listing.first_seen) >= since)
    listings, last_id, last_seen = session.exec(query).one()
    return PoolState(listings, last_id, last_seen)


@dataclass(frozen=True)
class Pool:
    """What a run ranks from, loaded once: every listing first seen since the earliest window asked
    for (sorted by id, with vectors), and the random background papers scores are measured against."""

    since: datetime | None  # the earliest window it serves
    state: PoolState
    complete: bool  # every listing had a vector (embedding lags storing: one without is left out)
    ids: np.ndarray  # (n,) int64, ascending
    vectors: np.ndarray  # (n, dim) float32
    first_seen: np.ndarray  # (n,) datetime64[us], UTC
    listings: dict[int, ListingView]
    candidates: list[Candidate]  # one per listing, in the same order
    reference: Reference  # the random background papers, with the hubness of every pool listing

    @classmethod
    def load(
        cls, session: Session, index: VectorIndex, model: str, since: datetime | None, *, seed: int = 0
    ) -> Pool:
        state = _pool_state(session, since)
        query = select(models.Listing).order_by(col(models.Listing.id))
        if since is not None:
            query = query.where(col(models.Listing.first_seen) >= since)
        rows = {row.id: ListingView.of(row) for row in session.exec(query)}
        ids, vectors = _vectors(session, index, model, np.array(list(rows), dtype=np.int64))
        everything = np.array(session.exec(select(models.Listing.id)).all(), dtype=np.int64)
        picked = np.random.default_rng(seed).choice(
            everything, size=min(BACKGROUND, len(everything)), replace=False
        )
        _, background = _vectors(session, index, model, np.sort(picked))
        vectors = unit(vectors.reshape(len(ids), index.dim))
        listings = [rows[i] for i in ids.tolist()]
        return cls(
            since=since,
            state=state,
            complete=len(ids) == len(rows),
            ids=ids,
            vectors=vectors,
            first_seen=np.array([_ns(listing.first_seen) for listing in listings], dtype="datetime64[us]"),
            listings={listing.id: listing for listing in listings},
            candidates=[
                _candidate(listing, vector) for listing, vector in zip(listings, vectors, strict=True)
            ],
            reference=Reference.of(
                unit(background.reshape(-1, index.dim)), DEFAULT_PARAMS.hub_k, ids, vectors
            ),
        )

    def serves(self, session: Session, since: datetime | None) -> bool:
        """Can this pool still rank papers first seen since `since`: does its window include that one,
        and have none of its listings been added, changed or embedded since it was loaded?"""
        covers = self.since is None or (since is not None and since >= self.since)
        return covers and self.complete and _pool_state(session, self.since) == self.state

    @cached_property
    def by_key(self) -> dict[str, list[int]]:
        """Listing ids per paper key (`paper_keys`: arXiv id, DOI, title), to recognise a subscriber's
        library among the pool's listings. Built on first use (hashing every title)."""
        found: dict[str, list[int]] = defaultdict(list)
        for listing in self.listings.values():
            for key in paper_keys(arxiv_id=listing.arxiv_id, doi=listing.doi, title=listing.title):
                found[key].append(listing.id)
        return found

    def window(self, since: datetime | None) -> np.ndarray:
        """Positions of the listings first seen at or after `since`."""
        if since is None:
            return np.arange(len(self.ids))
        return np.flatnonzero(self.first_seen >= _ns(since))


def _candidate(listing: ListingView, vector: np.ndarray) -> Candidate:
    return Candidate(
        listing_id=listing.id,
        vector=vector,
        title=listing.title,
        abstract=listing.abstract,
        authors=listing.authors,
        published=listing.published,
        upvotes=listing.upvotes,
    )


def _seed_texts(row: models.Interest, papers: dict[int, str]) -> list[str]:
    """What an interest is embedded from: its seed papers' texts, or its own text."""
    found = [papers[i] for i in row.seed_listing_ids if i in papers]
    return found or list(row.seed_texts) or ([row.text] if row.text else [])


def refresh_interests(
    session: Session, encoder: Encoder, rows: Sequence[models.Interest]
) -> list[models.Interest]:
    """Embed the interests that have no vector for the current model (after a model change), in one
    encoder call; stored vectors of the same texts are reused. Returns the rows that have a vector
    for this model: an interest with nothing left to embed it from (a BibTeX import stored before
    its texts were kept) is left out with a warning, never matched with another model's vector."""
    stale = [row for row in rows if row.vector is None or row.vector_model != encoder.model_name]
    if not stale:
        return list(rows)
    wanted = sorted({i for row in stale for i in row.seed_listing_ids})
    listings = session.exec(select(models.Listing).where(col(models.Listing.id).in_(wanted))).all()
    papers = {p.id: listing_text(p.title, p.abstract) for p in listings if p.id is not None}
    sources = [_seed_texts(row, papers) for row in stale]
    flat = [text for texts in sources for text in texts]
    vectors = vectors_for_texts(session, encoder, flat) if flat else np.zeros((0, 0), dtype=np.float32)
    lost, start = set(), 0
    for row, texts in zip(stale, sources, strict=True):
        if not texts:
            log.warning(
                "interest %s (%r) cannot be embedded with %s: nothing to embed it from; import it again",
                row.id,
                row.label,
                encoder.model_name,
            )
            lost.add(id(row))
            continue
        row.vector = unit(vectors[start : start + len(texts)]).tobytes()
        row.vector_model = encoder.model_name
        start += len(texts)
        session.add(row)
    session.flush()
    return [row for row in rows if id(row) not in lost]


def _interest(row: models.Interest, dim: int) -> Interest:
    rows = np.frombuffer(row.vector or b"", dtype=np.float32).reshape(-1, dim)
    assert row.id is not None
    if row.seed_listing_ids or len(rows) > 1:
        return interest_from_seeds(row.id, row.label, rows)
    return Interest(id=row.id, label=row.label, vector=unit(rows[0]))


def load_profiles(
    session: Session, subscriber_ids: Sequence[int], encoder: Encoder, dim: int
) -> dict[int, Profile]:
    """Profiles of these subscribers (unknown ids are left out), with four queries for any number."""
    wanted = sorted(set(subscriber_ids))
    subscribers = session.exec(select(models.Subscriber).where(col(models.Subscriber.id).in_(wanted))).all()
    interests = session.exec(
        select(models.Interest)
        .where(col(models.Interest.subscriber_id).in_(wanted))
        .order_by(col(models.Interest.id))
    ).all()
    interests = refresh_interests(session, encoder, interests)
    feedback = session.exec(
        select(models.Feedback, models.Listing.title, models.DigestItem.interest_id)
        .join(models.Listing, col(models.Listing.id) == col(models.Feedback.listing_id))
        .outerjoin(models.DigestItem, col(models.DigestItem.id) == col(models.Feedback.digest_item_id))
        .where(col(models.Feedback.subscriber_id).in_(wanted))
        .order_by(col(models.Feedback.id))
    ).all()
    ids, vectors = listing_vectors(
        session, encoder.model_name, sorted({f.listing_id for f, _, _ in feedback})
    )
    by_id = dict(zip(ids.tolist(), vectors, strict=True))
    interests_of: dict[int, list[Interest]] = defaultdict(list)
    for row in interests:
        interests_of[row.subscriber_id].append(_interest(row, dim))
    votes_of: dict[int, list[Vote]] = defaultdict(list)
    for f, title, interest_id in feedback:
        if f.listing_id in by_id:
            vote = Vote(
                f.listing_id,
                by_id[f.listing_id],
                VOTE_VALUE[vocab.parse_vote(f.vote)],
                f.updated_at,
                title,
                interest_id,
            )
            votes_of[f.subscriber_id].append(vote)
    return {
        s.id: Profile(
            interests=tuple(interests_of[s.id]),
            votes=tuple(votes_of[s.id]),
            followed_authors=tuple(s.followed_authors),
            muted_keywords=tuple(s.muted_keywords),
        )
        for s in subscribers
        if s.id is not None
    }


def _shown(session: Session, subscriber_ids: Sequence[int], pool: Pool) -> dict[int, set[int]]:
    """Per subscriber, the listings already sent to them, voted on, or in their own library: seed
    papers and BibTeX entries, matched by arXiv id, DOI or title (a paper they gave us is no news)."""
    wanted = sorted(set(subscriber_ids))
    sent = (
        select(models.Subscription.subscriber_id, models.DigestItem.listing_id)
        .join(models.Digest, col(models.Digest.subscription_id) == col(models.Subscription.id))
        .join(models.DigestItem, col(models.DigestItem.digest_id) == col(models.Digest.id))
        .join(models.Listing, col(models.Listing.id) == col(models.DigestItem.listing_id))
        .where(col(models.Subscription.subscriber_id).in_(wanted), models.Digest.status == "sent")
    )
    voted = (
        select(models.Feedback.subscriber_id, models.Feedback.listing_id)
        .join(models.Listing, col(models.Listing.id) == col(models.Feedback.listing_id))
        .where(col(models.Feedback.subscriber_id).in_(wanted))
    )
    if pool.since is not None:  # older papers are not in the pool: skip reading years of history
        sent = sent.where(col(models.Listing.first_seen) >= pool.since)
        voted = voted.where(col(models.Listing.first_seen) >= pool.since)
    seeds = select(
        models.Interest.subscriber_id, models.Interest.seed_listing_ids, models.Interest.library_keys
    ).where(col(models.Interest.subscriber_id).in_(wanted))
    shown: dict[int, set[int]] = defaultdict(set)
    for subscriber_id, listing_id in [*session.exec(sent).all(), *session.exec(voted).all()]:
        shown[subscriber_id].add(listing_id)
    for subscriber_id, listing_ids, keys in session.exec(seeds).all():
        shown[subscriber_id].update(listing_ids)
        if keys:
            shown[subscriber_id].update(i for k in keys for i in pool.by_key.get(k, ()))
    return shown


def _no_match(subscriber_id: int, profiles: dict[int, Profile]) -> InvalidInput | None:
    profile = profiles.get(subscriber_id)
    if profile is None:
        return NotFound(f"no subscriber {subscriber_id}; `paperbot subscribe --help` creates one")
    if not profile.has_positives:
        return InvalidInput(
            f"subscriber {subscriber_id} has no interests yet; add one with "
            f'`paperbot profile add-interest {subscriber_id} "your topic"`'
        )
    return None


def recommend_many(
    session: Session,
    requests: Sequence[MatchRequest],
    *,
    pool: Pool,
    encoder: Encoder,
    dim: int,
    now: datetime,
    min_score: float | None = None,
    per_query: int = PER_QUERY,
) -> list[Outcome]:
    """Ranked papers for each request, in order; nothing is delivered or marked as shown.

    Candidates for a subscriber: for each of its query vectors (interests, seed papers, recent likes)
    the `per_query` nearest listings of its window not yet shown to it, found by one FAISS search
    for all requests sharing that window; their union is ranked by `profiles.rank.rank`.
    """
    ids = [r.subscriber_id for r in requests]
    profiles = load_profiles(session, ids, encoder, dim)
    shown = _shown(session, ids, pool)
    outcomes: list[Outcome] = [_no_match(i, profiles) or [] for i in ids]
    by_window: dict[datetime | None, list[int]] = defaultdict(list)
    for n, request in enumerate(requests):
        if not isinstance(outcomes[n], InvalidInput):
            by_window[request.since].append(n)
    found: dict[int, list[Candidate]] = {}
    for since, members in by_window.items():
        found |= _search(
            pool,
            since,
            [(n, profiles[requests[n].subscriber_id], shown[requests[n].subscriber_id]) for n in members],
            per_query,
        )
    # Ranking is many small matrix products: one BLAS thread each is several times faster than
    # threads waking up for every one of them (and the searches above are already done).
    with _blas().limit(limits=1, user_api="blas"):
        for n, candidates in found.items():
            request = requests[n]
            outcomes[n] = _ranked(request, profiles[request.subscriber_id], candidates, pool, now, min_score)
    return outcomes


@cache
def _blas() -> ThreadpoolController:
    """The loaded BLAS libraries, found once: finding them reads /proc/self/maps (3 ms a call)."""
    return ThreadpoolController()


def _search(
    pool: Pool, since: datetime | None, members: list[tuple[int, Profile, set[int]]], per_query: int
) -> dict[int, list[Candidate]]:
    """Candidates per request of one window, from one FAISS search for all their query vectors."""
    window = pool.window(since)
    if not len(window):
        return {n: [] for n, _, _ in members}
    queries = [query_vectors(profile) for _, profile, _ in members]
    in_window = set(pool.ids[window].tolist())
    hidden = max(len(shown & in_window) for _, _, shown in members)
    # Positions into the pool stand in for listing ids, so results index the pool directly.
    _, found = match(np.vstack(queries), pool.vectors[window], window, min(len(window), per_query + hidden))
    offsets = np.cumsum([0, *(len(q) for q in queries)])
    return {
        n: _candidates(pool, found[start:end], shown, per_query)
        for (n, _, shown), start, end in zip(members, offsets[:-1], offsets[1:], strict=True)
    }


def _candidates(pool: Pool, rows: np.ndarray, hidden: set[int], per_query: int) -> list[Candidate]:
    """The union over query rows of each row's first `per_query` results not yet shown."""
    usable = (rows >= 0) & ~np.isin(pool.ids[rows], list(hidden))
    usable &= np.cumsum(usable, axis=1) <= per_query
    return [pool.candidates[p] for p in np.unique(rows[usable]).tolist()]


def _ranked(
    request: MatchRequest,
    profile: Profile,
    candidates: list[Candidate],
    pool: Pool,
    now: datetime,
    min_score: float | None,
) -> list[Recommendation]:
    ranked = rank(
        profile,
        candidates,
        now=now,
        limit=request.limit,
        min_score=DEFAULT_MIN_SCORE if min_score is None else min_score,
        background=pool.reference,
        seed=request.subscriber_id,
    )
    labels = {i.id: i.label for i in profile.interests}
    positions = np.searchsorted(pool.ids, [item.listing_id for item in ranked])
    moves = placements(np.array([item.score for item in ranked]), pool.vectors[positions])
    return [
        Recommendation(
            listing=pool.listings[item.listing_id],
            score=item.score,
            reason=item.reason,
            interest_id=item.interest_id,
            interest_label=labels.get(item.interest_id or -1),
            moved=move,
        )
        for item, move in zip(ranked, moves, strict=True)
    ]


def placements(scores: np.ndarray, vectors: np.ndarray) -> list[Moved | None]:
    """For each paper of a digest in its final order, why it is shown below a lower score (None: it
    is not). `vectors` are unit rows. The paper was passed over when the first lower-scored paper
    above it was picked: either it was close (beyond `UNRELATED`, where the diversity penalty starts)
    to a paper picked before that, or the other paper filled a slot kept for its own interest."""
    moves: list[Moved | None] = []
    for n, score in enumerate(scores):
        lower = np.flatnonzero(scores[:n] < score)
        if not len(lower):
            moves.append(None)
            continue
        below = int(lower[0])
        similar = vectors[:below] @ vectors[n]
        nearest = int(np.argmax(similar)) if below else -1
        if below and similar[nearest] > UNRELATED:
            moves.append(Moved(below + 1, "diversity", nearest + 1, round(float(similar[nearest]), 2)))
        else:
            moves.append(Moved(below + 1, "slot"))
    return moves
