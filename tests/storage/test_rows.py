"""storage.rows: plain SQL that reads and writes exactly what the ORM does, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlmodel import select

from bot.views import record_vote, subscriber
from storage import models
from storage.db import alembic_config, make_engine, session_scope
from storage.revisions import head_revisions
from storage.rows import AlchemyRows, json_value, open_rows, sqlite_file, utc

WHEN = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC)


def _reader(engine_url: str) -> int:
    """A subscriber with an interest and a listing to vote on; returns the listing's id."""
    engine = make_engine(engine_url)
    with session_scope(engine) as session:
        person = models.Subscriber(email="r@example.org", followed_authors=["Ada Lovelace"])
        session.add(person)
        session.flush()
        assert person.id is not None
        session.add(models.Interest(subscriber_id=person.id, label="graphs", seed_listing_ids=[7, 9]))
        listing = models.Listing(canonical_id="x:1", title="A paper", content_hash="h", authors=["B"])
        session.add(listing)
        session.flush()
        assert listing.id is not None
        listing_id = listing.id
    engine.dispose()
    return listing_id


def test_a_vote_written_with_plain_sql_reads_back_through_the_orm_unchanged(database_url: str) -> None:
    with open_rows(database_url):  # creates the schema (through SQLAlchemy) on a new database
        pass
    listing_id = _reader(database_url)
    with open_rows(database_url) as rows:
        result = record_vote(
            rows, subscriber_id=1, listing_id=listing_id, vote="up", via="cli", digest_item_id=None, now=WHEN
        )
        assert result.changed and result.title == "A paper"
        view = subscriber(rows, 1)
    assert view.votes == {"up": 1} and view.followed_authors == ("Ada Lovelace",)
    assert view.interests[0].seed_listing_ids == (7, 9)
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        vote = session.exec(select(models.Feedback)).one()
        assert (vote.vote, vote.created_at, vote.updated_at) == ("up", WHEN, WHEN)  # the ORM's own reading
    engine.dispose()


def test_an_error_rolls_the_whole_transaction_back(database_url: str) -> None:
    with open_rows(database_url):
        pass
    listing_id = _reader(database_url)
    with pytest.raises(RuntimeError), open_rows(database_url) as rows:
        record_vote(
            rows,
            subscriber_id=1,
            listing_id=listing_id,
            vote="down",
            via="cli",
            digest_item_id=None,
            now=WHEN,
        )
        raise RuntimeError("after the write")
    with open_rows(database_url) as rows:
        assert subscriber(rows, 1).votes == {}


def test_an_up_to_date_sqlite_file_is_read_with_sqlite3_and_an_older_one_is_upgraded_first(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    with open_rows(url) as rows:  # no file yet: SQLAlchemy creates it
        assert isinstance(rows, AlchemyRows)
    with open_rows(url) as rows:
        assert not isinstance(rows, AlchemyRows) and rows.dialect == "sqlite"
    engine = make_engine(url)
    command.downgrade(alembic_config(engine), "-1")  # the schema one migration behind the code
    with open_rows(url) as rows:
        assert isinstance(rows, AlchemyRows)  # upgraded through Alembic before anything is read
        assert {
            r.version_num for r in rows.all("SELECT version_num FROM alembic_version")
        } == head_revisions()
    engine.dispose()


def test_only_plain_sqlite_file_urls_go_to_sqlite3() -> None:
    assert sqlite_file("sqlite:///data/p.db") == Path("data/p.db")
    assert sqlite_file("sqlite+pysqlite:////abs/p.db") == Path("/abs/p.db")
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("sqlite:///p.db?mode=ro") is None
    assert sqlite_file("postgresql+psycopg://u@localhost/p") is None


def test_stored_values_become_what_the_orm_returns() -> None:
    assert utc("2026-03-29 01:30:15.123456") == WHEN
    assert utc(WHEN.astimezone()) == WHEN and utc(None) is None
    assert json_value('["a", 1]') == ["a", 1] and json_value(["a"]) == ["a"]
