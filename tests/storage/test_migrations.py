"""The schema comes from Alembic: upgrade head, then autogenerate must find nothing (`alembic check`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlmodel import SQLModel, select

from storage import models
from storage.db import alembic_config, make_engine, session_scope, upgrade


def test_upgrade_head_matches_models(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)  # idempotent: every start runs it
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
        tables = set(inspect(connection).get_table_names())
    assert {"listing", "embedding", "source", "subscriber", "interest", "subscription", "digest",
            "digestitem", "feedback"} <= tables
    engine.dispose()


def add_interest(engine: Engine, subscriber_id: int, label: str) -> int:
    with session_scope(engine) as session:
        row = models.Interest(subscriber_id=subscriber_id, label=label)
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def remove_interest(engine: Engine, interest_id: int) -> None:
    with session_scope(engine) as session:
        session.delete(session.get(models.Interest, interest_id))


def test_interest_ids_are_never_reused(database_url: str) -> None:
    """A stale App Home button or a `remove-interest` typed twice must never hit a newer interest."""
    engine = make_engine(database_url)
    upgrade(engine)
    with session_scope(engine) as session:
        subscriber = models.Subscriber(name="Ada", email="ada@example.org")
        session.add(subscriber)
        session.flush()
        assert subscriber.id is not None
        subscriber_id = subscriber.id
    first, second = (
        add_interest(engine, subscriber_id, "graphs"),
        add_interest(engine, subscriber_id, "proteins"),
    )
    remove_interest(engine, second)
    third = add_interest(engine, subscriber_id, "cells")
    remove_interest(engine, third)
    remove_interest(engine, first)
    fourth = add_interest(engine, subscriber_id, "robots")
    assert first < second < third < fourth
    engine.dispose()


def test_the_upgrade_keeps_existing_interests_and_their_ids(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(engine), "c41d2e7b9a10")  # the schema before ids were kept unique
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO subscriber (id, name, kind, followed_authors, muted_keywords, created_at) "
                "VALUES (1, 'Ada', 'person', '[]', '[]', '2026-11-01')"
            )
        )
        for n in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO interest "
                    "(id, subscriber_id, label, seed_listing_ids, seed_texts, created_at) "
                    f"VALUES ({n}, 1, 'topic {n}', '[]', '[]', '2026-11-01')"
                )
            )
    upgrade(engine)
    with session_scope(engine) as session:
        kept = [(i.id, i.label) for i in session.exec(select(models.Interest))]
    assert kept == [(1, "topic 1"), (2, "topic 2")]
    remove_interest(engine, 2)
    assert add_interest(engine, 1, "topic 3") == 3
    engine.dispose()
