"""Load: the database work per digest does not grow with the number of subscribers (no N+1).

The full daily-cycle benchmark is bench/bench_daily_cycle.py; this is the part that must hold in CI.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

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
            [result] = bot.run_subscriber_digests(subscriber_id=subscriber)
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
