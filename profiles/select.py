"""Pick the digest from scored candidates: diversity (MMR) under per-interest slot guarantees."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from profiles.scoring import closeness

__all__ = ["guaranteed_slots", "select", "DUPLICATE"]

# Cosine at which two listings are the same paper (a preprint and its journal version, a
# cross-listing that escaped dedup): only the better scored one is shown.
DUPLICATE = 0.95


def guaranteed_slots(claims: Sequence[int | None], scores: np.ndarray, limit: int) -> dict[int, int]:
    """Slots promised to each interest that has a claim: limit / (2 x claimants), at least 1.

    Half the digest is shared out this way; the other half goes to the best items overall, so a
    busy topic still shows more, but cannot take every slot. When there are more claimants than
    slots, the interests with the best claims come first.
    """
    best: dict[int, float] = {}
    for claim, score in zip(claims, scores, strict=True):
        if claim is not None:
            best[claim] = max(best.get(claim, -np.inf), float(score))
    if len(best) <= 1:
        return {}
    share = max(1, limit // (2 * len(best)))
    promised: dict[int, int] = {}
    for interest in sorted(best, key=lambda i: -best[i]):
        if sum(promised.values()) + share > limit:
            break
        promised[interest] = min(share, sum(1 for c in claims if c == interest))
    return promised


def select(
    scores: np.ndarray, vectors: np.ndarray, claims: Sequence[int | None], *, limit: int, diversity: float
) -> list[int]:
    """Greedy MMR under slot promises; returns positions into `scores`, best first.

    Each step takes the item maximising score - diversity x closeness to the nearest item already
    picked (`profiles.scoring.closeness`: 0 for merely related papers, 1 for near duplicates).
    `claims[i]` is the interest item i may fill a promised slot for (None: no claim). Once the
    open slots only just cover the unmet promises, only items that meet one may be picked.
    """
    owed = guaranteed_slots(claims, scores, limit)
    claim_of = np.array([-1 if c is None else c for c in claims])
    picked: list[int] = []
    closest = np.full(len(scores), -np.inf)
    available = np.ones(len(scores), dtype=bool)
    while available.any() and len(picked) < limit:
        pending = [i for i, n in owed.items() if n > 0 and (claim_of[available] == i).any()]
        allowed = available.copy()
        if sum(owed[i] for i in pending) >= limit - len(picked):
            allowed &= np.isin(claim_of, pending)
        value = np.where(allowed, scores - diversity * closeness(closest), -np.inf)
        best = int(np.argmax(value))
        picked.append(best)
        available[best] = False
        similarity = vectors @ vectors[best]
        available &= similarity < DUPLICATE
        closest = np.maximum(closest, similarity)
        claim = claims[best]
        if claim is not None and claim in owed:
            owed[claim] -= 1
    return picked
