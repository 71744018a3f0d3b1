"""profiles.rank on synthetic embeddings whose topics are known."""

from __future__ import annotations

import numpy as np
import pytest

from profiles.model import Interest, Profile, unit
from profiles.rank import DEFAULT_MIN_SCORE, DEFAULT_PARAMS, Candidate, RankedItem, query_vectors, rank
from profiles.scoring import Reference
from tests.profiles.synth import NOW, World, near


def scores_of(profile: Profile, batch: list[Candidate], background: np.ndarray) -> dict[int, float]:
    """Every candidate's score, nothing held back."""
    items = rank(profile, batch, now=NOW, limit=len(batch), min_score=None, background=background)
    return {i.listing_id: i.score for i in items}


def ids(items: list[RankedItem]) -> list[int]:
    return [item.listing_id for item in items]


def test_a_profile_with_nothing_to_match_asks_for_an_interest() -> None:
    world = World()
    with pytest.raises(ValueError, match="add an interest first"):
        rank(Profile(interests=()), [world.candidate(0)], now=NOW)
    only_dislikes = Profile(interests=(), votes=(world.vote(world.candidate(0), -1),))
    with pytest.raises(ValueError, match="add an interest first"):
        rank(only_dislikes, [world.candidate(0)], now=NOW)
    with pytest.raises(ValueError, match="add an interest first"):
        query_vectors(Profile(interests=()))


def test_papers_on_the_interest_come_first_with_a_reason_naming_it() -> None:
    world = World()
    profile = Profile(interests=(world.interest(1, topic=0),))
    on_topic = [world.candidate(0) for _ in range(5)]
    off_topic = [world.candidate(t) for t in (2, 3, 4) for _ in range(5)]
    items = rank(profile, [*off_topic, *on_topic], now=NOW, background=world.background(), min_score=None)
    assert set(ids(items[:5])) == {c.listing_id for c in on_topic}
    assert items[0].reason == 'matches "topic 0"'
    assert items[0].interest_id == 1 and items[0].liked_listing_id is None


def test_a_liked_paper_becomes_the_reason_for_its_neighbours() -> None:
    world = World()
    liked = world.candidate(3, title="Attention is all you need")
    profile = Profile(interests=(world.interest(1, topic=0),), votes=(world.vote(liked, +1),))
    neighbour = Candidate(5, world.paper(3, noise=0.1), "another attention paper")
    items = rank(profile, [neighbour, world.random_candidate()], now=NOW, background=world.background())
    assert items[0].listing_id == 5
    assert items[0].reason == 'because you liked "Attention is all you need"'
    assert items[0].liked_listing_id == liked.listing_id
    assert items[0].interest_id == 1  # a liked paper without interest joins the nearest interest


def test_a_down_vote_pushes_the_papers_close_to_it_down() -> None:
    world = World(seed=3)
    profile = Profile(interests=(world.interest(1, topic=0, seeds=2), world.interest(2, topic=1, seeds=2)))
    disliked = world.candidate(1)
    neighbours = [Candidate(900 + n, near(disliked.vector, world.rng, 0.1), f"near {n}") for n in range(3)]
    others = [world.candidate(0, noise=0.2) for _ in range(6)]
    batch = [*neighbours, *others]
    background = world.background()

    before = scores_of(profile, batch, background)
    after = scores_of(
        Profile(interests=profile.interests, votes=(world.vote(disliked, -1),)), batch, background
    )
    for n in neighbours:
        assert after[n.listing_id] < before[n.listing_id] - 0.5
    # The rest of the profile is not punished for it.
    assert np.mean([after[o.listing_id] - before[o.listing_id] for o in others]) > -0.3


def test_each_interest_keeps_its_slots_when_another_topic_is_busy() -> None:
    world = World()
    profile = Profile(interests=(world.interest(1, topic=0, seeds=5), world.interest(2, topic=1, seeds=2)))
    busy = [world.candidate(0, noise=0.1) for _ in range(30)]
    quiet = [world.candidate(1, noise=0.3) for _ in range(4)]
    background = world.background()
    everything = rank(profile, [*busy, *quiet], now=NOW, limit=34, background=background, min_score=None)
    by_score = sorted(everything, key=lambda i: -i.score)
    quiet_ids = {c.listing_id for c in quiet}
    assert not quiet_ids & set(ids(by_score[:10]))  # by score alone the busy topic takes every slot
    items = rank(profile, [*busy, *quiet], now=NOW, limit=10, background=background)
    assert len(items) == 10
    assert sum(i.listing_id in quiet_ids for i in items) == 10 // (2 * 2)  # half the digest, shared
    assert all(i.interest_id == 2 for i in items if i.listing_id in quiet_ids)


def test_a_weak_day_yields_nothing() -> None:
    world = World()
    profile = Profile(interests=(world.interest(1, topic=0),))
    background = world.background()
    weak_day = [world.candidate(topic) for topic in (2, 3, 4, 5) for _ in range(10)]
    assert rank(profile, weak_day, now=NOW, background=background) == []
    assert len(rank(profile, weak_day, now=NOW, background=background, min_score=None)) == 10
    # A normal day: the paper on the interest passes, and nothing below the minimum score does.
    normal = rank(profile, [*weak_day, world.candidate(0)], now=NOW, background=background)
    assert len(normal) >= 1 and all(i.score >= DEFAULT_MIN_SCORE for i in normal)


def test_muted_keywords_drop_whole_words_in_title_or_abstract_any_case() -> None:
    world = World()
    profile = Profile(interests=(world.interest(1, topic=0),), muted_keywords=("GAN", "protein folding"))
    muted_title = world.candidate(0, title="A gan for images")
    muted_abstract = world.candidate(0, abstract="We study Protein Folding at scale.")
    kept_organ = world.candidate(0, title="Organ segmentation", abstract="organic chemistry")
    kept_plural = world.candidate(0, title="GANs, revisited")
    items = rank(profile, [muted_title, muted_abstract, kept_organ, kept_plural], now=NOW, min_score=None)
    assert set(ids(items)) == {kept_organ.listing_id, kept_plural.listing_id}


def test_followed_authors_are_boosted_by_one_point() -> None:
    world = World()
    interests = (world.interest(1, topic=0),)
    plain = world.candidate(0, noise=0.2, authors=("Someone Else",))
    followed = world.candidate(0, noise=0.4, authors=("yann  lecun", "Someone Else"))  # weaker match
    background = world.background()

    def scores(profile: Profile) -> dict[int, float]:
        items = rank(profile, [plain, followed], now=NOW, background=background, min_score=None)
        return {i.listing_id: i.score for i in items}

    before = scores(Profile(interests=interests))
    after = scores(Profile(interests=interests, followed_authors=("Yann LeCun",)))
    assert after[followed.listing_id] == pytest.approx(before[followed.listing_id] + 1.0)
    assert after[plain.listing_id] == pytest.approx(before[plain.listing_id])


def test_limit_caps_the_digest_and_near_duplicates_are_spread_out() -> None:
    world = World()
    profile = Profile(interests=(world.interest(1, topic=0), world.interest(2, topic=1)))
    twin = world.paper(0, noise=0.05)  # the best match, four times over
    twins = [Candidate(100 + n, twin, f"version {n}") for n in range(4)]
    others = [world.candidate(t) for t in (0, 1) for _ in range(6)]
    items = rank(profile, [*twins, *others], now=NOW, limit=5, background=world.background(), min_score=None)
    assert len(items) == 5
    assert sum(100 <= i.listing_id < 104 for i in items) == 1


def test_ranking_is_deterministic() -> None:
    world = World()
    profile = Profile(
        interests=(world.interest(1, topic=0), world.interest(2, topic=1)),
        votes=tuple(
            world.vote(world.candidate(t), v, days_ago=d) for t, v, d in [(0, 1, 3), (2, -1, 1), (1, 1, 2)]
        ),
    )
    batch = [world.candidate(t) for t in range(6) for _ in range(4)]
    background = world.background(1500)  # above the cap: subsampled with the seed
    first = rank(profile, batch, now=NOW, background=background, seed=7, min_score=None)
    again = rank(profile, list(batch), now=NOW, background=background.copy(), seed=7, min_score=None)
    assert first == again


def test_query_vectors_are_the_seeds_then_the_newest_likes() -> None:
    world = World()
    text = Interest(id=3, label="graph neural networks", vector=world.topics[2])
    likes = tuple(world.vote(world.candidate(1), +1, days_ago=d) for d in (5, 1))
    profile = Profile(interests=(world.interest(1, topic=0, seeds=3), text), votes=likes)
    queries = query_vectors(profile)
    assert queries.shape == (3 + 1 + 2, world.topics.shape[1]) and queries.dtype == np.float32
    assert np.allclose(queries[-1], likes[1].vector)  # newest last


def test_no_candidates_or_zero_limit_gives_an_empty_digest() -> None:
    world = World()
    profile = Profile(interests=(world.interest(1, topic=0),))
    assert rank(profile, [], now=NOW) == []
    assert rank(profile, [world.candidate(0)], now=NOW, limit=0) == []


def test_a_reference_computed_once_ranks_exactly_as_the_raw_background() -> None:
    world = World(seed=5)
    liked = world.candidate(2)
    profile = Profile(
        interests=(world.interest(1, topic=0), world.interest(2, topic=1, seeds=3)),
        votes=(world.vote(liked, +1), world.vote(world.candidate(0), -1)),
    )
    day = [world.candidate(t % 4) for t in range(40)]
    background = world.background()
    known = day[:30]  # the other ten are candidates the reference has not seen: computed on the spot
    reference = Reference.of(
        unit(background),
        DEFAULT_PARAMS.hub_k,
        np.array([c.listing_id for c in known]),
        unit(np.stack([c.vector for c in known])),
    )
    for min_score in (None, DEFAULT_MIN_SCORE):
        raw = rank(profile, day, now=NOW, background=background, min_score=min_score)
        cached = rank(profile, day, now=NOW, background=reference, min_score=min_score)
        assert ids(cached) == ids(raw) and ids(raw)
        assert [i.score for i in cached] == pytest.approx([i.score for i in raw], rel=1e-5)  # float32


def test_a_text_interest_scores_as_it_would_alone_next_to_a_sharper_one() -> None:
    world = World(seed=4)
    broad = Interest(1, "broad", world.paper(0, noise=0.6))  # a text interest: one vector, no seeds
    sharp = Interest(2, "sharp", world.topics[1])
    batch = [world.candidate(0, noise=0.6) for _ in range(8)] + [
        world.candidate(1, noise=0.1) for _ in range(8)
    ]
    background = world.background()

    def scores(*interests: Interest) -> dict[int, float]:
        items = rank(
            Profile(interests=interests),
            batch,
            now=NOW,
            limit=len(batch),
            min_score=None,
            background=background,
        )
        return {i.listing_id: i.score for i in items}

    alone, both = scores(broad), scores(broad, sharp)
    assert all(both[paper] >= score - 1e-5 for paper, score in alone.items())
    digest = rank(Profile(interests=(broad, sharp)), batch, now=NOW, limit=4, background=background)
    assert {i.interest_id for i in digest} == {1, 2}


def test_a_like_raises_its_neighbours_and_lowers_nothing() -> None:
    world = World(seed=5)
    profile = Profile(interests=(world.interest(1, topic=0),))
    liked = world.candidate(0, noise=0.5)
    neighbours = [Candidate(900 + n, near(liked.vector, world.rng, 0.1), f"near {n}") for n in range(3)]
    others = [world.candidate(0) for _ in range(6)] + [world.random_candidate() for _ in range(6)]
    batch = [*neighbours, *others]
    background = world.background()

    before = scores_of(profile, batch, background)
    after = scores_of(Profile(interests=profile.interests, votes=(world.vote(liked, +1),)), batch, background)
    assert all(after[n.listing_id] > before[n.listing_id] + 0.2 for n in neighbours)
    # Only the learned model (weight 1/101 after one vote) may move the others, and barely.
    assert all(after[o.listing_id] >= before[o.listing_id] - 0.05 for o in others)
