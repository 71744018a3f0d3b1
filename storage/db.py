"""Engine, sessions and schema upgrades. SQLite by default, PostgreSQL via DATABASE_URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from storage.queue_schema import apply_queue_schema
from storage.revisions import MIGRATIONS, head_revisions

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["make_engine", "upgrade", "alembic_config", "session_scope"]


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
