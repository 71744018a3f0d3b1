"""The task queue's schema (procrastinate) on PostgreSQL, applied next to the Alembic migrations.

procrastinate ships its schema as one SQL file for its version (pinned in pyproject.toml), plus its own
migrations for later versions. Its tables live beside paperbot's and are left out of Alembic's
autogenerate comparison (`storage/migrations/env.py`), so `alembic check` stays clean. Applied once:
an advisory lock makes concurrent starts wait for the first, and a present `procrastinate_jobs` table
means it is there. Upgrading procrastinate means applying its migrations for the new version (see
docs/deploy.md).
"""

from __future__ import annotations

from sqlalchemy import Engine, text

__all__ = ["apply_queue_schema", "not_queue_table", "QUEUE_TABLES"]

QUEUE_TABLES = "procrastinate_"  # prefix of every table procrastinate creates
_LOCK_KEY = int.from_bytes(b"pbqueue", "big")  # advisory lock serialising concurrent first starts


def not_queue_table(name: str | None, type_: str, _parents: object) -> bool:
    """Alembic's `include_name`: the queue's tables have their own schema, so autogenerate skips them."""
    return not (type_ == "table" and name is not None and name.startswith(QUEUE_TABLES))


def apply_queue_schema(engine: Engine) -> bool:
    """Create procrastinate's tables, types and functions unless present; True if it created them."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        if conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is not None:
            return False
        # Imported here: procrastinate (with psycopg's pool) costs 0.2 s, which every command paid
        # through storage.db although only a first start on PostgreSQL needs it.
        from procrastinate.schema import SchemaManager

        # The driver is handed a parameter list, so a literal % must be doubled (as procrastinate does).
        conn.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))
    return True
