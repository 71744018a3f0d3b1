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

Pure: indices in, numbers out. The corpus vectors live with the methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = [
    "EvalVote",
    "History",
    "Method",
    "Settings",
    "UserCase",
    "UserResult",
    "eligible_users",
    "final_history",
    "make_cases",
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


@dataclass(frozen=True)
class UserCase:
    user: int
    library: frozenset[int]
    seeds: tuple[int, ...]
    batches: tuple[tuple[int, ...], ...]  # candidate corpus indices per day
    heldout: tuple[int, ...]
    negatives: tuple[int, ...]  # never shown; the competition for each held-out paper
    background: tuple[int, ...]  # random corpus papers a method may use as negatives


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
    if split not in ("tune", "test"):
        raise ValueError(f"split must be 'tune' or 'test', not {split!r}")
    pool = _split(eligible_users(libraries, settings.min_library), split)
    rng = np.random.default_rng(seed)
    picked = rng.choice(pool, size=min(users, len(pool)), replace=False)
    return [_case(int(u), libraries[int(u)], n_items, settings, rng) for u in sorted(picked)]


def _case(user: int, library: Sequence[int], n_items: int, p: Settings, rng: np.random.Generator) -> UserCase:
    lib = rng.permutation(np.asarray(library))
    seeds, rest = lib[: p.seed_papers], lib[p.seed_papers :]
    n_held = max(2, round(p.heldout_fraction * len(rest)))
    heldout, dealt = rest[:n_held], rest[n_held:]
    outside = rng.permutation(np.setdiff1d(np.arange(n_items), lib))
    need = p.days * p.per_day + p.negatives
    if len(outside) < need:
        raise ValueError(f"corpus too small: need {need} non-library papers, have {len(outside)}")
    # Even spread; which days get the remainder is random, so late days are not systematically poorer.
    day_of = rng.permutation(p.days)[np.arange(len(dealt)) % p.days]
    batches = tuple(
        tuple(
            int(i) for i in rng.permutation(np.r_[dealt[day_of == d], outside[d * p.per_day :][: p.per_day]])
        )
        for d in range(p.days)
    )
    return UserCase(
        user=user,
        library=frozenset(int(i) for i in library),
        seeds=tuple(int(i) for i in seeds),
        batches=batches,
        heldout=tuple(int(i) for i in heldout),
        negatives=tuple(int(i) for i in outside[p.days * p.per_day :][: p.negatives]),
        background=tuple(int(i) for i in rng.choice(n_items, size=p.background, replace=False)),
    )


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
