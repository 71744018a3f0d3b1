"""How relevant is each candidate to a profile, in one calibrated unit.

The score blends two views, both measured against the same random background papers:

* similarity: the mean of the `k` best hubness-corrected similarities (CSLS) between the candidate and
  the profile's anchors (seeds, text interests, liked papers). Hubness correction subtracts how close
  a paper is to random papers anyway, so generic abstracts that resemble everything stop winning.
  A text interest is scored on its own, with its own bar, as if it were the only one. Interests of
  seed papers (one library, grouped by topic) share one: half of it is taken over all their anchors
  at once (a paper near several of them is a safer bet), half within the best-matching interest,
  each standardised on its own, so an interest of one paper still reaches the minimum score next to
  one of fifty. Liked papers join their interest's anchors wherever they raise a match, on the
  scale of the declared anchors, so a 👍 lifts the papers near it and lowers none.
* a per-subscriber logistic regression on the embeddings: anchors (recent votes weigh more) against
  👎 papers and the background. It gets weight n / (n + prior_votes) after n votes, so similarity
  carries a new profile and the learned model takes over as votes accumulate.

Papers close to a 👎 are pushed down on top of that (`repel`, growing from cosine 0.5 to a full
point at 1.0), so a 👎 demotes its close neighbours from the next digest on, while the learned
model still has little weight.

A candidate's score is its best column's (a text interest, or the library), in standard deviations
above the background: a random paper scores about 0 in each, which is what makes a fixed minimum
score meaningful (see `profiles.rank.DEFAULT_MIN_SCORE`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

__all__ = [
    "Params",
    "Reference",
    "Scores",
    "closeness",
    "score_candidates",
    "standardise",
    "UNRELATED",
    "CLOSE",
]

# all-MiniLM-L6-v2 cosines between CiteULike papers: random pairs have a median of 0.08 and a 99th
# percentile of 0.48; a paper and one it cites have a median of 0.53; near duplicates exceed 0.8.
UNRELATED = 0.5
CLOSE = 0.8


@dataclass(frozen=True)
class Params:
    """Hyper-parameters, chosen on the "tune" users only (docs/evaluation.md)."""

    k: int = 3  # anchors averaged per candidate
    hub_k: int = 10  # background neighbours that measure a paper's hubness
    per_interest: float = 0.5  # share of the best single interest's match (vs all anchors at once)
    prior_votes: float = 100.0  # votes at which the learned model gets half the weight
    c: float = 1.0  # inverse L2 strength of the logistic regression
    repel: float = 1.0  # demotion (background std) of a paper identical to a 👎 one
    repel_from: float = 0.5  # cosine to a 👎 paper where the demotion starts...
    repel_full: float = 1.0  # ...and where it is complete
    diversity: float = 0.5  # MMR: score a near duplicate (cosine >= CLOSE) of a picked item gives up
    slot_score: float = 2.0  # score a paper needs to claim one of its interest's promised slots
    author_boost: float = 1.0  # added to the score of a paper by a followed author


@dataclass(frozen=True)
class Scores:
    score: np.ndarray  # (n,) standard deviations above the background, for the best interest
    best_anchor: np.ndarray  # (n,) index of the positive anchor each candidate matched best


def _topk_mean(sims: np.ndarray, k: int) -> np.ndarray:
    k = min(k, sims.shape[1])
    top: np.ndarray = np.partition(sims, -k, axis=1)[:, -k:]
    mean: np.ndarray = top.mean(axis=1)
    return mean


def _hubness(x: np.ndarray, background: np.ndarray, k: int, *, self_from: int | None) -> np.ndarray:
    """Mean similarity of each row of x to its k nearest background papers (excluding itself)."""
    sims = x @ background.T
    if self_from is not None:  # rows self_from.. are the background papers themselves
        idx = np.arange(background.shape[0])
        sims[self_from + idx, idx] = -1.0
    return _topk_mean(sims, k)


@dataclass(frozen=True)
class Reference:
    """Background papers with their hubness, and the hubness of papers known in advance (a day's
    listings, by id): computed once and reused for every profile ranked against this background,
    since neither depends on the profile."""

    vectors: np.ndarray  # (b, dim) unit
    hub_k: int
    hubness: np.ndarray  # (b,) of each background paper among the others
    known: dict[int, float]  # listing id -> hubness

    @classmethod
    def of(cls, background: np.ndarray, hub_k: int, ids: np.ndarray, vectors: np.ndarray) -> Reference:
        """The reference for `background`, with the hubness of the listings `ids` (unit `vectors`)."""
        if not len(background) or not len(vectors):
            return cls(background, hub_k, np.zeros(len(background)), {})
        hubness = _hubness(background, background, hub_k, self_from=0)
        known = _hubness(vectors, background, hub_k, self_from=None)
        return cls(background, hub_k, hubness, dict(zip(ids.tolist(), known.tolist(), strict=True)))

    def hubness_of(self, ids: list[int], vectors: np.ndarray) -> np.ndarray:
        """Hubness of candidate rows, then of the background rows (score_candidates' `hubness`)."""
        missing = [n for n, i in enumerate(ids) if i not in self.known]
        computed = dict(
            zip(missing, _hubness(vectors[missing], self.vectors, self.hub_k, self_from=None), strict=True)
        )
        own = np.array([computed[n] if n in computed else self.known[i] for n, i in enumerate(ids)])
        both: np.ndarray = np.r_[own, self.hubness]
        return both


def _scaled(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`values` in standard deviations of `reference` above its mean."""
    out: np.ndarray = (values - reference.mean()) / max(float(reference.std()), 1e-6)
    return out


def standardise(values: np.ndarray, n: int = 0) -> np.ndarray:
    """Scale so that the reference rows values[n:] (all of them by default) have mean 0 and std 1."""
    return _scaled(values, values[n:])


def _learned(
    x: np.ndarray,
    positives: np.ndarray,
    pos_weights: np.ndarray,
    negatives: np.ndarray,
    neg_weights: np.ndarray,
    background: np.ndarray,
    c: float,
) -> np.ndarray:
    """Logistic regression decision values for x: positives against 👎 papers and the background."""
    train = np.vstack([positives, negatives, background])
    y = np.r_[np.ones(len(positives)), np.zeros(len(negatives) + len(background))]
    weights = np.r_[pos_weights, neg_weights, np.ones(len(background))]
    # lbfgs is deterministic: the same profile and candidates always give the same digest.
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=1000)
    model.fit(train, y, sample_weight=weights)
    return np.asarray(model.decision_function(x))


def closeness(cosine: np.ndarray, start: float = UNRELATED, full: float = CLOSE) -> np.ndarray:
    """0 up to `start`, rising linearly to 1 at `full` and beyond: "how much of a near duplicate"."""
    ramp: np.ndarray = np.clip((cosine - start) / (full - start), 0.0, 1.0)
    return ramp


def _repulsion(x: np.ndarray, negatives: np.ndarray, start: float, full: float) -> np.ndarray:
    if not len(negatives):
        return np.zeros(x.shape[0])
    return closeness((x @ negatives.T).max(axis=1), start, full)


def _match(
    csls: np.ndarray, anchors: np.ndarray, liked: np.ndarray, k: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The mean of the k best matches among `anchors` (a mask), in background standard deviations
    of the same without liked papers; and that without liked papers.

    Liked papers count where they raise a match, never where they would lower one, and the scale
    stays the one of the anchors the subscriber declared: averaged in with the rest, as they once
    were, a 👍 lowered every paper that matched the interest but not the liked paper (the k best
    now took in weaker anchors, and the background, closer to more anchors, moved up); after three 👍,
    two of them on papers of a digest of 7, none of its other 5 stayed above the bar (the bundled
    sample)."""
    declared = anchors & ~liked if (anchors & ~liked).any() else anchors
    base = _topk_mean(csls[:, declared], k)
    full = np.maximum(base, _topk_mean(csls[:, anchors], k))
    return _scaled(full, base[n:]), _scaled(base, base[n:])


def _interest_scores(
    csls: np.ndarray, groups: np.ndarray, liked: np.ndarray, alone: np.ndarray, k: int, share: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, c) scores in background standard deviations, one column per bar, and the interest
    each row matched in each column (rows, c).

    A text interest (`alone`: its anchors, likes included) is a topic the subscriber named: it is
    scored exactly as it would be on its own and has its own bar. Standardised together with the
    others, the bar moved with the sharpest interest: "large language model reasoning" next to
    "single-cell genomics" showed none of the 7 papers it had above the bar alone (the bundled
    sample). Interests of seed papers are one library grouped by topic and share one column: half
    the k best matches over all of them (a paper near several is the safer bet), half within the
    best-matching interest, each standardised, then the blend again, so a random paper still
    passes the minimum score about once in 25 however many topics the library has."""
    columns, owners = [], []
    for g in np.unique(groups[alone]):
        value, _ = _match(csls, groups == g, liked, k, n)
        columns.append(value)
        owners.append(np.full(len(csls), g))
    library = np.unique(groups[~alone])
    if len(library):
        overall, overall_base = _match(csls, ~alone, liked, k, n)
        inside = [_match(csls, groups == g, liked, k, n) for g in library]
        values, bases = np.stack([v for v, _ in inside], axis=1), np.stack([b for _, b in inside], axis=1)
        blend = (1.0 - share) * overall + share * values.max(axis=1)
        reference = (1.0 - share) * overall_base + share * bases.max(axis=1)
        columns.append(_scaled(blend, reference[n:]))
        owners.append(library[np.argmax(values, axis=1)])
    return np.stack(columns, axis=1), np.stack(owners, axis=1)


def score_candidates(
    candidates: np.ndarray,
    *,
    anchors: np.ndarray,
    groups: np.ndarray,
    anchor_weights: np.ndarray,
    negatives: np.ndarray,
    negative_weights: np.ndarray,
    background: np.ndarray,
    n_votes: int,
    params: Params,
    hubness: np.ndarray | None = None,
    liked: np.ndarray | None = None,
    alone: np.ndarray | None = None,
) -> Scores:
    """Score (n, dim) unit `candidates` against a profile's anchors; see the module docstring.
    `groups`: each anchor's interest; `liked`: which anchors are liked papers and `alone`: which
    belong to a text interest (masks, default none).
    `hubness`: of the candidate rows then the background rows, when known (`Reference.hubness_of`)."""
    n = candidates.shape[0]
    x = np.vstack([candidates, background])
    hub_x = _hubness(x, background, params.hub_k, self_from=n) if hubness is None else hubness
    hub_a = _hubness(anchors, background, params.hub_k, self_from=None)
    csls = 2.0 * (x @ anchors.T) - hub_x[:, None] - hub_a[None, :]
    none = np.zeros(len(anchors), dtype=bool)
    liked = none if liked is None else liked
    raw, owners = _interest_scores(
        csls, groups, liked, none if alone is None else alone, params.k, params.per_interest, n
    )
    if n_votes:
        learned = _learned(x, anchors, anchor_weights, negatives, negative_weights, background, params.c)
        share = n_votes / (n_votes + params.prior_votes)
        raw = (1.0 - share) * raw + share * standardise(learned, n)[:, None]
    # Not standardised again (each column already is): against a background that likes move up,
    # a 👍 would lower the papers it has nothing to do with.
    raw = (
        raw[:n]
        - params.repel * _repulsion(candidates, negatives, params.repel_from, params.repel_full)[:, None]
    )
    best = np.argmax(raw, axis=1)
    rows = np.arange(n)
    interest = owners[rows, best]
    inside = np.where(groups[None, :] == interest[:, None], csls[:n], -np.inf)
    return Scores(score=raw[rows, best], best_anchor=np.argmax(inside, axis=1))
