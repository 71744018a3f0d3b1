"""Distributed mode: real `paperbot worker` processes (procrastinate) on one real PostgreSQL database,
delivering over real SMTP on loopback. Digests are counted from what the SMTP server received.

The SMTP server lets a set number of recipients through and holds the next ones (`hold_after`), so
"killed mid-run" is exact rather than a matter of timing. A killed worker's job is retried by the
periodic `retry_stalled` task once the worker's heartbeat is PAPERBOT_WORKER_STALLED_SECONDS old (6 s
here, 30 s by default); the retry takes over the claims of its own earlier attempt at once.
"""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from procrastinate.types import JSONDict
from sqlalchemy import text, update
from sqlmodel import SQLModel, col, select

from bot.config import load_settings
from bot.inputs import Schedule
from bot.schedule.tasks import build_app
from bot.service import Paperbot
from bot.vectors.embed import Encoder
from storage import models
from storage.db import make_engine, session_scope
from tests import test_serve
from tests.digest.world import make_world
from tests.scheduling import PAPERS_AT, world
from tests.smtp import SmtpServer
from tests.test_serve import (
    PAPERBOT,
    Served,
    message_ids,
    serve_env,
    stored_digests,
    wait_until,
)

pytestmark = pytest.mark.postgres
processes = test_serve.processes  # the fixture that stops every process a test started

INTERESTS = ("language models", "graph neural networks")


class Worker(Served):
    """A `paperbot worker` process; its output goes to a file. `started` waits for its first line."""

    def __init__(self, name: str, cwd: Path, env: dict[str, str], *args: str) -> None:
        self.name, self.log = name, cwd / f"{name}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [PAPERBOT, "worker", *args], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def started(self) -> Worker:
        wait_until(lambda: "paperbot worker " in self.output(), f"{self.name} to start", 60, self)
        return self


def started_workers(
    names: list[str], cwd: Path, env: dict[str, str], processes: list[Served]
) -> list[Worker]:
    """Worker processes started side by side (each takes seconds to import), once all are up."""
    started = [Worker(name, cwd, env) for name in names]
    processes.extend(started)
    return [worker.started() for worker in started]


def worker_env(data_dir: Path, smtp: SmtpServer, database_url: str) -> dict[str, str]:
    """`serve_env` for workers that notice a dead one within seconds (heartbeat every 2 s)."""
    return serve_env(data_dir, smtp, database_url) | {"PAPERBOT_WORKER_STALLED_SECONDS": "6"}


def readers(bot: Paperbot, count: int, *, send_time: str) -> None:
    """`count` daily email readers (reader0000@example.org, ...) with the same interests: the first
    subscribes as a reader would (interests embedded), the rest are copies of its rows made in three
    statements (a thousand `subscribe` calls took minutes of the test's setup)."""
    first = bot.subscribe(
        email="reader0000@example.org",
        interests=INTERESTS,
        schedule=Schedule(send_time=send_time, always_send=True),
    )
    [subscription] = first.subscriptions

    def columns(model: type[SQLModel], *left_out: str) -> list[str]:
        return [c.name for c in model.__table__.columns if c.name not in ("id", *left_out)]  # type: ignore[attr-defined]

    people = columns(models.Subscriber, "email")
    plans = columns(models.Subscription, "subscriber_id", "target")
    topics = columns(models.Interest, "subscriber_id")
    statements = (
        f"INSERT INTO subscriber (email, {', '.join(people)}) "
        f"SELECT 'reader' || lpad(n::text, 4, '0') || '@example.org', {', '.join(people)} "
        "FROM subscriber, generate_series(1, :more) AS n WHERE id = :first ORDER BY n",
        f"INSERT INTO subscription (subscriber_id, target, {', '.join(plans)}) "
        f"SELECT s.id, s.email, {', '.join('t.' + c for c in plans)} "
        "FROM subscriber s, subscription t WHERE s.id > :first AND t.id = :plan ORDER BY s.id",
        f"INSERT INTO interest (subscriber_id, {', '.join(topics)}) "
        f"SELECT s.id, {', '.join('i.' + c for c in topics)} "
        "FROM subscriber s JOIN interest i ON i.subscriber_id = :first WHERE s.id > :first "
        "ORDER BY s.id, i.id",
    )
    with session_scope(bot.engine) as session:
        for statement in statements:
            session.connection().execute(
                text(statement), {"first": first.id, "plan": subscription.id, "more": count - 1}
            )


def set_created(database_url: str, when: datetime) -> None:
    """Pretend every subscription was created at `when` and is not planned yet."""
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        session.connection().execute(update(models.Subscription).values(created_at=when, next_due_at=None))
    engine.dispose()


def defer_all_due(env: dict[str, str], cwd: Path, chunk: int) -> str:
    done = subprocess.run(
        [PAPERBOT, "digest", "--all-due", "--defer", "--chunk", str(chunk)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def queue_status(env: dict[str, str], cwd: Path) -> dict[str, int]:
    done = subprocess.run(
        [PAPERBOT, "status", "--json"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    queue: dict[str, int] = json.loads(done.stdout)["queue"]
    return queue


READERS = 1000


@dataclass(frozen=True)
class Template:
    """A database built once for this module and copied for each test (CREATE DATABASE ... TEMPLATE,
    a file copy): the sample papers with their vectors and READERS daily email subscriptions whose
    digest came due an hour before it was built."""

    server: str
    name: str
    period: str


@pytest.fixture(scope="module")
def template(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory, cached_encoder: Encoder
) -> Template:
    name = f"tpl_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(plain(postgres_server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = postgres_server.rsplit("/", 1)[0] + f"/{name}"
    bot = world(tmp_path_factory.mktemp("template"), url, papers_at=PAPERS_AT, encoder=cached_encoder)
    now = datetime.now(UTC)
    readers(bot, READERS, send_time=(now - timedelta(hours=1)).strftime("%H:%M"))
    bot.close()
    set_created(url, now - timedelta(days=2))
    return Template(postgres_server, name, (now - timedelta(hours=1)).date().isoformat())


def due_world(template: Template, count: int) -> str:
    """A fresh copy of the template in which the first `count` readers are subscribed (the rest have
    unsubscribed); returns its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(plain(template.server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template.name}"')
    url = template.server.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    with session_scope(engine) as session:
        session.connection().execute(
            update(models.Subscription)
            .where(col(models.Subscription.id) > count)
            .values(active=False, paused_reason="unsubscribed")
        )
    engine.dispose()
    return url


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_1000_digests_over_3_workers_one_killed_mid_run_arrive_exactly_once(
    tmp_path: Path, template: Template, processes: list[Served]
) -> None:
    postgres_url, period = due_world(template, READERS), template.period
    with SmtpServer(hold_after=300) as smtp:
        env = worker_env(tmp_path / "w", smtp, postgres_url)
        assert "queued 1000 due digests as 40 deliver_chunk jobs" in defer_all_due(env, tmp_path, 25)
        assert queue_status(env, tmp_path) == {"pending": 40, "running": 0, "retrying": 0, "failed": 0}
        workers = started_workers(["worker0", "worker1", "worker2"], tmp_path, env, processes)
        wait_until(lambda: smtp.held == 3, "300 let through, each worker holding its next", 120, *workers)
        victim = workers[0]
        victim.proc.kill()  # SIGKILL mid-chunk: its claim stays, its job stays "doing"
        assert victim.proc.wait(timeout=10) == -signal.SIGKILL
        [replacement] = started_workers(["worker3"], tmp_path, env, processes)
        smtp.hold_after = math.inf
        wait_until(
            lambda: [s for _, s, _ in stored_digests(postgres_url)] == ["sent"] * 1000,
            "every claim to end sent",
            240,
            *workers,
            replacement,
        )
        for served in (*workers[1:], replacement):
            served.assert_no_torch()  # ranked from stored vectors
            assert served.stop() == 0
    ids = message_ids(smtp)
    assert sorted(ids) == [f"reader{n:04d}@example.org" for n in range(1000)]
    assert all(len(found) == 1 for found in ids.values())  # every digest exactly once
    assert len(smtp.received) == 1000
    stored = stored_digests(postgres_url)
    assert {p for p, _, _ in stored} == {period}
    logs = "".join(w.output() for w in (*workers, replacement))
    assert re.search(r"job=retry_stalled retried=1 ", logs)  # the killed worker's chunk was retried
    assert [attempts for _, _, attempts in stored].count(2) == 1  # its claim taken over once


def test_killed_after_the_relays_250_the_only_duplicate_has_the_same_message_id(
    tmp_path: Path, template: Template, processes: list[Served]
) -> None:
    postgres_url = due_world(template, 30)
    with SmtpServer(hold_after=10) as smtp:
        env = worker_env(tmp_path / "w", smtp, postgres_url)
        defer_all_due(env, tmp_path, 30)
        [first] = started_workers(["first"], tmp_path, env, processes)
        wait_until(lambda: smtp.held == 1, "10 sent, the 11th held", 60, first)
        with psycopg.connect(plain(postgres_url)) as lock:
            # The 11th digest is claimed; its outcome cannot be stored while this holds its row.
            [(held,)] = lock.execute("SELECT id FROM digest WHERE status = 'claimed' FOR UPDATE").fetchall()
            smtp.hold_after = 11
            wait_until(lambda: len(smtp.received) == 11, "the relay to accept the 11th", 30, first)
            time.sleep(0.5)  # the worker is now waiting for the row to record "sent"
            first.proc.kill()
            assert first.proc.wait(timeout=10) == -signal.SIGKILL
            lock.rollback()
        smtp.hold_after = math.inf
        [second] = started_workers(["second"], tmp_path, env, processes)
        wait_until(
            lambda: [s for _, s, _ in stored_digests(postgres_url)] == ["sent"] * 30,
            "every claim to end sent",
            180,
            first,
            second,
        )
        assert second.stop() == 0
    ids = message_ids(smtp)
    assert len(ids) == 30 and len(smtp.received) == 31
    [(twice, found)] = [(rcpt, found) for rcpt, found in ids.items() if len(found) > 1]
    assert len(found) == 2 and found[0] == found[1]  # the same Message-ID: mail clients fold it
    engine = make_engine(postgres_url)
    with session_scope(engine) as session:
        digest = session.get(models.Digest, held)
        assert digest is not None and digest.attempts == 2
    engine.dispose()
    assert twice


def test_two_workers_and_two_web_processes_send_each_period_once_over_a_dst_day(
    tmp_path: Path, template: Template, processes: list[Served], cached_encoder: Encoder
) -> None:
    # 2027-03-28: Europe/Berlin springs forward (02:00 CET -> 03:00 CEST), so 02:30 does not exist
    # there that night; New York changed two weeks before. Ticks replay the whole day, minute by minute.
    day = datetime(2027, 3, 28, tzinfo=UTC)
    postgres_url = due_world(template, 0)  # the sample papers; every template reader unsubscribed
    bot = make_world(tmp_path / "seed", postgres_url, encoder=cached_encoder)
    zones = {"02:30": "Europe/Berlin", "08:00": "Europe/Berlin", "07:30": "America/New_York", "23:59": "UTC"}
    for n, (send_time, zone) in enumerate(zones.items()):
        bot.subscribe(
            email=f"dst{n}@example.org",
            interests=INTERESTS,
            schedule=Schedule(send_time=send_time, timezone=zone, always_send=True),
        )
    bot.close()
    set_created(postgres_url, day)
    with SmtpServer() as smtp:
        env = worker_env(tmp_path / "w", smtp, postgres_url)
        webs = [Served(f"web{n}", tmp_path, env, "--web") for n in range(2)]
        processes.extend(webs)
        workers = started_workers(["worker0", "worker1"], tmp_path, env, processes)
        # One tick job per minute of the day, as the periodic tick defers them, with the day's instants.
        # Deferred ten minutes at a time, the next ten once those ran: the day passes in about a minute,
        # but never so fast that a job runs 15 simulated minutes (a lease) ahead of one still sending.
        queue = build_app(postgres_url, load_settings(database_url=postgres_url))
        with queue.open():
            for start in range(0, 24 * 60 + 1, 10):
                minutes = [day + timedelta(minutes=m) for m in range(start, min(start + 10, 24 * 60 + 1))]
                ticks: list[JSONDict] = [{"timestamp": int(t.timestamp())} for t in minutes]
                queue.configure_task("tick").batch_defer(*ticks)
                wait_until(lambda: idle(postgres_url), f"the ticks up to {minutes[-1]:%H:%M}", 60, *workers)
        assert len(smtp.received) == 4
        for web in webs:
            assert web.state() == "disabled" and "job=" not in web.output()  # the web tier schedules nothing
            web.assert_no_torch()
            assert web.stop() == 0
        for served in workers:
            assert served.stop() == 0
    assert Counter(len(v) for v in message_ids(smtp).values()) == {1: 4}  # one each, none twice
    assert len(smtp.received) == 4
    engine = make_engine(postgres_url)
    with session_scope(engine) as session:
        rows = session.exec(
            select(models.Digest.period, models.Digest.status, models.Digest.claimed_at).order_by(
                col(models.Digest.claimed_at)
            )
        ).all()
    engine.dispose()
    # Sent at the first tick at or after each send time; two workers may run neighbouring ticks out of
    # order, so a claim may carry the next minute. 02:30 Berlin does not exist that day: it is due at
    # 03:30 CEST = 01:30 UTC, as in embedded mode.
    due = [day + timedelta(hours=h, minutes=m) for h, m in ((1, 30), (6, 0), (11, 30), (23, 59))]
    # The sample papers were first seen on 2027-01-01, outside the day's window: each reader gets the
    # short "nothing new" note (always_send), recorded as "empty".
    assert [(p, s) for p, s, _ in rows] == [("2027-03-28", "empty")] * 4
    assert all(
        timedelta(0) <= at - when < timedelta(minutes=3) for (_, _, at), when in zip(rows, due, strict=True)
    )


def idle(database_url: str) -> bool:
    with psycopg.connect(plain(database_url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') AND task_name <> "
            "'retry_stalled'"
        ).fetchone()
    return row is not None and row[0] == 0
