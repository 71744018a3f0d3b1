"""The schema comes from Alembic: upgrade head, then autogenerate must find nothing (`alembic check`).

Every start checks the schema with one query and loads Alembic only when there is something to upgrade."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, inspect, text
from sqlmodel import SQLModel, select

from storage import models
from storage.db import alembic_config, make_engine, session_scope, upgrade
from storage.queue_schema import not_queue_table
from storage.revisions import head_revisions


def test_upgrade_head_matches_models(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)  # idempotent: every start runs it
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": not_queue_table}
        )
        assert compare_metadata(context, SQLModel.metadata) == []
        tables = set(inspect(connection).get_table_names())
    assert {
        "listing",
        "embedding",
        "source",
        "subscriber",
        "interest",
        "subscription",
        "digest",
        "digestitem",
        "feedback",
    } <= tables
    # On PostgreSQL the task queue's schema comes with it (distributed mode), applied once.
    assert ("procrastinate_jobs" in tables) == database_url.startswith("postgresql")
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


def test_the_head_read_from_the_migration_files_is_alembics_one_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))).get_heads()
    assert len(heads) == 1, f"the migrations have {len(heads)} heads: re-parent the newest one"
    assert head_revisions() == frozenset(heads)


def test_an_up_to_date_schema_costs_one_query_and_never_loads_alembic(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    upgrade(engine)
    engine.dispose()
    assert statements == ["SELECT version_num FROM alembic_version"]
    code = (
        "import sys\n"
        "from storage.db import make_engine, upgrade\n"
        "upgrade(make_engine(sys.argv[1]))\n"
        "print('alembic' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code, database_url], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


def _version(engine: Engine) -> frozenset[str]:
    with engine.connect() as connection:
        return frozenset(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def test_an_older_schema_is_upgraded_at_start(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)
    command.upgrade(config, "head")
    command.downgrade(config, "-1")  # the schema one migration behind the code
    assert _version(engine) != head_revisions()
    upgrade(engine)
    assert _version(engine) == head_revisions()
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": not_queue_table}
        )
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()
