"""Subscribe, recommend and vote on the real sample with the real model (issue 3 acceptance)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import event
from sqlmodel import func, select

from bot.errors import InvalidInput, NotFound
from bot.records import MatchRequest, Recommendation
from bot.service import Paperbot, sample_feed_path
from bot.vectors.embed import Encoder
from storage import models
from storage.db import session_scope
from storage.index import VectorIndex
from tests.factories import make_bot

INTEREST = "equivariant neural networks"


class CountingEncoder(Encoder):
    """The real encoder, recording every text it is asked to embed."""

    def __init__(self, inner: Encoder) -> None:
        super().__init__(inner.model_name)
        self.__dict__["_model"] = inner._model  # share the loaded weights
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return super().encode(texts)


def test_equivariance_interest_ranks_equivariance_papers_first(sample_bot: Paperbot) -> None:
    view = sample_bot.subscribe(email="a@example.org", interests=[INTEREST])
    items = sample_bot.recommend(subscriber_id=view.id, limit=10)
    assert len(items) >= 3
    assert all("quivarian" in item.listing.title for item in items[:3]), [i.listing.title for i in items]
    assert all(INTEREST in item.reason for item in items[:3])


def test_a_down_vote_changes_the_next_recommendation(sample_bot: Paperbot) -> None:
    view = sample_bot.subscribe(email="a@example.org", interests=[INTEREST])
    before = sample_bot.recommend(subscriber_id=view.id, limit=10)
    disliked = before[0].listing
    result = sample_bot.record_feedback(subscriber_id=view.id, listing_id=disliked.id, vote="down")
    assert result.changed
    after = sample_bot.recommend(subscriber_id=view.id, limit=10)
    assert disliked.id not in [item.listing.id for item in after]  # voted papers are not shown again
    # Its closest neighbour among the recommendations now scores lower than it did.
    with session_scope(sample_bot.engine) as session:
        from bot.vectors.store import listing_vectors

        ids, vectors = listing_vectors(session, sample_bot.settings.model, [i.listing.id for i in before])
    by_id = dict(zip(ids.tolist(), vectors, strict=True))
    others = [i for i in before[1:] if i.listing.id in [a.listing.id for a in after]]
    neighbour = max(others, key=lambda i: float(by_id[i.listing.id] @ by_id[disliked.id]))
    new_score = next(a.score for a in after if a.listing.id == neighbour.listing.id)
    assert new_score < neighbour.score


def test_nothing_is_embedded_twice(feeds_dir: Path, tmp_path: Path, encoder: Encoder) -> None:
    counting = CountingEncoder(encoder)
    bot = make_bot(tmp_path / "data", encoder=counting)
    feed = feeds_dir / "arxiv_api_query_transformer_cs.LG_m5_2026-06-14.atom.xml"
    bot.ingest(sources=[str(feed)])
    first = len(counting.texts)
    assert first == len(set(counting.texts)) == 5
    copy = tmp_path / "again.xml"  # new mtime: parsed and stored again, every paper a duplicate
    copy.write_bytes(feed.read_bytes())
    report = bot.ingest(sources=[str(copy)])
    assert report.totals["duplicate"] == 5 and report.embedded == 0
    assert len(counting.texts) == first
    with session_scope(bot.engine) as session:
        assert session.exec(select(func.count()).select_from(models.Embedding)).one() == 5

    view = bot.subscribe(email="b@example.org", interests=["transformer language models"])
    assert counting.texts[first:] == ["transformer language models"]  # once, at subscribe
    bot.recommend(subscriber_id=view.id)
    bot.recommend(subscriber_id=view.id)
    assert len(counting.texts) == first + 1  # recommend embeds nothing already known
    bot.add_interest(subscriber_id=view.id, text="protein structure prediction")
    assert counting.texts[first + 1 :] == ["protein structure prediction"]
    bot.close()


def test_seed_paper_interest_and_bibtex_import(sample_bot: Paperbot) -> None:
    listing = next(x for x in sample_bot.listings() if "Gaunt Tensor" in x.title)
    view = sample_bot.subscribe(email="c@example.org", seed_papers=[str(listing.id)])
    assert view.interests[0].seed_listing_ids == (listing.id,)
    bib = (
        b"@article{ok, title={Equivariant message passing for the prediction of tensorial properties},"
        b" abstract={We propose the polarizable atom interaction neural network (PaiNN).}}\n"
        b"@article{broken, title={Never closed\n"
        b"@misc{notitle, year={2020}}\n"
    )
    interests, warnings = sample_bot.import_bib(subscriber_id=view.id, data=bib)
    assert len(interests) == 1 and "Equivariant message passing" in interests[0].label
    assert any("line 2" in w for w in warnings) and any("notitle" in w for w in warnings)
    items = sample_bot.recommend(subscriber_id=view.id, limit=5)
    assert items and "quivarian" in items[0].listing.title
    # The seed paper itself is in the window and matches perfectly, but it is no news to its owner.
    assert listing.id not in [i.listing.id for i in sample_bot.recommend(subscriber_id=view.id, limit=50)]


def test_bad_input_gets_clear_errors_and_changes_nothing(sample_bot: Paperbot) -> None:
    with pytest.raises(NotFound, match="no subscriber 999"):
        sample_bot.recommend(subscriber_id=999)
    view = sample_bot.subscribe(email="d@example.org")
    with pytest.raises(InvalidInput, match="add-interest"):
        sample_bot.recommend(subscriber_id=view.id)
    with pytest.raises(NotFound, match="no listing 99999"):
        sample_bot.record_feedback(subscriber_id=view.id, listing_id=99999, vote="up")
    with pytest.raises(InvalidInput, match="not one of up, down, save"):
        sample_bot.record_feedback(subscriber_id=view.id, listing_id=1, vote="meh")
    with pytest.raises(NotFound, match="not in the database"):
        sample_bot.subscribe(email="e@example.org", seed_papers=["10.9999/nowhere"])  # DOIs: not fetched
    assert sample_bot.find_subscriber(email="e@example.org") is None  # all or nothing
    with pytest.raises(InvalidInput, match="no usable BibTeX"):
        sample_bot.import_bib(subscriber_id=view.id, data=b"@article{x, year={2020}}")
    assert sample_bot.subscriber(subscriber_id=view.id).interests == ()


def test_repeated_votes_are_idempotent_and_the_last_one_wins(sample_bot: Paperbot) -> None:
    view = sample_bot.subscribe(email="f@example.org", interests=[INTEREST])
    assert sample_bot.record_feedback(subscriber_id=view.id, listing_id=1, vote="up").changed
    assert not sample_bot.record_feedback(subscriber_id=view.id, listing_id=1, vote="up").changed
    assert sample_bot.record_feedback(subscriber_id=view.id, listing_id=1, vote="down").changed
    assert sample_bot.subscriber(subscriber_id=view.id).votes == {"down": 1}


def test_missing_or_corrupt_index_is_rebuilt(sample_bot: Paperbot, encoder: Encoder) -> None:
    view = sample_bot.subscribe(email="g@example.org", interests=[INTEREST])
    expected = [i.listing.id for i in sample_bot.recommend(subscriber_id=view.id)]
    path = sample_bot.settings.index_path
    for damage in (lambda: path.write_bytes(b"not a faiss index"), path.unlink):
        damage()
        fresh = make_bot(sample_bot.settings.data_dir, encoder=encoder)  # the next process to start
        assert [i.listing.id for i in fresh.recommend(subscriber_id=view.id)] == expected
        fresh.close()
        assert VectorIndex._load(path, dim=encoder.dim, model=encoder.model_name).state.count == 321


def test_a_batch_ranks_each_subscriber_as_a_request_of_its_own_would(sample_bot: Paperbot) -> None:
    one = sample_bot.subscribe(email="h@example.org", interests=[INTEREST]).id
    two = sample_bot.subscribe(
        email="i@example.org", interests=["single-cell RNA sequencing", "LLM reasoning"]
    ).id
    voter = sample_bot.subscribe(email="j@example.org", interests=[INTEREST]).id
    first, second = sample_bot.recommend(subscriber_id=voter, limit=2)
    sample_bot.record_feedback(subscriber_id=voter, listing_id=first.listing.id, vote="down")
    sample_bot.record_feedback(subscriber_id=voter, listing_id=second.listing.id, vote="up")
    empty = sample_bot.subscribe(email="k@example.org").id
    now = models.utcnow()
    since = now - timedelta(days=7)
    requests = [MatchRequest(s, since, 5) for s in (one, two, voter, empty, 999)]

    outcomes = sample_bot.recommend_many(requests, now=now)

    def key(items: Sequence[Recommendation]) -> list[tuple[int, float, str]]:
        return [(i.listing.id, round(i.score, 5), i.reason) for i in items]

    for request, outcome in zip(requests[:3], outcomes, strict=False):
        assert isinstance(outcome, list) and outcome
        alone = sample_bot.recommend(subscriber_id=request.subscriber_id, since=since, limit=5, now=now)
        assert key(outcome) == key(alone)
    voted = {first.listing.id, second.listing.id}
    assert isinstance(outcomes[2], list)
    assert not voted & {i.listing.id for i in outcomes[2]}  # voted papers are not offered again
    assert isinstance(outcomes[3], InvalidInput) and "add-interest" in outcomes[3].message
    assert isinstance(outcomes[4], NotFound)


def test_papers_ingested_by_another_process_are_recommended(
    sample_bot: Paperbot, feeds_dir: Path, encoder: Encoder
) -> None:
    reader = sample_bot.subscribe(email="l@example.org", interests=["transformer language models"])
    sample_bot.recommend(subscriber_id=reader.id)  # this process now has the index and a pool cached
    before = {x.id for x in sample_bot.listings()}
    other = make_bot(sample_bot.settings.data_dir, encoder=encoder)  # like `paperbot ingest` elsewhere
    other.ingest(sources=[str(feeds_dir / "arxiv_api_query_transformer_cs.LG_m5_2026-06-14.atom.xml")])
    other.close()
    new = [x for x in sample_bot.listings() if x.id not in before]
    assert len(new) == 5
    new_ids = np.array([x.id for x in new], dtype=np.int64)
    assert not len(sample_bot.index.vectors(new_ids)[0])  # our index has not seen them

    sample_bot.add_interest(subscriber_id=reader.id, text=new[0].title)
    items = sample_bot.recommend(subscriber_id=reader.id, limit=10)

    assert items[0].listing.id == new[0].id
    assert len(sample_bot.index.vectors(new_ids)[0]) == 5  # and the index took them in


def test_scheduled_digests_reuse_the_loaded_listings_until_they_change(
    sample_bot: Paperbot, tmp_path: Path
) -> None:
    reader = sample_bot.subscribe(email="m@example.org", interests=[INTEREST]).id
    since = models.utcnow() - timedelta(days=7)

    def listing_reads() -> int:
        """Full reads of the listing table (what loading the candidate pool costs) in one recommend."""
        reads = []
        listen = lambda *args: reads.append(" ".join(args[2].split()))  # noqa: E731
        event.listen(sample_bot.engine, "before_cursor_execute", listen)
        try:
            sample_bot.recommend(subscriber_id=reader, since=since)
        finally:
            event.remove(sample_bot.engine, "before_cursor_execute", listen)
        return sum(r.startswith("SELECT listing.id, listing.canonical_id") for r in reads)

    assert listing_reads() == 1
    assert listing_reads() == 0  # nothing changed: the pool is reused
    sample_bot.record_feedback(subscriber_id=reader, listing_id=1, vote="up")
    assert listing_reads() == 0  # votes change profiles, not the pool
    again = tmp_path / "again.atom"  # a new file: parsed, every paper seen again
    again.write_bytes(sample_feed_path().read_bytes())
    assert sample_bot.ingest(sources=[str(again)]).totals["duplicate"] == 321
    assert listing_reads() == 1


def test_papers_stored_before_their_vectors_are_recommended_once_embedded(
    sample_bot: Paperbot, feeds_dir: Path
) -> None:
    feed = str(feeds_dir / "arxiv_api_query_transformer_cs.LG_m5_2026-06-14.atom.xml")
    before = {x.id for x in sample_bot.listings()}
    sample_bot.ingest(sources=[feed], embed=False)  # stored, not embedded yet (an ingest cut short)
    new = next(x for x in sample_bot.listings() if x.id not in before)
    reader = sample_bot.subscribe(email="n@example.org", interests=[new.title]).id
    assert new.id not in [i.listing.id for i in sample_bot.recommend(subscriber_id=reader)]

    assert sample_bot.ingest(sources=[feed]).embedded == 5  # the next ingest embeds them

    assert sample_bot.recommend(subscriber_id=reader)[0].listing.id == new.id
