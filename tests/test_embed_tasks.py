"""Distributed mode's embedding tasks, run by a real procrastinate worker on its in-memory connector:
embed_listings (at most 500 stored listings) and embed_interest (what the web tier defers instead of
loading the model). The tasks act on a real Paperbot with the real model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from procrastinate import testing
from procrastinate.types import JSONValue

from bot.config import load_settings
from bot.schedule import tasks
from bot.service import EMBED_CHUNK, Paperbot, sample_feed_path
from bot.vectors.embed import Encoder
from tests.digest.world import make_world


@pytest.fixture
def bot(tmp_path: Path, cached_encoder: Encoder, monkeypatch: pytest.MonkeyPatch) -> Iterator[Paperbot]:
    data = tmp_path / "data"
    bot = make_world(data, f"sqlite:///{data / 'paperbot.db'}", encoder=cached_encoder)
    bot.ingest(sources=[str(sample_feed_path())], embed=False)
    monkeypatch.setattr(tasks, "_bot", bot)  # the worker process's one Paperbot
    yield bot
    bot.close()


def run_jobs(*jobs: tuple[str, dict[str, JSONValue]]) -> testing.InMemoryConnector:
    """Defer `jobs` and run a worker until the queue is empty; returns the connector (its job rows)."""
    app = tasks.build_app("postgresql://unused/db", load_settings())
    connector = testing.InMemoryConnector()
    with app.replace_connector(connector):
        for name, args in jobs:
            app.configure_task(name).defer(**args)
        app.run_worker(wait=False, queues=["embed"])
    return connector


def statuses(connector: testing.InMemoryConnector) -> list[str]:
    """The embed jobs' outcomes (the worker also defers the periodic tasks, on other queues)."""
    return [job["status"] for job in connector.jobs.values() if job["queue_name"] == "embed"]


def test_embed_listings_embeds_and_indexes_only_the_given_listings(bot: Paperbot) -> None:
    ids = sorted(listing.id for listing in bot.listings())
    missing = bot.unembedded()
    assert len(ids) > 2 and missing == len(ids)  # ingested without vectors, every text distinct
    first: list[JSONValue] = [*ids[:2]]
    connector = run_jobs(("embed_listings", {"listing_ids": first}))
    assert statuses(connector) == ["succeeded"]
    assert bot.unembedded() == missing - 2
    found, _ = bot.index.vectors(np.array(ids, dtype=np.int64))
    assert sorted(found.tolist()) == first

    connector = run_jobs(("embed_listings", {"listing_ids": [*range(1, EMBED_CHUNK + 2)]}))
    assert statuses(connector) == ["failed"]  # more than one job's worth: refused, nothing embedded
    assert bot.unembedded() == missing - 2


def test_embed_interest_embeds_what_the_web_tier_stored_without_a_vector(bot: Paperbot) -> None:
    subscriber = bot.subscribe(email="ada@example.org", interests=["graph neural networks"])
    bot.add_interest(subscriber_id=subscriber.id, text="protein folding", embed=False)
    connector = run_jobs(("embed_interest", {"subscriber_id": subscriber.id}))
    assert statuses(connector) == ["succeeded"]
    assert bot.embed_interests(subscriber_id=subscriber.id) == 0  # nothing left without a vector
