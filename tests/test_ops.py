"""/healthz and /metrics through an in-process ASGI client, and `paperbot status` data."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bot.records import to_json
from bot.schedule.scheduler import Scheduler
from bot.server.ops import ops_routes
from bot.server.serve import build_app
from bot.server.status import collect_status, render_status
from bot.service import Paperbot, sample_feed_path
from bot.vectors.embed import Encoder
from storage import models
from storage.db import make_engine, session_scope
from tests.scheduling import Clock, add_subscription, backdate, digests, scheduler_for, sqlite_world, utc

NOW = utc(2026, 11, 23, 9, 0)  # a Monday
SAMPLE = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (-?[0-9.e+-]+|\+Inf)$')


@pytest.fixture
def bot(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, cached_encoder: Encoder
) -> Iterator[Paperbot]:
    bot = sqlite_world(tmp_path / "data", tmp_path_factory, encoder=cached_encoder)
    yield bot
    bot.close()


def client(bot: Paperbot, scheduler: Scheduler | None) -> TestClient:
    return TestClient(Starlette(routes=ops_routes(bot, scheduler)))


# ---- /healthz ----------------------------------------------------------------------------------


def test_healthz_reports_database_and_scheduler_state(bot: Paperbot) -> None:
    leader = scheduler_for(bot, Clock(NOW))
    follower = scheduler_for(bot, Clock(NOW))
    for scheduler, state in ((leader, "leader"), (follower, "follower")):
        response = client(bot, scheduler).get("/healthz")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "ok"
        assert body["database"] == {"ok": True, "dialect": "sqlite"}
        assert body["scheduler"]["state"] == state
        assert "paperbot.db.scheduler.lock" in body["scheduler"]["lock"]
        assert set(body["last_ingest"]) == {"last_success_at", "failing_sources"}
    follower.stop()
    leader.stop()
    stopped = client(bot, leader).get("/healthz")
    assert stopped.status_code == 503 and stopped.json()["scheduler"]["state"] == "stopped"
    assert client(bot, None).get("/healthz").json()["scheduler"] == {"state": "disabled"}


def test_healthz_is_503_when_the_database_is_unreachable(
    bot: Paperbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/paperbot?connect_timeout=2")
    monkeypatch.setattr(bot, "engine", dead)
    response = client(bot, None).get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail" and body["database"]["ok"] is False
    assert "OperationalError" in body["database"]["error"] and body["last_ingest"] is None
    metrics = client(bot, None).get("/metrics")
    assert metrics.status_code == 200 and "paperbot_database_up 0" in metrics.text


def test_healthz_shows_the_last_ingest(bot: Paperbot) -> None:
    bot.add_source(spec=str(sample_feed_path()))
    gone = bot.settings.data_dir / "missing.xml"
    gone.write_bytes(sample_feed_path().read_bytes())
    bot.add_source(spec=str(gone))
    gone.unlink()  # a configured feed file that disappears later
    scheduler = scheduler_for(bot, Clock(NOW))
    scheduler.ingest()
    scheduler.stop()
    body = client(bot, scheduler).get("/healthz").json()
    assert body["last_ingest"]["last_success_at"] is not None
    assert [s["url"].endswith("missing.xml") for s in body["last_ingest"]["failing_sources"]] == [True]
    assert body["scheduler"]["last_ingest_job_error"].startswith(str(bot.settings.data_dir / "missing.xml"))


# ---- /metrics ----------------------------------------------------------------------------------


def test_metrics_expose_ingest_digests_feedback_and_job_durations(bot: Paperbot) -> None:
    bot.add_source(spec=str(sample_feed_path()))
    sent = add_subscription(bot, "m@example.org", send_time="08:00")
    quiet = add_subscription(bot, "quiet@example.org", send_time="08:00")
    # The real ranker finds some paper above its bar for any interest, so nothing is left for a reader
    # who mutes words that every paper uses: an empty digest.
    bot.set_preferences(
        subscriber_id=bot.subscription(subscription_id=quiet).subscriber_id,
        mute_keywords=["the", "of", "and"],
    )
    backdate(bot, NOW - timedelta(days=2))
    scheduler = scheduler_for(bot, Clock(NOW))
    scheduler.ingest()
    scheduler.tick()
    scheduler.stop()
    digest = digests(bot, sent)[0]
    assert digest.status == "sent"
    with session_scope(bot.engine) as session:
        item = session.exec(select(models.DigestItem).where(models.DigestItem.digest_id == digest.id)).first()
    assert item is not None and item.id is not None
    bot.record_item_feedback(digest_item_id=item.id, vote="up", via="email")  # 👍 from the mail

    response = client(bot, scheduler).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert all(SAMPLE.match(line) for line in lines), [line for line in lines if not SAMPLE.match(line)]
    assert "paperbot_listings_ingested_total 0" in lines  # the world already held the sample: nothing new
    assert 'paperbot_digests_total{status="sent"} 1' in lines
    assert 'paperbot_digests_total{status="empty"} 1' in lines
    assert 'paperbot_digests{status="sent"} 1' in lines
    assert 'paperbot_feedback_votes{vote="up",via="email"} 1' in lines
    assert "paperbot_listings 321" in lines
    assert 'paperbot_jobs_total{job="ingest",outcome="ok"} 1' in lines
    assert 'paperbot_job_duration_seconds_count{job="digest"} 2' in lines
    assert 'paperbot_job_duration_seconds_bucket{job="tick",le="+Inf"} 1' in lines
    assert "# TYPE paperbot_job_duration_seconds histogram" in text
    assert "paperbot_scheduler_leader 0" in lines  # stopped
    assert "paperbot_database_up 1" in lines


# ---- status ------------------------------------------------------------------------------------


def test_status_shows_next_runs_paused_subscriptions_and_failed_deliveries(bot: Paperbot) -> None:
    berlin = add_subscription(bot, "s@example.org", send_time="02:30", timezone="Europe/Berlin")
    paused = add_subscription(bot, "p@example.org", send_time="08:00")
    bot.set_active(subscription_id=paused, active=False, reason="bounced: 550 no such user")
    backdate(bot, NOW - timedelta(days=2))
    scheduler = scheduler_for(bot, Clock(NOW))
    scheduler.tick()
    scheduler.stop()

    with bot.rows() as rows:  # before the spring-forward night
        status = collect_status(rows, configured=bot.settings.sources, now=utc(2026, 3, 28, 12, 0))
    by_id = {s.id: s for s in status.subscriptions}
    local = by_id[berlin].next_run_local
    assert local is not None and local.strftime("%m-%d %H:%M %Z") == "03-29 03:30 CEST"
    assert by_id[berlin].next_run_utc == utc(2026, 3, 29, 1, 30)
    assert by_id[berlin].schedule == "daily 02:30 Europe/Berlin"
    assert (by_id[berlin].last_period, by_id[berlin].last_status) == ("2026-11-23", "sent")
    assert [s.paused_reason for s in status.paused] == ["bounced: 550 no such user"]
    assert by_id[paused].next_run_utc is None
    assert [d.period for d in status.recent_digests] == ["2026-11-23"]
    assert status.failed_digests == ()

    as_json = json.loads(json.dumps(to_json(status)))  # what `paperbot status --json` prints
    assert as_json["subscriptions"][0]["next_run_utc"] == "2026-03-29T01:30:00+00:00"

    out = io.StringIO()
    render_status(status, Console(file=out, width=200))
    text = out.getvalue()
    assert "03-29 03:30 CEST" in text and "paused: bounced: 550 no such user" in text
    assert "1 active and 1 paused subscriptions, 0 failed deliveries" in text


def test_the_served_app_has_the_web_pages_and_the_ops_routes(bot: Paperbot) -> None:
    scheduler = scheduler_for(bot, Clock(NOW))
    with TestClient(build_app(bot, scheduler)) as web:
        assert web.get("/healthz").json()["scheduler"]["state"] == "leader"
        assert web.get("/metrics").text.startswith("# HELP ")
        assert web.get("/email/feedback/not-a-token").status_code == 400  # the email pages are there too
    scheduler.stop()
