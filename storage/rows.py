"""Plain SQL on one connection, without the ORM: what the everyday commands read, and a vote.

`paperbot status`, `listings`, `sources list`, `profile show` and `feedback` do a few milliseconds of
work, but importing SQLAlchemy and building the SQLModel classes costs about half a second of CPU,
every time. On an SQLite file that is up to date they therefore use the standard library's sqlite3;
anything else (PostgreSQL, a new or older database) goes through SQLAlchemy, which creates or
upgrades the schema first. The service runs the very same SQL on its own SQLAlchemy connection
(`AlchemyRows`), so each view has one query, not one per path.

Values come back as the driver gives them. `utc` and `json_value` turn SQLite's text into what
SQLAlchemy's column types return (aware UTC datetimes, decoded JSON); values that already are, pass.
SQL uses `:name` parameters, which both sqlite3 and SQLAlchemy's `text()` take.
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from storage.revisions import head_revisions

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlmodel import Session

__all__ = ["Rows", "AlchemyRows", "rows_of", "open_rows", "sqlite_file", "utc", "json_value"]

# How SQLAlchemy's DateTime stores a value in SQLite (naive, here always UTC): a bound time must
# match it, or text comparisons and the ORM's reading of the row go wrong.
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


class Rows(ABC):
    """SQL with `:name` parameters, inside the caller's transaction. Rows have attribute access."""

    dialect: str

    @abstractmethod
    def all(self, sql: str, **params: object) -> list[Any]: ...

    @abstractmethod
    def run(self, sql: str, **params: object) -> int:
        """Execute a statement; returns the number of rows it changed."""

    def first(self, sql: str, **params: object) -> Any:
        """The first row, or None."""
        rows = self.all(sql, **params)
        return rows[0] if rows else None

    def time(self, when: datetime) -> object:
        """`when` as a parameter that compares and stores like the ORM's (aware datetimes only)."""
        if when.tzinfo is None:
            raise ValueError(f"naive datetime {when!r}: paperbot stores timezone-aware datetimes only")
        return when.astimezone(UTC).strftime(_SQLITE_TIME) if self.dialect == "sqlite" else when


class AlchemyRows(Rows):
    """Rows on a SQLAlchemy connection (a session's `connection()` shares its transaction)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name

    def all(self, sql: str, **params: object) -> list[Any]:
        from sqlalchemy import text

        return list(self.connection.execute(text(sql), params).all())

    def run(self, sql: str, **params: object) -> int:
        from sqlalchemy import text

        return int(self.connection.execute(text(sql), params).rowcount)


def rows_of(session: Session) -> AlchemyRows:
    """Plain SQL inside the session's transaction, after its pending changes."""
    session.flush()
    return AlchemyRows(session.connection())


class _SqliteRows(Rows):
    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def all(self, sql: str, **params: object) -> list[Any]:
        cursor = self.connection.execute(sql, params)
        row = _row_type(tuple(column[0] for column in cursor.description))
        return [row(*values) for values in cursor.fetchall()]

    def run(self, sql: str, **params: object) -> int:
        return self.connection.execute(sql, params).rowcount


@cache
def _row_type(columns: tuple[str, ...]) -> Any:
    return namedtuple("Row", columns, rename=True)  # rename: "count(*)" and the like


@contextmanager
def open_rows(url: str) -> Iterator[Rows]:
    """One transaction on the database at `url`, brought up to date first: committed when the block
    ends, rolled back if it raises."""
    path = sqlite_file(url)
    if path is not None and path.is_file():
        connection = sqlite3.connect(path, timeout=30)  # waits for a writer, as the engine does
        try:
            if _revisions(connection) == head_revisions():
                connection.execute("PRAGMA foreign_keys=ON")
                with connection:
                    yield _SqliteRows(connection)
                return
        finally:
            connection.close()
    from storage.db import make_engine, upgrade

    engine = make_engine(url)
    try:
        upgrade(engine)
        with engine.begin() as alchemy:
            yield AlchemyRows(alchemy)
    finally:
        engine.dispose()


def sqlite_file(url: str) -> Path | None:
    """The file of a plain SQLite URL (`sqlite:///path`); None for other databases, in-memory ones and
    URLs with options, which only SQLAlchemy reads right."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            path = url.removeprefix(prefix)
            return Path(path) if path and path != ":memory:" and "?" not in path else None
    return None


def _revisions(connection: sqlite3.Connection) -> frozenset[str]:
    try:
        return frozenset(row[0] for row in connection.execute("SELECT version_num FROM alembic_version"))
    except sqlite3.OperationalError:  # no such table: a database paperbot never set up
        return frozenset()


@overload
def utc(value: None) -> None: ...


@overload
def utc(value: datetime | str) -> datetime: ...


def utc(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite gives naive UTC text)."""
    if value is None:
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def json_value(value: Any) -> Any:
    """A stored JSON column decoded (SQLite gives text; PostgreSQL's driver has decoded it)."""
    return json.loads(value) if isinstance(value, str) else value
