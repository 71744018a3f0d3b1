"""The offline protocol: simulated subscribers replaying their real paper libraries as daily digests.

Eligible users (a CiteULike library with at least `min_library` papers that have abstracts) are
split once, by a fixed shuffle, into a "tune" half for choosing hyper-parameters and a "test" half
for reporting. For each user sampled from one half:

1. `seed_papers` random library papers become the profile's seeds (as a BibTeX import would).
2. A `heldout_fraction` of the rest (at least 2) is set aside for the final ranking test and never
   shown; the remaining library papers are shuffled and dealt evenly over `days` batches.
3. Each day's batch is that day's library papers plus `per_day` random papers from outside the
   library, drawn without replacement across days (every day brings new papers).
4. Each day the method ranks the batch and shows at most `shown` papers; the simulated user votes
   +1 on shown library papers and -1 on every other shown paper. The method sees those votes from
   the next day on. Every method gets votes only on what it showed itself, under the same rule.
5. After the last day, every held-out paper is ranked against the same `negatives` random
   non-library papers that were never shown (nDCG@10 and MRR of its position).

Protocol multi merges two or three users with unrelated libraries into one subscriber
(`unrelated_groups`, `make_multi_cases`): seeds and held-out papers come from each library, and
`alone` replays the same days for each user on their own. Protocol text starts from no seed paper
but a free-text interest made of the user's most typical tags (`interest_text`).

Pure: indices in, numbers out. The corpus vectors live with the methods.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = [
    "MERGED",
    "EvalVote",
    "History",
    "Method",
    "Settings",
    "UserCase",
    "UserResult",
    "eligible_users",
    "final_history",
    "make_cases",
    "make_multi_cases",
    "unrelated_groups",
    "candidate_users",
    "alone",
    "interest_text",
    "simulate",
]


@dataclass(frozen=True)
class Settings:
    """The knobs of the protocol; defaults are the documented run."""

    seed_papers: int = 5
    days: int = 10
    per_day: int = 100
    shown: int = 10
    heldout_fraction: float = 0.2
    negatives: int = 100
    background: int = 200
    min_library: int = 15
    # Deal the whole corpus into the days, at most `per_day` others each (a busy arXiv day on the
    # titles corpus), instead of refusing a corpus with fewer than days x per_day others.
    whole_corpus: bool = False


@dataclass(frozen=True)
class UserCase:
    user: int
    library: frozenset[int]
    seeds: tuple[int, ...]
    batches: tuple[tuple[int, ...], ...]  # candidate corpus indices per day
    heldout: tuple[int, ...]
    negatives: tuple[int, ...]  # never shown; the competition for each held-out paper
    background: tuple[int, ...]  # random corpus papers a method may use as negatives
    # The libraries merged into this subscriber (protocol multi), one per user; () for one user.
    parts: tuple[frozenset[int], ...] = ()


@dataclass(frozen=True)
class EvalVote:
    item: int
    value: int  # +1 or -1
    day: int


@dataclass(frozen=True)
class History:
    """What a method may know on `day`: seeds, past votes, and every paper delivered so far."""

    user: int
    day: int
    seeds: tuple[int, ...]
    votes: tuple[EvalVote, ...]
    seen: tuple[int, ...]
    background: tuple[int, ...]


class Method(Protocol):
    @property
    def name(self) -> str: ...

    def order(self, history: History, candidates: np.ndarray, *, limit: int) -> np.ndarray:
        """Up to `limit` of `candidates` (corpus indices), best first."""
        ...


@dataclass(frozen=True)
class UserResult:
    hits: tuple[int, ...]  # library papers among those shown, per day
    shown: tuple[int, ...]  # papers shown per day
    ranks: tuple[int, ...]  # 1-based position of each held-out paper among its negatives
    votes: tuple[EvalVote, ...]  # everything the user voted, for inspecting the final profile


def eligible_users(libraries: Sequence[Sequence[int]], min_library: int) -> list[int]:
    return [u for u, lib in enumerate(libraries) if len(lib) >= min_library]


def _split(users: list[int], split: str) -> list[int]:
    # A fixed shuffle, independent of the run seed, so "tune" and "test" users never overlap.
    order = np.random.default_rng(20240601).permutation(len(users))
    half = len(users) // 2
    chosen = order[:half] if split == "tune" else order[half:]
    return sorted(users[i] for i in chosen)


def _pool(libraries: Sequence[Sequence[int]], settings: Settings, split: str) -> list[int]:
    if split not in ("tune", "test"):
        raise ValueError(f"split must be 'tune' or 'test', not {split!r}")
    return _split(eligible_users(libraries, settings.min_library), split)


def make_cases(
    libraries: Sequence[Sequence[int]],
    n_items: int,
    *,
    users: int,
    settings: Settings,
    seed: int,
    split: str = "test",
) -> list[UserCase]:
    """Sample `users` users from the `split` half ("tune" or "test") and deal their days."""
    pool = _pool(libraries, settings, split)
    rng = np.random.default_rng(seed)
    picked = rng.choice(pool, size=min(users, len(pool)), replace=False)
    return [_case(int(u), [libraries[int(u)]], n_items, settings, rng) for u in sorted(picked)]


MERGED = 1_000_000  # merged subscribers are numbered from here, apart from real users


def candidate_users(
    libraries: Sequence[Sequence[int]], *, settings: Settings, split: str, seed: int, limit: int
) -> list[int]:
    """The `split` half's eligible users in a random order, at most `limit`: whom protocol multi merges."""
    rng = np.random.default_rng(seed)
    return [int(u) for u in rng.permutation(_pool(libraries, settings, split))[:limit]]


def unrelated_groups(
    libraries: Sequence[Sequence[int]],
    centroids: Mapping[int, np.ndarray],
    users: Sequence[int],
    *,
    groups: int,
    size: int,
    max_cosine: float,
) -> list[tuple[int, ...]]:
    """Up to `groups` disjoint groups of `size` of `users` whose libraries share no paper and whose
    library centroids (unit) are pairwise below `max_cosine`. Greedy in the order of `users`: each
    joins the first later users that fit everyone already in."""
    free = list(users)
    found: list[tuple[int, ...]] = []
    while free and len(found) < groups:
        group = [free.pop(0)]
        for other in free:
            if len(group) == size:
                break
            fits = all(
                not set(libraries[other]) & set(libraries[u]) and centroids[other] @ centroids[u] < max_cosine
                for u in group
            )
            if fits:
                group.append(other)
        if len(group) == size:
            free = [u for u in free if u not in group]
            found.append(tuple(group))
    return found


def make_multi_cases(
    libraries: Sequence[Sequence[int]],
    groups: Sequence[tuple[int, ...]],
    n_items: int,
    *,
    settings: Settings,
    seed: int,
) -> list[UserCase]:
    """One subscriber per group: `settings.seed_papers` seeds and the held-out share from each
    library, the rest of all of them dealt over the same days."""
    rng = np.random.default_rng(seed)
    return [
        _case(MERGED + n, [libraries[u] for u in group], n_items, settings, rng)
        for n, group in enumerate(groups)
    ]


def alone(case: UserCase, part: int, user: int) -> UserCase:
    """The same days for one user of a merged subscriber: only their seeds, held-out papers and votes."""
    mine = case.parts[part]
    return dataclasses.replace(
        case,
        user=user,
        library=mine,
        seeds=tuple(i for i in case.seeds if i in mine),
        heldout=tuple(i for i in case.heldout if i in mine),
        parts=(),
    )


def _case(
    user: int, parts: Sequence[Sequence[int]], n_items: int, p: Settings, rng: np.random.Generator
) -> UserCase:
    """Seeds and held-out papers from each part (each user's library), the rest dealt over the days."""
    shuffled = [rng.permutation(np.asarray(part)) for part in parts]
    lib = np.concatenate(shuffled)
    seeds = np.concatenate([part[: p.seed_papers] for part in shuffled])
    rests = [part[p.seed_papers :] for part in shuffled]
    held = [rest[: max(2, round(p.heldout_fraction * len(rest)))] for rest in rests]
    heldout = np.concatenate(held)
    dealt = np.concatenate([rest[len(h) :] for rest, h in zip(rests, held, strict=True)])
    outside = rng.permutation(np.setdiff1d(np.arange(n_items), lib))
    per_day = min(p.per_day, (len(outside) - p.negatives) // p.days) if p.whole_corpus else p.per_day
    need = p.days * per_day + p.negatives
    if len(outside) < need or per_day < 1:
        raise ValueError(f"corpus too small: need {need} non-library papers, have {len(outside)}")
    # Even spread; which days get the remainder is random, so late days are not systematically poorer.
    day_of = rng.permutation(p.days)[np.arange(len(dealt)) % p.days]
    batches = tuple(
        tuple(int(i) for i in rng.permutation(np.r_[dealt[day_of == d], outside[d * per_day :][:per_day]]))
        for d in range(p.days)
    )
    return UserCase(
        user=user,
        library=frozenset(int(i) for i in lib),
        seeds=tuple(int(i) for i in seeds),
        batches=batches,
        heldout=tuple(int(i) for i in heldout),
        negatives=tuple(int(i) for i in outside[p.days * per_day :][: p.negatives]),
        background=tuple(int(i) for i in rng.choice(n_items, size=p.background, replace=False)),
        parts=tuple(frozenset(int(i) for i in part) for part in parts) if len(parts) > 1 else (),
    )


def interest_text(
    case: UserCase, tags: Sequence[Sequence[str]], frequency: Mapping[str, int], *, top: int = 5
) -> str:
    """A free-text interest in the user's own words: the `top` tags most typical of their library
    (count over its papers x log inverse corpus frequency), from every library paper but the
    held-out ones. CiteULike tags are written like "gene_expression" or "protein-protein"."""
    known = sorted(case.library - set(case.heldout))
    counts = Counter(tag for row in known for tag in set(tags[row]))
    n = len(tags)
    weight = {tag: c * np.log(n / frequency[tag]) for tag, c in counts.items()}
    best = sorted(weight, key=lambda tag: (-weight[tag], tag))[:top]
    return ", ".join(re.sub(r"[-_]+", " ", tag).strip() for tag in best)


def final_history(case: UserCase, votes: tuple[EvalVote, ...], candidates: np.ndarray) -> History:
    """What a method knows the day after the last batch, when it ranks `candidates`."""
    seen = (*(i for batch in case.batches for i in batch), *(int(i) for i in candidates))
    return History(case.user, len(case.batches) + 1, case.seeds, votes, seen, case.background)


def simulate(method: Method, case: UserCase, *, shown: int = 10) -> UserResult:
    """Replay the days for one user, then rank the held-out papers with the final profile."""
    votes: list[EvalVote] = []
    seen: list[int] = []
    hits, counts = [], []
    for day, batch in enumerate(case.batches, start=1):
        seen.extend(batch)
        history = History(case.user, day, case.seeds, tuple(votes), tuple(seen), case.background)
        top = [int(i) for i in method.order(history, np.asarray(batch), limit=shown)[:shown]]
        hits.append(sum(i in case.library for i in top))
        counts.append(len(top))
        votes.extend(EvalVote(i, 1 if i in case.library else -1, day) for i in top)
    ranks = []
    for item in case.heldout:
        candidates = np.asarray((item, *case.negatives))
        history = final_history(case, tuple(votes), candidates)
        order = [int(i) for i in method.order(history, candidates, limit=len(candidates))]
        ranks.append(order.index(item) + 1 if item in order else len(candidates))
    return UserResult(tuple(hits), tuple(counts), tuple(ranks), tuple(votes))
