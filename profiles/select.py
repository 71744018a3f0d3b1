"""Pick the digest from scored candidates: diversity (MMR) under per-interest slot guarantees."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["guaranteed_slots", "select"]


def guaranteed_slots(groups: Sequence[int | None], limit: int) -> dict[int | None, int]:
    """Slots each interest is promised: limit / (2 x interests), at least 1 while there is room.

    Half the digest is shared out this way; the other half goes to the best items overall, so a
    busy topic still shows more, but cannot take every slot.
    """
    present = sorted({g for g in groups}, key=lambda g: (g is None, g if g is not None else 0))
    if len(present) <= 1:
        return {}
    share = max(1, limit // (2 * len(present)))
    promised: dict[int | None, int] = {}
    for group in present:
        if sum(promised.values()) + share > limit:
            break
        promised[group] = min(share, sum(1 for g in groups if g == group))
    return promised


def select(
    scores: np.ndarray, vectors: np.ndarray, groups: Sequence[int | None], *, limit: int, diversity: float
) -> list[int]:
    """Greedy MMR: repeatedly take the item maximising score - diversity x (max cosine to the picked
    ones). When the open slots only just cover the unmet promises, only promised groups may pick."""
    promised = guaranteed_slots(groups, limit)
    group_arr = np.array([-1 if g is None else g for g in groups])
    picked: list[int] = []
    closest = np.full(len(scores), -np.inf)
    available = np.ones(len(scores), dtype=bool)
    while available.any() and len(picked) < limit:
        owed = {g: n for g, n in promised.items() if n > 0 and (group_arr[available] == _key(g)).any()}
        allowed = available.copy()
        if sum(owed.values()) >= limit - len(picked):
            allowed &= np.isin(group_arr, [_key(g) for g in owed])
        value = scores - diversity * np.maximum(closest, 0.0)
        best = int(np.argmax(np.where(allowed, value, -np.inf)))
        picked.append(best)
        available[best] = False
        closest = np.maximum(closest, vectors @ vectors[best])
        if groups[best] in promised:
            promised[groups[best]] -= 1
    return picked


def _key(group: int | None) -> int:
    return -1 if group is None else group
