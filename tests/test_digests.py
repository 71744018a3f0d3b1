"""Delivering digests end to end on SQLite and PostgreSQL, through a real SMTP server on loopback."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.channels.email.links import Links
from bot.digests import store
from bot.digests.period import latest_period
from bot.digests.run import CHANNELS, run_digest, run_due
from bot.records import DigestResult, DigestView, SubscriptionView
from bot.service import Paperbot
from bot.vectors.embed import Encoder
from storage import models
from storage.db import session_scope
from tests.digest.world import FEED_DAY1, MONDAY, add_papers, make_world, subscribe
from tests.smtp import SmtpServer

LATER = MONDAY + timedelta(minutes=10)


def no_sleep(_seconds: float) -> None:
    pass


@pytest.fixture
def bot(
    tmp_path: Path, database_url: str, smtp: SmtpServer, feeds_dir: Path, cached_encoder: Encoder
) -> Iterator[Paperbot]:
    bot = make_world(tmp_path / "data", database_url, encoder=cached_encoder, **smtp.settings())
    add_papers(bot, feeds_dir, [FEED_DAY1], at=MONDAY - timedelta(hours=2))
    yield bot
    bot.close()


def digest_rows(bot: Paperbot) -> list[models.Digest]:
    with session_scope(bot.engine) as session:
        return list(session.exec(select(models.Digest).order_by(col(models.Digest.id))).all())


def item_listings(bot: Paperbot, digest_id: int) -> list[int]:
    with session_scope(bot.engine) as session:
        query = (
            select(models.DigestItem.listing_id)
            .where(models.DigestItem.digest_id == digest_id)
            .order_by(col(models.DigestItem.position))
        )
        return list(session.exec(query).all())


def real_picks(bot: Paperbot, sub: SubscriptionView) -> list[int]:
    """The listings the real ranker picks for `sub`'s Monday digest, best first; at least three, so
    the tests below have several papers to deliver."""
    period = latest_period(sub, now=MONDAY)
    picks = bot.recommend(
        subscriber_id=sub.subscriber_id, since=period.start, limit=sub.digest_size, now=MONDAY
    )
    assert len(picks) >= 3, [(p.listing.title, p.score) for p in picks]
    return [p.listing.id for p in picks]


def test_due_digest_goes_out_once_with_every_header(bot: Paperbot, smtp: SmtpServer) -> None:
    sub = subscribe(bot, "ada@example.org").subscriptions[0]
    expected = real_picks(bot, sub)
    (result,) = run_due(bot, now=MONDAY)
    assert (result.status, result.period, result.items) == ("sent", "2026-11-23", len(expected))

    (got,) = smtp.received
    assert got.rcpt_tos == ("ada@example.org",)
    message = got.message
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Subject"] == f"{len(expected)} new papers: testing deep learning models"
    for header in ("From", "To", "Date", "Message-ID", "List-Id", "List-Unsubscribe"):
        assert message[header], header
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(
        r"<http://localhost:8000/email/unsubscribe/[^>]+>, <mailto:[^>]+>", message["List-Unsubscribe"]
    )
    html = message.get_body(("html",))
    assert html is not None
    found = re.findall(
        r'href="http://localhost:8000/email/feedback/([^"?]+)\?vote=(\w+)"', str(html.get_content())
    )
    links = Links.from_settings(bot.settings)
    votes = [(vote, links.read_feedback(token, now=LATER)) for token, vote in found]
    assert len(votes) == 3 * len(expected) and {vote for vote, _ in votes} == {"up", "down", "save"}

    (row,) = digest_rows(bot)
    assert (row.status, row.attempts, row.message_ref) == ("sent", 1, message["Message-ID"])
    assert item_listings(bot, row.id or 0) == expected  # the real ranking, in its order
    assert sorted(t.item_id for vote, t in votes if vote == "up") == sorted(
        item.id or 0 for item in items_of(bot, row.id)
    )
    assert run_due(bot, now=LATER) == []  # nothing left to do
    again = run_digest(bot, subscription_id=sub.id, now=LATER)
    assert (again.status, again.error) == ("skipped", "already sent")
    assert len(smtp.received) == 1


def items_of(bot: Paperbot, digest_id: int | None) -> list[models.DigestItem]:
    with session_scope(bot.engine) as session:
        return list(
            session.exec(select(models.DigestItem).where(models.DigestItem.digest_id == digest_id)).all()
        )


def test_concurrent_runs_claim_once_and_send_once(
    bot: Paperbot, smtp: SmtpServer, tmp_path: Path, database_url: str, cached_encoder: Encoder
) -> None:
    sub = subscribe(bot, "ada@example.org").subscriptions[0]
    # a second worker process
    other = make_world(tmp_path / "data", database_url, encoder=cached_encoder, **smtp.settings())
    barrier, results = threading.Barrier(2), []

    def worker(instance: Paperbot) -> None:
        barrier.wait()
        results.append(run_digest(instance, subscription_id=sub.id, now=MONDAY))

    threads = [threading.Thread(target=worker, args=(b,)) for b in (bot, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()
    assert sorted(r.status for r in results) == ["sent", "skipped"]
    assert len(smtp.received) == 1 and len(digest_rows(bot)) == 1


def test_smtp_down_the_next_run_sends_the_same_items_exactly_once(bot: Paperbot, smtp: SmtpServer) -> None:
    expected = real_picks(bot, subscribe(bot, "ada@example.org").subscriptions[0])
    smtp.stop()
    (first,) = run_due(bot, now=MONDAY, sleep=no_sleep)
    assert first.status == "retry" and "could not reach the mail server" in (first.error or "")
    (row,) = digest_rows(bot)
    assert (row.status, row.attempts) == ("claimed", 1) and row.error
    picked = item_listings(bot, row.id or 0)
    assert picked == expected

    smtp.start()
    (second,) = run_due(bot, now=LATER, sleep=no_sleep)
    assert (second.status, second.digest_id) == ("sent", row.id)
    (row,) = digest_rows(bot)
    assert (row.status, row.attempts, row.error) == ("sent", 2, None)
    assert item_listings(bot, row.id or 0) == picked
    assert len(smtp.received) == 1
    assert run_due(bot, now=LATER + timedelta(minutes=5)) == []


def test_smtp_back_during_the_backoff_is_delivered_in_the_same_run(bot: Paperbot, smtp: SmtpServer) -> None:
    subscribe(bot, "ada@example.org")
    smtp.stop()

    def sleep(_seconds: float) -> None:
        smtp.start()  # the server comes back while we back off

    (result,) = run_due(bot, now=MONDAY, sleep=sleep)
    assert result.status == "sent" and len(smtp.received) == 1


def test_permanent_rejection_marks_the_digest_failed_with_the_reason(bot: Paperbot, smtp: SmtpServer) -> None:
    subscribe(bot, "nobody@example.org")
    smtp.reject = "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown"
    (result,) = run_due(bot, now=MONDAY, sleep=no_sleep)
    assert result.status == "failed"
    (row,) = digest_rows(bot)
    assert row.status == "failed"
    assert "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown" in (row.error or "")
    smtp.reject = None
    assert run_due(bot, now=LATER) == []  # a permanent failure is not retried for this period
    assert smtp.received == []


def test_empty_day_sends_nothing_unless_always_send(bot: Paperbot, smtp: SmtpServer) -> None:
    quiet = subscribe(bot, "quiet@example.org").subscriptions[0]
    chatty = subscribe(bot, "chatty@example.org", always_send=True).subscriptions[0]
    run_due(bot, now=MONDAY)
    assert len(smtp.received) == 2
    tuesday = {r.subscription_id: r for r in run_due(bot, now=MONDAY + timedelta(days=1))}  # no new papers
    assert tuesday[quiet.id].status == tuesday[chatty.id].status == "empty"
    assert tuesday[quiet.id].location is None
    assert len(smtp.received) == 3
    note = smtp.received[-1].message
    assert note["To"].addresses[0].addr_spec == "chatty@example.org"
    assert note["Subject"] == "No new papers above your bar today"
    assert run_due(bot, now=MONDAY + timedelta(days=1, minutes=5)) == []


def test_no_smtp_host_writes_the_outbox(
    tmp_path: Path, database_url: str, feeds_dir: Path, cached_encoder: Encoder
) -> None:
    bot = make_world(tmp_path / "data", database_url, encoder=cached_encoder)
    add_papers(bot, feeds_dir, [FEED_DAY1], at=MONDAY - timedelta(hours=2))
    sub = subscribe(bot, "ada@example.org").subscriptions[0]
    result = run_digest(bot, subscription_id=sub.id, now=MONDAY)
    bot.close()
    assert result.status == "sent" and result.location
    eml = Path(result.location)
    assert eml == bot.settings.outbox_dir / f"{result.digest_id}-2026-11-23.eml"
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in eml.read_bytes()
    assert eml.with_suffix(".html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_dry_run_writes_a_preview_and_claims_nothing(bot: Paperbot, smtp: SmtpServer) -> None:
    sub = subscribe(bot, "ada@example.org").subscriptions[0]
    expected = real_picks(bot, sub)
    preview = run_digest(bot, subscription_id=sub.id, now=MONDAY, dry_run=True)
    assert (preview.status, preview.items) == ("dry_run", len(expected))
    assert Path(preview.location or "").name == f"dry-run-{sub.id}-2026-11-23.eml"
    assert digest_rows(bot) == [] and smtp.received == []
    assert run_digest(bot, subscription_id=sub.id, now=MONDAY).status == "sent"


def test_an_abandoned_claim_is_taken_over_after_the_lease(bot: Paperbot, smtp: SmtpServer) -> None:
    sub = subscribe(bot, "ada@example.org").subscriptions[0]
    period = latest_period(sub, now=MONDAY)
    picks = bot.recommend(subscriber_id=sub.subscriber_id, since=period.start, limit=3, now=MONDAY)
    held = store.claim(bot.engine, sub.id, period, picks, now=MONDAY)  # a worker claims, then dies
    assert held is not None and store.claim(bot.engine, sub.id, period, picks, now=MONDAY) is None

    busy = run_digest(bot, subscription_id=sub.id, now=MONDAY + timedelta(minutes=5))
    assert (busy.status, busy.error) == ("skipped", "another run is sending this digest")
    taken = run_digest(bot, subscription_id=sub.id, now=MONDAY + store.LEASE + timedelta(seconds=1))
    assert (taken.status, taken.items) == ("sent", 3)
    assert item_listings(bot, held.digest_id) == [p.listing.id for p in picks]
    store.finish(bot.engine, held, status="failed", error="late")  # the dead worker wakes up: no effect
    assert [r.status for r in digest_rows(bot)] == ["sent"] and len(smtp.received) == 1


def test_unsubscribed_and_uninterested_subscribers_get_nothing(bot: Paperbot, smtp: SmtpServer) -> None:
    gone = subscribe(bot, "gone@example.org").subscriptions[0]
    bot.unsubscribe(subscription_id=gone.id)
    blank = subscribe(bot, "blank@example.org", interests=()).subscriptions[0]
    (result,) = run_due(bot, now=MONDAY)
    assert (result.subscription_id, result.status) == (blank.id, "skipped")
    assert "no interests yet" in (result.error or "")
    assert run_digest(bot, subscription_id=gone.id, now=MONDAY).error == "subscription is unsubscribed"
    assert smtp.received == [] and digest_rows(bot) == []


def test_a_batch_shares_one_smtp_connection(bot: Paperbot, smtp: SmtpServer) -> None:
    for name in ("ada", "alan", "grace"):
        subscribe(bot, f"{name}@example.org")
    assert [r.status for r in run_due(bot, now=MONDAY)] == ["sent"] * 3
    assert len(smtp.received) == 3 and len({r.peer for r in smtp.received}) == 1


def test_channels_are_a_dispatch_table(bot: Paperbot, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[int, str]] = []

    def pigeon(view: DigestView, subscription: SubscriptionView, batch: object) -> str:
        sent.append((len(view.entries), subscription.target))
        return "coo-1"

    monkeypatch.setitem(CHANNELS, "email", pigeon)
    sub = subscribe(bot, "ada@example.org", always_send=True).subscriptions[0]
    count = len(real_picks(bot, sub))
    assert run_digest(bot, subscription_id=sub.id, now=MONDAY) == DigestResult(
        sub.id, "2026-11-23", "sent", digest_id=digest_rows(bot)[0].id, items=count, location="coo-1"
    )
    assert sent == [(count, "ada@example.org")]
    monkeypatch.setitem(CHANNELS, "email", "bot.nowhere:deliver")
    failed = run_digest(bot, subscription_id=sub.id, now=MONDAY + timedelta(days=1))  # the quiet-day note
    assert failed.status == "failed" and "email channel is not available" in (failed.error or "")


def test_digest_jobs_share_one_smtp_connection_and_reopen_it_after_idling(
    bot: Paperbot, smtp: SmtpServer
) -> None:
    """`paperbot serve` runs one job per subscription: they must not open a connection each."""
    first = [subscribe(bot, f"early{n}@example.org").subscriptions[0].id for n in range(3)]
    for subscription_id in first:
        assert run_digest(bot, subscription_id=subscription_id, now=MONDAY, sleep=no_sleep).status == "sent"
    assert len({r.peer for r in smtp.received}) == 1  # three jobs, one connection
    bot.smtp.idle_timeout = 0.0  # from now on every connection counts as idle for too long
    later = [subscribe(bot, f"late{n}@example.org").subscriptions[0].id for n in range(2)]
    for subscription_id in later:
        assert run_digest(bot, subscription_id=subscription_id, now=MONDAY, sleep=no_sleep).status == "sent"
    assert len(smtp.received) == 5 and len({r.peer for r in smtp.received}) == 3  # reopened each time
