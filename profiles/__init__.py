"""The interest model: profiles in, ranked digests out. Pure numpy / scikit-learn, no I/O.

The ranker itself is `profiles.rank.rank`; it is not re-exported here, where its name would hide the
`profiles.rank` module.
"""

from profiles.model import Interest, Profile, Vote, interest_from_seeds, interests_from_papers
from profiles.rank import DEFAULT_MIN_SCORE, DEFAULT_PARAMS, Candidate, RankedItem, query_vectors
from profiles.scoring import Params

__all__ = [
    "Interest",
    "Vote",
    "Profile",
    "interest_from_seeds",
    "interests_from_papers",
    "Candidate",
    "RankedItem",
    "Params",
    "DEFAULT_MIN_SCORE",
    "DEFAULT_PARAMS",
    "query_vectors",
]
