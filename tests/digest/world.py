"""A small world for digest tests: a Paperbot on a real database, real papers, real subscribers.

Two stand-ins keep it instant and deterministic: the embedding model (a hashed bag of words) and the
ranking (`StandInBot.recommend`, word overlap, same contract as `Paperbot.recommend`). Tests about
what gets ranked use the real model and ranker instead (`sample_bot` in tests/conftest.py).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import col, select
from starlette.testclient import TestClient

from bot.config import Settings
from bot.embed import Encoder
from bot.errors import InvalidInput
from bot.records import Recommendation, SubscriberView
from bot.service import Paperbot
from bot.subscribers import Schedule
from bot.web import create_app
from storage import models
from storage.db import session_scope

__all__ = [
    "CLICKED",
    "client_for",
    "state",
    "links_by_label",
    "StandInBot",
    "HashEncoder",
    "MONDAY",
    "make_world",
    "add_papers",
    "subscribe",
    "FEED_DAY1",
    "FEEDS_DAY2",
]

MONDAY = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)  # just after an 08:00 UTC send time
CLICKED = MONDAY + timedelta(hours=3)  # when the reader clicks links in Monday's mail
FEED_DAY1 = "arxiv_api_query_all-testing_m100_2026-04-12.atom.xml"  # 100 real papers with authors
FEEDS_DAY2 = (
    "hf_daily_papers_api_2026-06.json",
    "arxiv_rss_new_cs.LG_2026-04-27_trimmed.xml",
    "arxiv_rss_new_cs.AI_2026-04-27_trimmed.xml",
    "arxiv_rss_new_cs.CL_2026-04-27_trimmed.xml",
    "arxiv_api_query_transformer_cs.LG_m5_2026-06-14.atom.xml",
)
_WORD = re.compile(r"[a-z]{3,}")


class HashEncoder(Encoder):
    """Stands in for the sentence-transformers model: words hashed into 256 dims, unit length."""

    def __init__(self) -> None:
        super().__init__("test-hash")

    @property
    def dim(self) -> int:
        return 256

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                out[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


def make_world(data_dir: Path, database_url: str, **settings: object) -> Paperbot:
    values: dict[str, object] = {"data_dir": data_dir, "database_url": database_url, "model": "test-hash"}
    values |= {"secret_key": "test-signing-key-" + "x" * 32, **settings}
    return StandInBot(Settings(**values), encoder=HashEncoder(), sleep=lambda _s: None)  # type: ignore[arg-type]


def add_papers(bot: Paperbot, feeds_dir: Path, names: Sequence[str], *, at: datetime) -> int:
    """Ingest real feed files as if fetched at `at`; returns how many papers are new."""
    report = bot.ingest(sources=[str(feeds_dir / name) for name in names], now=at)
    return report.totals["new"]


def subscribe(
    bot: Paperbot,
    email: str,
    interests: Sequence[str] = ("software testing", "neural networks"),
    **schedule: object,
) -> SubscriberView:
    return bot.subscribe(
        email=email,
        name=email.split("@")[0].title(),
        interests=interests,
        schedule=Schedule(**schedule),  # type: ignore[arg-type]
    )


class StandInBot(Paperbot):
    """Until profiles.rank lands: `recommend` with the same contract (window, limit, shown and voted
    papers excluded, reasons), ranking by word overlap with the interests minus overlap with 👎 papers."""

    def recommend(
        self,
        *,
        subscriber_id: int,
        since: datetime | None = None,
        limit: int = 10,
        now: datetime | None = None,
        min_score: float | None = None,
    ) -> list[Recommendation]:
        subscriber = self.subscriber(subscriber_id=subscriber_id)
        if not subscriber.interests:
            raise InvalidInput(f"subscriber {subscriber_id} has no interests yet")
        with session_scope(self.engine) as session:
            excluded = set(
                session.exec(
                    select(models.DigestItem.listing_id)
                    .join(models.Digest, col(models.Digest.id) == col(models.DigestItem.digest_id))
                    .join(
                        models.Subscription, col(models.Subscription.id) == col(models.Digest.subscription_id)
                    )
                    .where(models.Subscription.subscriber_id == subscriber_id, models.Digest.status == "sent")
                ).all()
            ) | set(
                session.exec(
                    select(models.Feedback.listing_id).where(models.Feedback.subscriber_id == subscriber_id)
                ).all()
            )
            down = session.exec(
                select(models.Listing.title, models.Listing.abstract)
                .join(models.Feedback, col(models.Feedback.listing_id) == col(models.Listing.id))
                .where(models.Feedback.subscriber_id == subscriber_id, models.Feedback.vote == "down")
            ).all()
        disliked = [_words(f"{t} {a}") for t, a in down]
        picks = []
        for listing in self.listings():
            if listing.id in excluded or (since and listing.first_seen < since):
                continue
            words = _words(f"{listing.title} {listing.abstract}")
            for interest in subscriber.interests:
                score = len(words & _words(interest.label)) - sum(len(words & d) for d in disliked) / 50
                if score > (min_score if min_score is not None else 0.5):
                    reason = f"matches your interest “{interest.label}”"
                    picks.append(Recommendation(listing, score, reason, interest.id, interest.label))
                    break
        picks.sort(key=lambda r: (-r.score, r.listing.id))
        return picks[:limit]


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


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


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
