"""Faults: a dropped SMTP link, a locked database, an unwritable index, a killed ingest, a source that
never answers. Nothing is lost and nothing is sent twice.

(Slack answering 5xx then 200 is tests/slack/test_deliver.py::test_server_errors_are_retried.)
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlmodel import select

from bot.records import FeedbackResult
from bot.service import Paperbot, sample_feed_path
from bot.vectors.embed import Encoder
from storage import models
from storage.db import session_scope
from tests.factories import make_bot
from tests.reliability.conftest import SMALL_FEEDS
from tests.slack.helpers import due_schedule, run_digest_now
from tests.smtp import SmtpServer

REPO = Path(__file__).resolve().parents[2]


def test_smtp_dropped_mid_data_is_retried_and_delivered_exactly_once(
    mail_bot: Paperbot, smtp: SmtpServer
) -> None:
    smtp.drop_first = 1
    papers = [paper.title for paper in mail_bot.listings(limit=2)]
    ada = mail_bot.subscribe(email="ada@example.org", interests=papers, schedule=due_schedule())
    result = run_digest_now(mail_bot, ada.subscriptions[0].id)
    assert result.status == "sent", result
    assert smtp.data_attempts == 2  # the dropped one, then the retry
    assert [r.rcpt_tos for r in smtp.received] == [("ada@example.org",)]
    again = run_digest_now(mail_bot, ada.subscriptions[0].id)  # the next run finds it already sent
    assert again.status == "skipped" and len(smtp.received) == 1


def _sqlite_path(bot: Paperbot) -> str:
    return str(bot.engine.url.database)


def test_a_vote_waits_for_a_locked_sqlite_database_and_is_stored_once(mail_bot: Paperbot) -> None:
    ada = mail_bot.subscribe(email="ada@example.org", interests=["protein folding"])
    listing_id = mail_bot.listings(limit=1)[0].id
    holder = sqlite3.connect(_sqlite_path(mail_bot), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    results: list[FeedbackResult | BaseException] = []

    def vote() -> None:
        try:
            results.append(mail_bot.record_feedback(subscriber_id=ada.id, listing_id=listing_id, vote="up"))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=vote)
    thread.start()
    time.sleep(1.0)
    assert not results, "the vote did not wait for the lock"
    holder.execute("COMMIT")
    holder.close()
    thread.join(timeout=30)
    assert len(results) == 1 and isinstance(results[0], FeedbackResult), results
    assert results[0].changed and time.monotonic() - started >= 1.0
    with session_scope(mail_bot.engine) as session:
        votes = session.exec(select(models.Feedback).where(models.Feedback.subscriber_id == ada.id)).all()
    assert [(v.listing_id, v.vote) for v in votes] == [(listing_id, "up")]


def test_an_unwritable_index_does_not_stop_ingest_and_is_rebuilt_later(
    tmp_path: Path, feeds_dir: Path, encoder: Encoder, caplog: pytest.LogCaptureFixture
) -> None:
    feeds = [str(feeds_dir / name) for name in SMALL_FEEDS]
    data_dir = tmp_path / "data"
    bot = make_bot(data_dir, encoder=encoder)
    bot.settings.index_path.mkdir()  # a directory where the index file should be: every save fails
    with caplog.at_level(logging.WARNING, logger="paperbot"):
        report = bot.ingest(sources=feeds)
    assert report.totals["new"] == bot.count_listings() > 10 and report.embedded == bot.count_listings()
    assert any("could not save vector index" in r.getMessage() for r in caplog.records)
    bot.close()
    bot.settings.index_path.rmdir()
    later = make_bot(data_dir, encoder=encoder)
    assert len(later.index) == later.count_listings()
    later.close()


def _big_feed(path: Path, entries: int) -> None:
    items = "".join(
        f"<item><title>Synthetic paper {n} on topic {n % 97}</title>"
        f"<link>https://example.org/papers/{n}</link><guid>paper-{n}</guid>"
        f"<description>Abstract {n}: {'words ' * 40}</description></item>"
        for n in range(entries)
    )
    path.write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'
    )


def _paperbot(data_dir: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PAPERBOT_DATA_DIR": str(data_dir)}
    command = [str(Path(sys.executable).with_name("paperbot")), *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow  # loads the model (in a subprocess or for an ONNX export)
def test_killing_ingest_leaves_no_half_written_listing_and_a_rerun_completes(tmp_path: Path) -> None:
    feed, data_dir, total = tmp_path / "big.rss", tmp_path / "data", 5000
    _big_feed(feed, total)
    make_bot(data_dir).close()  # the schema exists before the race starts
    db = sqlite3.connect(data_dir / "paperbot.db")
    proc = _paperbot(data_dir, "ingest", str(feed), "--no-embed")
    wal, deadline = data_dir / "paperbot.db-wal", time.monotonic() + 60
    while not (wal.exists() and wal.stat().st_size > 256_000):  # the store transaction is writing pages
        assert proc.poll() is None and time.monotonic() < deadline, "ingest ended before it could be killed"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    stored = db.execute("SELECT count(*) FROM listing").fetchone()[0]
    assert stored in (0, total)  # one transaction per source: all of it or none of it
    broken = db.execute(
        "SELECT count(*) FROM listing WHERE title = '' OR content_hash = '' OR canonical_id = ''"
        " OR abstract NOT LIKE 'Abstract %'"
    ).fetchone()[0]
    assert broken == 0
    rerun = _paperbot(data_dir, "ingest", str(feed), "--no-embed")
    assert rerun.wait(timeout=120) == 0
    assert db.execute("SELECT count(*) FROM listing").fetchone()[0] == total
    db.close()


@pytest.mark.slow  # waits out a fetch timeout
def test_a_source_that_never_answers_times_out_and_the_others_are_ingested(
    tmp_path: Path, feeds_dir: Path
) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel accepts connections; nobody ever reads or answers
    try:
        bot = make_bot(tmp_path / "data", fetch_timeout=0.3)
        hanging = f"http://127.0.0.1:{silent.getsockname()[1]}/feed"
        started = time.monotonic()
        report = bot.ingest(sources=[hanging, str(sample_feed_path())], embed=False)
        status = {r.source: r for r in report.sources}
        assert status[hanging].status == "failed" and "timed out" in (status[hanging].error or "")
        assert report.totals["new"] == bot.count_listings() > 300
        assert time.monotonic() - started < 15
        bot.close()
    finally:
        silent.close()
