"""The schema comes from Alembic: upgrade head, then autogenerate must find nothing (`alembic check`).

Every start checks the schema with one query and loads Alembic only when there is something to upgrade."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, inspect, text
from sqlmodel import SQLModel

from storage.db import alembic_config, head_revisions, make_engine, upgrade


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
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()
