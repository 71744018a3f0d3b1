"""The schema comes from Alembic: upgrade head, then autogenerate must find nothing (`alembic check`)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from storage.db import make_engine, upgrade


def test_upgrade_head_matches_models(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)  # idempotent: every start runs it
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
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
    engine.dispose()
