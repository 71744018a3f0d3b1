"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bot.service import Paperbot, sample_feed_path
from bot.vectors.embed import Encoder
from tests.factories import CachingEncoder, bot_on_a_copy, make_bot
from tests.pg import postgres_bin, running_postgres
from tests.smtp import SmtpServer

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FEEDS = SHARED / "data" / "feeds"
# CI sets REQUIRE_POSTGRES=1: there a missing server is a failure, never a silent skip.
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def feeds_dir() -> Path:
    if not FEEDS.is_dir():
        pytest.fail(f"real feed samples not found at {FEEDS}: tests expect ../shared beside the checkout")
    return FEEDS


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer settings leak in: no PAPERBOT_* variables, no .env or paperbot.toml from the cwd."""
    for name in list(os.environ):
        if name.startswith("PAPERBOT_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    bindir = postgres_bin()
    if bindir is None:
        if REQUIRE_POSTGRES:
            pytest.fail("PostgreSQL server binaries not found (apt-get install postgresql)")
        pytest.skip("PostgreSQL server binaries not installed")
    with running_postgres(bindir) as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the test server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    plain = postgres_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test once on SQLite and once on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'paperbot.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free loopback port, recording what it receives."""
    with SmtpServer() as server:
        yield server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that loads the real model is `slow`, so `pytest -m "not slow"` is the fast lane."""
    for item in items:
        if "encoder" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The real bundled model, loaded once per run."""
    return Encoder()


@pytest.fixture(scope="session")
def cached_encoder(encoder: Encoder) -> CachingEncoder:
    """The real model behind a memo for the whole run: worlds that ingest the same real feeds embed
    each distinct text once (real vectors, computed on first use)."""
    return CachingEncoder(encoder)


@pytest.fixture(scope="session")
def sample_template(tmp_path_factory: pytest.TempPathFactory, cached_encoder: Encoder) -> Path:
    """A data dir with the bundled sample ingested and embedded (real model), built once per run."""
    data_dir = tmp_path_factory.mktemp("sample") / "data"
    bot = make_bot(data_dir, encoder=cached_encoder)
    bot.ingest(sources=[str(sample_feed_path())])
    bot.close()
    return data_dir


@pytest.fixture
def sample_bot(sample_template: Path, tmp_path: Path, encoder: Encoder) -> Iterator[Paperbot]:
    """A Paperbot on a private copy of the ingested sample (SQLite)."""
    yield from bot_on_a_copy(sample_template, tmp_path, encoder)
