"""Distributed mode's embedding tasks, run by a real procrastinate worker (on its in-memory connector,
or on PostgreSQL): embed_listings (at most 500 stored listings) and embed_interest, which the web tier
(`serve --web`: its email pages and its Slack commands and modal) defers instead of loading the model.
The tasks act on a real Paperbot with the real model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from procrastinate import testing
from procrastinate.types import JSONValue
from sqlmodel import col, select

from bot.channels.email.links import Links
from bot.channels.slack import EVENTS_PATH
from bot.config import load_settings
from bot.schedule import tasks
from bot.server.serve import build_app
from bot.service import EMBED_CHUNK, Paperbot, sample_feed_path
from bot.vectors.embed import Encoder
from storage import models
from storage.db import session_scope
from tests.digest.world import CLICKED, client_for, make_world
from tests.slack.fake_slack import FakeSlack
from tests.slack.helpers import serve
from tests.slack.signed import SECRET, SlackSender
from tests.slack.test_commands import modal_values, open_modal
from tests.test_web import post_form


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


def unembedded_interests(bot: Paperbot) -> list[str]:
    with session_scope(bot.engine) as session:
        return list(session.exec(select(models.Interest.label).where(col(models.Interest.vector).is_(None))))


@pytest.mark.postgres
def test_the_web_tier_hands_a_new_interest_to_the_embed_queue_and_a_worker_embeds_it(
    tmp_path: Path, postgres_url: str, cached_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = make_world(tmp_path / "data", postgres_url, encoder=cached_encoder)
    subscriber = bot.subscribe(email="ada@example.org", interests=["graph neural networks"])
    manage = Links.from_settings(bot.settings).manage_url(
        subscription_id=subscriber.subscriptions[0].id, now=CLICKED
    )
    client = client_for(bot, embed_interests=tasks.interest_embedder(bot.settings))
    page = post_form(client, manage, action="add_interest", text="protein folding")
    assert page.status_code == 200 and "protein folding" in page.text
    assert unembedded_interests(bot) == ["protein folding"]  # the web process did not embed it
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        queued = conn.execute(
            "SELECT queue_name, args FROM procrastinate_jobs WHERE task_name = 'embed_interest'"
        ).fetchall()
    assert queued == [("embed", {"subscriber_id": subscriber.id})]

    monkeypatch.setattr(tasks, "_bot", bot)
    tasks.build_app(postgres_url, bot.settings).run_worker(wait=False, queues=["embed"])
    assert unembedded_interests(bot) == []
    bot.close()


def queued_embeds(postgres_url: str) -> list[tuple[str, object]]:
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        rows = conn.execute(
            "SELECT queue_name, args FROM procrastinate_jobs WHERE task_name = 'embed_interest' ORDER BY id"
        ).fetchall()
    return [(str(queue), args) for queue, args in rows]


@pytest.mark.postgres
def test_the_web_tiers_slack_modal_and_command_hand_new_interests_to_the_embed_queue(
    tmp_path: Path, postgres_url: str, cached_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeSlack() as fake:
        bot = make_world(
            tmp_path / "data",
            postgres_url,
            encoder=cached_encoder,
            slack_bot_token="xoxb-test",
            slack_signing_secret=SECRET,
            slack_api_url=fake.api_url,
        )
        with serve(build_app(bot, None, web_tier=True)) as url:  # what `paperbot serve --web` serves
            slack = SlackSender(url + EVENTS_PATH, response_base=fake.base_url)
            view = open_modal(slack, fake)
            assert slack.view_submission(view, modal_values(interests="protein design")).text == ""
            assert "Saved" in fake.wait_for("chat.postEphemeral")[0].body["text"]
            assert slack.command("interests add graph neural networks").json()["text"].startswith("Adding")
            assert "Added interest 'graph neural networks'" in fake.wait_for("response")[0].body["text"]
            slack.close()
    profile = bot.find_subscriber(slack_user_id="U0ALICE")
    assert profile is not None
    assert sorted(unembedded_interests(bot)) == ["graph neural networks", "protein design"]  # not here
    assert queued_embeds(postgres_url) == [("embed", {"subscriber_id": profile.id})] * 2

    monkeypatch.setattr(tasks, "_bot", bot)
    tasks.build_app(postgres_url, bot.settings).run_worker(wait=False, queues=["embed"])
    assert unembedded_interests(bot) == []
    bot.close()
