"""A small world for digest tests: the real Paperbot on a real database with the real model and
ranker, real papers and real subscribers. The model sits behind the session's `cached_encoder`, so
each distinct text is embedded once per test run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from starlette.testclient import TestClient

from bot.inputs import Schedule
from bot.records import SubscriberView
from bot.server.web import create_app
from bot.service import Paperbot
from bot.vectors.embed import Encoder
from storage import models
from storage.db import session_scope
from tests.factories import make_bot

__all__ = [
    "CLICKED",
    "client_for",
    "state",
    "links_by_label",
    "MONDAY",
    "make_world",
    "add_papers",
    "subscribe",
    "FEED_DAY1",
    "FEEDS_DAY2",
    "INTERESTS",
]

MONDAY = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)  # just after an 08:00 UTC send time
CLICKED = MONDAY + timedelta(hours=3)  # when the reader clicks links in Monday's mail
FEED_DAY1 = "arxiv_api_query_all-testing_m100_2026-04-12.atom.xml"  # 100 real papers with authors
# The real ranker finds several of FEED_DAY1's papers above its bar for this interest.
INTERESTS = ("testing deep learning models",)
FEEDS_DAY2 = (
    "hf_daily_papers_api_2026-06.json",
    "arxiv_rss_new_cs.LG_2026-04-27_trimmed.xml",
    "arxiv_rss_new_cs.AI_2026-04-27_trimmed.xml",
    "arxiv_rss_new_cs.CL_2026-04-27_trimmed.xml",
    "arxiv_api_query_transformer_cs.LG_m5_2026-06-14.atom.xml",
)


def make_world(data_dir: Path, database_url: str, *, encoder: Encoder, **settings: object) -> Paperbot:
    """The real Paperbot with the real model; pass the session's `cached_encoder` so each paper's text
    is embedded once per test run."""
    values: dict[str, object] = {"secret_key": "test-signing-key-" + "x" * 32, **settings}
    return make_bot(data_dir, database_url, encoder=encoder, **values)  # type: ignore[arg-type]


def add_papers(bot: Paperbot, feeds_dir: Path, names: Sequence[str], *, at: datetime) -> int:
    """Ingest real feed files as if fetched at `at`; returns how many papers are new."""
    report = bot.ingest(sources=[str(feeds_dir / name) for name in names], now=at)
    return report.totals["new"]


def subscribe(
    bot: Paperbot,
    email: str,
    interests: Sequence[str] = INTERESTS,
    **schedule: object,
) -> SubscriberView:
    return bot.subscribe(
        email=email,
        name=email.split("@")[0].title(),
        interests=interests,
        schedule=Schedule(**schedule),  # type: ignore[arg-type]
    )


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, list[str]] = {}
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data: str) -> None:
        if self._href is not None and data.strip():
            self.found.setdefault(data.strip(), []).append(self._href)
            self._href = None


def links_by_label(html: str) -> dict[str, list[str]]:
    """Every <a href> in `html`, grouped by its text ("👍 More like this" -> one URL per paper)."""
    parser = _Anchors()
    parser.feed(html)
    return parser.found


def client_for(bot: Paperbot, at: datetime = CLICKED, **app_options: Any) -> TestClient:
    return TestClient(create_app(bot, clock=lambda: at, **app_options), base_url="http://localhost:8000")


def state(bot: Paperbot) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a link could change."""
    with session_scope(bot.engine) as session:
        return {
            "feedback": [
                (f.subscriber_id, f.listing_id, f.vote, f.via)
                for f in session.exec(select(models.Feedback).order_by(col(models.Feedback.id)))
            ],
            "subscriptions": [
                (s.id, s.active, s.paused_reason)
                for s in session.exec(select(models.Subscription).order_by(col(models.Subscription.id)))
            ],
            "processed": [(e.key,) for e in session.exec(select(models.ProcessedEvent))],
            "digests": [(d.id, d.status) for d in session.exec(select(models.Digest))],
        }
