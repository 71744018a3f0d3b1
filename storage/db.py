"""Engine, sessions and schema upgrades. SQLite by default, PostgreSQL via DATABASE_URL."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from storage.queue_schema import apply_queue_schema

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["make_engine", "upgrade", "alembic_config", "head_revisions", "session_scope"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine with the connection settings paperbot relies on (see integration notes)."""
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web app read while the scheduler writes; busy_timeout waits instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


@cache
def head_revisions() -> frozenset[str]:
    """The revisions of the migration files that no other revision revises: an up-to-date schema's
    alembic_version. Read from the files' `revision` / `down_revision` lines, not through Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        names = _revision_names(path)
        revisions.add(names["revision"])
        down = names.get("down_revision")
        parents.update([down] if isinstance(down, str) else down or ())
    return frozenset(revisions - parents)


def _revision_names(path: Path) -> dict[str, Any]:
    """The `revision` and `down_revision` values assigned at the top level of a migration file."""
    values: dict[str, Any] = {}
    target: ast.expr
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            values[target.id] = ast.literal_eval(value)
    return values


def _current_revisions(engine: Engine) -> frozenset[str]:
    """The schema's alembic_version; empty for a new database (no table yet)."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:
        return frozenset()
    return frozenset(rows)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent; runs at every start); on PostgreSQL also
    the task queue's schema, which distributed mode needs (`storage.queue_schema`), applied with the
    upgrade that creates the tables.

    An up-to-date schema costs one query: Alembic (about 0.3 s to import and set up its
    environment) is loaded only when there is something to upgrade."""
    if _current_revisions(engine) == head_revisions():
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "head")
    apply_queue_schema(engine)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error, so nothing is half-written."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
