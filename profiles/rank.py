"""Rank a day's candidate papers for one profile: the digest, in order, each with its reason.

Steps: drop muted papers, score the rest (`profiles.scoring`), boost followed authors, keep those at
or above the minimum score, then pick at most `limit` with MMR diversity under per-interest slots.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from profiles.anchors import Anchors, negative_anchors, positive_anchors, recency_weights
from profiles.model import Profile, unit
from profiles.scoring import Params, Reference, score_candidates
from profiles.select import select

__all__ = [
    "Candidate",
    "RankedItem",
    "DEFAULT_MIN_SCORE",
    "DEFAULT_MIN_SIMILARITY",
    "DEFAULT_PARAMS",
    "query_vectors",
    "rank",
]

# Scores are in standard deviations above random papers (profiles.scoring), for each text interest
# and for the seed-paper interests together, so each of those has this bar. Calibrated on pairs of
# real papers (docs/evaluation.md, "Minimum score"): the highest value that still lets 80% of
# papers through for a paper they cite or are cited by; about 1 random paper in 25 reaches it.
DEFAULT_MIN_SCORE = 2.0
# The minimum score is relative, so on a day of nothing but off-topic papers the best of them still
# reach it (about 1 random paper in 25). Wherever a minimum score applies, a paper must also have a
# raw cosine of at least this to its closest positive anchor (seed, text interest or liked paper).
# Calibrated on CiteULike-a with all-MiniLM-L6-v2 (profiles.eval.calibration.calibrate_floor,
# docs/evaluation.md "Minimum score"): the highest value (to 0.01) that keeps 95% of the 1,468
# citation pairs; it blocks 87% of random pairs.
DEFAULT_MIN_SIMILARITY = 0.26
DEFAULT_PARAMS = Params()
MAX_QUERIES = 64  # newest liked papers used as FAISS queries (older ones are covered by the model)
MAX_BACKGROUND = 1000  # more random papers barely sharpen the reference but slow the model down


@dataclass(frozen=True)
class Candidate:
    listing_id: int
    vector: np.ndarray
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    published: datetime | None = None
    upvotes: int | None = None


@dataclass(frozen=True)
class RankedItem:
    listing_id: int
    score: float
    reason: str
    interest_id: int | None
    liked_listing_id: int | None


def _require_content(profile: Profile) -> None:
    if not profile.has_positives:
        raise ValueError("this profile has nothing to match papers against: add an interest first")


def query_vectors(profile: Profile) -> np.ndarray:
    """(q, dim) vectors to search the index with: every seed / text interest and the newest likes."""
    _require_content(profile)
    anchors = positive_anchors(profile)
    seeds = anchors.vectors[~anchors.is_vote]
    likes = anchors.vectors[anchors.is_vote][-MAX_QUERIES:]
    return np.ascontiguousarray(np.vstack([seeds, likes]), dtype=np.float32)


def _muted(candidate: Candidate, patterns: Sequence[re.Pattern[str]]) -> bool:
    text = f"{candidate.title}\n{candidate.abstract}"
    return any(p.search(text) for p in patterns)


def _mute_patterns(keywords: Sequence[str]) -> list[re.Pattern[str]]:
    # Whole words or phrases, case-insensitive: "GAN" mutes "a GAN for" but not "organ" or "GANs".
    return [re.compile(rf"(?<!\w){re.escape(k.strip())}(?!\w)", re.IGNORECASE) for k in keywords if k.strip()]


def _normalise_name(name: str) -> str:
    return " ".join(name.casefold().split())


def _follows(candidates: Sequence[Candidate], followed: Sequence[str]) -> np.ndarray:
    wanted = {_normalise_name(a) for a in followed}
    return np.array([any(_normalise_name(a) in wanted for a in c.authors) for c in candidates], dtype=bool)


def rank(
    profile: Profile,
    candidates: Sequence[Candidate],
    *,
    now: datetime,
    limit: int = 10,
    min_score: float | None = DEFAULT_MIN_SCORE,
    background: np.ndarray | Reference | None = None,
    seed: int = 0,
    params: Params = DEFAULT_PARAMS,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
) -> list[RankedItem]:
    """The digest for `profile` from `candidates`, best first.

    `background`: random listing vectors (a few hundred) used as negatives and as the reference that
    scores are measured against; without it the candidates themselves are the reference, which is
    only sound when they are a broad sample of the day rather than pre-filtered near matches.
    Scores are background standard deviations; below `min_score` nothing is shown, so a weak day
    gives a short digest or none. Where a minimum score applies, a paper also needs a raw cosine of
    at least `min_similarity` to its closest positive anchor, so a day of off-topic papers gives
    nothing however they compare with each other. `seed` only picks the background subsample above
    1,000 vectors. A `Reference` (built once for many profiles) is used as it is, with its
    precomputed hubness.
    Raises ValueError when the profile has neither an interest nor a 👍 / 🔖.
    """
    _require_content(profile)
    patterns = _mute_patterns(profile.muted_keywords)
    kept = [c for c in candidates if not _muted(c, patterns)]
    if not kept or limit <= 0:
        return []
    vectors = unit(np.vstack([c.vector for c in kept]))
    hubness = None
    if isinstance(background, Reference) and len(background.vectors) and background.hub_k == params.hub_k:
        reference, hubness = background.vectors, background.hubness_of([c.listing_id for c in kept], vectors)
    else:
        given = background.vectors if isinstance(background, Reference) else background
        reference = vectors if given is None or not len(given) else _sample(unit(given), seed)
    anchors = positive_anchors(profile)
    negatives, disliked_at = negative_anchors(profile)
    text = _text_interests(profile)
    scores = score_candidates(
        vectors,
        anchors=anchors.vectors,
        groups=np.array([-1 if i is None else i for i in anchors.interest_ids]),
        anchor_weights=recency_weights(anchors.at, now),
        negatives=negatives,
        negative_weights=recency_weights(disliked_at, now),
        background=reference,
        n_votes=len(profile.votes),
        params=params,
        hubness=hubness,
        liked=anchors.is_vote,
        alone=np.array([i in text for i in anchors.interest_ids], dtype=bool),
    )
    total = scores.score + params.author_boost * _follows(kept, profile.followed_authors)
    if min_score is None:
        ok = np.arange(len(kept))
    else:
        nearest = (vectors @ unit(anchors.vectors).T).max(axis=1)
        ok = np.flatnonzero((total >= min_score) & (nearest >= min_similarity))
    # Only confident matches (>= slot_score) claim their interest's promised slots: with a lower
    # or no minimum score, a quiet interest is not owed a slot for a barely related paper.
    interests = [anchors.interest_ids[scores.best_anchor[i]] for i in ok]
    claims = [g if total[i] >= params.slot_score else None for g, i in zip(interests, ok, strict=True)]
    picked = ok[select(total[ok], vectors[ok], claims, limit=limit, diversity=params.diversity)]
    return [_item(kept[i], float(total[i]), int(scores.best_anchor[i]), anchors) for i in picked]


def _text_interests(profile: Profile) -> frozenset[int]:
    """Interests the subscriber wrote as text (not seed papers): each is scored on its own."""
    return frozenset(i.id for i in profile.interests if i.seed_vectors is None)


def _sample(background: np.ndarray, seed: int) -> np.ndarray:
    if len(background) <= MAX_BACKGROUND:
        return background
    rows = np.random.default_rng(seed).choice(len(background), size=MAX_BACKGROUND, replace=False)
    return background[np.sort(rows)]


def _item(candidate: Candidate, score: float, anchor: int, anchors: Anchors) -> RankedItem:
    liked = anchors.liked_ids[anchor]
    label = anchors.labels[anchor]
    if liked is not None:
        reason = f'because you liked "{label}"' if label else "similar to a paper you liked"
    else:
        reason = f'matches "{label}"' if label else "matches your interests"
    return RankedItem(candidate.listing_id, score, reason, anchors.interest_ids[anchor], liked)
