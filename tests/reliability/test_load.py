"""Load: the database work per digest does not grow with the number of subscribers (no N+1).

The full daily-cycle benchmark is bench/bench_daily_cycle.py; this is the part that must hold in CI.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event

from bot.digests.run import run_due, run_for_subscriber
from bot.records import MatchRequest
from bot.service import Paperbot
from tests.slack.helpers import due_schedule
from tests.smtp import SmtpServer


@contextmanager
def counting(bot: Paperbot) -> Iterator[Counter[str]]:
    """Count the SQL statements `bot` sends, by their first word (SELECT, INSERT, UPDATE...)."""
    seen: Counter[str] = Counter()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen[statement.split(None, 1)[0].upper()] += 1

    event.listen(bot.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(bot.engine, "before_cursor_execute", count)


def _statements_by_items(bot: Paperbot, smtp: SmtpServer, start: int, count: int) -> dict[int, set[int]]:
    """Subscribe `count` more readers with the same interests and send each one's digest; returns the
    statement counts of the digests, by how many papers they held."""
    interests = [paper.title for paper in bot.listings(limit=2)]
    ids = [
        bot.subscribe(email=f"reader{n}@example.org", interests=interests, schedule=due_schedule(size=5)).id
        for n in range(start, start + count)
    ]
    found: dict[int, set[int]] = {}
    for subscriber in ids:
        with counting(bot) as seen:
            [result] = run_for_subscriber(bot, subscriber_id=subscriber)
        assert result.status == "sent" and result.items > 0, result
        found.setdefault(result.items, set()).add(sum(seen.values()))
    assert len(smtp.received) == start + count
    return found


def test_sql_statements_per_digest_do_not_grow_with_subscribers(mail_bot: Paperbot, smtp: SmtpServer) -> None:
    assert len(mail_bot.index) > 0  # the index is opened once per process, not per digest
    _statements_by_items(mail_bot, smtp, 0, 1)  # first-use work (caches) out of the way
    few = _statements_by_items(mail_bot, smtp, 1, 5)
    many = _statements_by_items(mail_bot, smtp, 6, 50)
    assert all(len(counts) == 1 for counts in (few | many).values()), (few, many)  # one cost per size
    for items in few.keys() & many.keys():
        assert few[items] == many[items], (items, few, many)  # the 56th digest costs what the 2nd did


def test_sql_statements_per_digest_do_not_grow_with_its_items(mail_bot: Paperbot, smtp: SmtpServer) -> None:
    interests = [paper.title for paper in mail_bot.listings(limit=2)]
    costs = []
    for n, size in enumerate((2, 1, 3, 5)):  # the first one takes first-use work out of the way
        schedule = due_schedule(size=size)
        subscriber = mail_bot.subscribe(email=f"size{n}@example.org", interests=interests, schedule=schedule)
        with counting(mail_bot) as seen:
            [result] = run_for_subscriber(mail_bot, subscriber_id=subscriber.id)
        assert result.status == "sent" and result.items == size, result
        costs.append(sum(seen.values()))
    assert len(set(costs[1:])) == 1, costs  # 1, 3 or 5 papers: the same statements


def test_ranking_a_batch_costs_the_same_queries_for_5_or_50_subscribers(mail_bot: Paperbot) -> None:
    interests = [paper.title for paper in mail_bot.listings(limit=2)]
    ids = [mail_bot.subscribe(email=f"batch{n}@example.org", interests=interests).id for n in range(50)]
    for subscriber in ids[::10]:  # some readers with votes, as in real use
        [top] = mail_bot.recommend(subscriber_id=subscriber, limit=1)
        mail_bot.record_feedback(subscriber_id=subscriber, listing_id=top.listing.id, vote="up")
    now = datetime.now(UTC)
    pool = mail_bot.load_pool(now - timedelta(days=7))

    def statements(subscribers: list[int]) -> int:
        with counting(mail_bot) as seen:
            outcomes = mail_bot.recommend_many(
                [MatchRequest(s, now - timedelta(days=7), 5) for s in subscribers], now=now, pool=pool
            )
        assert all(isinstance(o, list) and o for o in outcomes), outcomes
        return sum(seen.values())

    assert statements(ids[:5]) == statements(ids) == statements(ids[25:])


def test_a_due_run_costs_a_fixed_number_of_statements_per_digest(
    mail_bot: Paperbot, smtp: SmtpServer
) -> None:
    """Statements of `run_due` = fixed + per_digest x due + per_settled x already settled: fitted on
    three runs, it predicts the fourth exactly, so nothing in a run grows faster than the digests.
    A first run takes first-use work out of the way (opening the index, loading the day's listings)."""
    interests = [paper.title for paper in mail_bot.listings(limit=2)]
    runs, subscribed = [], 0
    for due in (1, 3, 2, 6, 4):  # settled = those before: (0, 1, 4, 6, 12), so the fit is not singular
        for n in range(subscribed, subscribed + due):
            mail_bot.subscribe(
                email=f"due{n}@example.org", interests=interests, schedule=due_schedule(size=5)
            )
        with counting(mail_bot) as seen:
            results = run_due(mail_bot)
        assert len(results) == due and all(r.status == "sent" and r.items == 5 for r in results), results
        runs.append((due, subscribed, sum(seen.values())))
        subscribed += due
    fit = np.linalg.solve(np.array([[1, d, s] for d, s, _ in runs[1:4]], float), [c for *_, c in runs[1:4]])
    due, settled, cost = runs[4]
    assert fit @ [1, due, settled] == pytest.approx(cost), (runs, fit)
    assert len(smtp.received) == subscribed
