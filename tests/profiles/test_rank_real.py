"""profiles.rank on real abstracts embedded by the real model (CiteULike-a, citation pairs)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bot.evaluation import CiteULike, load_citeulike
from bot.vectors.embed import Encoder
from profiles.model import Interest, Profile, Vote, interest_from_seeds
from profiles.rank import DEFAULT_MIN_SCORE, DEFAULT_MIN_SIMILARITY, Candidate, rank
from tests.profiles.synth import NOW

DATASET = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "citeulike-a"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def citeulike() -> CiteULike:
    if not DATASET.is_dir():
        pytest.fail(f"CiteULike-a not found at {DATASET}: tests expect ../shared beside the checkout")
    return load_citeulike(DATASET)


@pytest.fixture(scope="module")
def papers(citeulike: CiteULike, encoder: Encoder) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """The first 8 citation pairs, 30 random papers and 100 background papers, embedded."""
    pairs = sorted({(a, b) if a < b else (b, a) for a, b in citeulike.citations})[:8]
    in_pairs = sorted({i for pair in pairs for i in pair})
    rng = np.random.default_rng(0)
    others = rng.choice(np.setdiff1d(np.arange(len(citeulike.texts)), in_pairs), size=130, replace=False)
    rows = [*in_pairs, *others.tolist()]
    vectors = np.zeros((len(citeulike.texts), 384), dtype=np.float32)
    vectors[rows] = encoder.encode([citeulike.texts[i] for i in rows])
    return pairs, vectors, others


def test_a_paper_cited_by_the_seed_ranks_near_the_top_and_passes_the_minimum(
    citeulike: CiteULike, papers: tuple[list[tuple[int, int]], np.ndarray, np.ndarray]
) -> None:
    pairs, vectors, others = papers
    random_papers, background = others[:30], vectors[others[30:]]
    passed = 0
    for seed, cited in pairs:
        profile = Profile(
            interests=(interest_from_seeds(1, citeulike.titles[seed], vectors[seed : seed + 1]),)
        )
        batch = [Candidate(int(i), vectors[i], citeulike.titles[i]) for i in (cited, *random_papers)]
        items = rank(profile, batch, now=NOW, limit=len(batch), min_score=None, background=background)
        position = [item.listing_id for item in items].index(cited)
        assert position < 5, (citeulike.titles[seed], citeulike.titles[cited])
        passed += items[position].score >= DEFAULT_MIN_SCORE
    assert passed >= 6


def test_a_down_vote_lowers_its_close_real_neighbour(
    citeulike: CiteULike, papers: tuple[list[tuple[int, int]], np.ndarray, np.ndarray]
) -> None:
    pairs, vectors, others = papers
    row = {title: n for n, title in enumerate(citeulike.titles)}
    seed = row["Motifs in brain networks."]
    neighbour = row["Network motifs: simple building blocks of complex networks."]
    disliked = row["Topological Generalizations of network motifs"]
    assert float(vectors[neighbour] @ vectors[disliked]) > 0.7  # close: the same topic, nearly
    profile = Profile(interests=(interest_from_seeds(1, "seed", vectors[seed : seed + 1]),))
    batch = [Candidate(int(i), vectors[i], citeulike.titles[i]) for i in (neighbour, *others[:30])]
    vote = Vote(listing_id=disliked, vector=vectors[disliked], value=-1, at=NOW, title="")

    def score(p: Profile) -> float:
        items = rank(p, batch, now=NOW, limit=len(batch), min_score=None, background=vectors[others[30:]])
        return next(i.score for i in items if i.listing_id == neighbour)

    assert score(Profile(interests=profile.interests, votes=(vote,))) < score(profile) - 0.2


def test_a_large_day_of_off_topic_papers_yields_nothing_but_an_on_topic_paper_gets_through(
    citeulike: CiteULike, encoder: Encoder
) -> None:
    """A recommender-systems subscriber on a biology feed: 150 real biology papers a day, measured
    against 100 other biology papers as the background (a random sample of the same feed)."""
    biology = re.compile(
        r"\b(proteins?|genom(e|es|ic)|genes?|microrna|transcription(al)?|drosophila|dna|rna)\b", re.I
    )
    feed = [n for n, title in enumerate(citeulike.titles) if biology.search(title)]
    rows = np.random.default_rng(0).permutation(feed)[:250]
    on_topic = citeulike.titles.index("Evaluation of Item-Based Top-N Recommendation Algorithms")
    vectors = encoder.encode([citeulike.texts[i] for i in (*rows, on_topic)])
    day = [Candidate(int(i), v, citeulike.titles[i]) for i, v in zip(rows[:150], vectors[:150], strict=True)]
    background = vectors[150:250]
    interest = Interest(
        1, "recommender systems", encoder.encode(["recommender systems and collaborative filtering"])[0]
    )
    profile = Profile(interests=(interest,))

    assert rank(profile, day, now=NOW, background=background) == []
    # The relative minimum score alone would send the least unrelated few: the floor holds them back.
    without_floor = rank(profile, day, now=NOW, background=background, min_similarity=-1.0)
    assert without_floor and all(item.score >= DEFAULT_MIN_SCORE for item in without_floor)
    held_back = {item.listing_id for item in without_floor}
    assert all(
        float(interest.vector @ c.vector) < DEFAULT_MIN_SIMILARITY for c in day if c.listing_id in held_back
    )
    # A normal day: the one paper on the interest gets through, alone.
    paper = Candidate(on_topic, vectors[250], citeulike.titles[on_topic])
    normal = rank(profile, [*day, paper], now=NOW, background=background)
    assert [item.listing_id for item in normal] == [on_topic]
