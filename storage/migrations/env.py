"""Alembic environment: runs against the engine paperbot hands over (or DATABASE_URL for the CLI)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Engine
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers every table on SQLModel.metadata)
from storage.db import make_engine
from storage.queue_schema import not_queue_table

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    engine: Engine | None = context.config.attributes.get("engine")
    if engine is None:
        engine = make_engine(os.environ.get("DATABASE_URL", "sqlite:///paperbot-data/paperbot.db"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds the table
            compare_type=True,
            include_name=not_queue_table,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
