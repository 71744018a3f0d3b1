"""Real `paperbot serve` processes (the installed console script, configured by environment
variables) over real SMTP on loopback: kill -9 mid-run and restart; two processes on one PostgreSQL
database. Digests are counted from what the SMTP server received.

The worlds are embedded with the real model at subscribe and ingest time, so the served processes
rank with stored vectors and never import torch (checked). The SMTP server lets a set number of
recipients through and holds the next one (`hold_after`), so "killed while sending digest N" is
exact rather than a matter of timing.
"""

from __future__ import annotations

import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from bot.schedule.scheduler import FOLLOWER_MESSAGE
from bot.server.serve import _bind
from bot.service import Paperbot
from bot.vectors.embed import Encoder
from storage import models
from storage.db import make_engine, session_scope
from tests.scheduling import PAPERS_AT, add_subscription, backdate, sqlite_world, world
from tests.smtp import SmtpServer

SECRET = "test-signing-key-" + "x" * 32  # what tests.digest.world uses
PAPERBOT = str(Path(sys.executable).with_name("paperbot"))  # the console script beside this Python


def message_ids(smtp: SmtpServer) -> dict[str, list[str]]:
    by_recipient: dict[str, list[str]] = defaultdict(list)
    for received in smtp.received:
        for rcpt in received.rcpt_tos:
            by_recipient[rcpt].append(str(received.message["Message-ID"]))
    return by_recipient


def wait_until(check: Callable[[], bool], what: str, timeout: float, *logs: Served) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {s.name}:\n{s.output()[-3000:]}" for s in logs)
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tails}")
        time.sleep(0.1)


class Served:
    """A `paperbot serve --port 0 [extra options]` process; its output goes to a file."""

    def __init__(self, name: str, cwd: Path, env: dict[str, str], *extra: str) -> None:
        self.name, self.log = name, cwd / f"{name}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [PAPERBOT, "serve", "--port", "0", *extra],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until(lambda: self.port is not None, f"{name} to listen", 20, self)

    def assert_no_torch(self) -> None:
        """The served process ranks with stored vectors: torch was never loaded into it."""
        maps = Path(f"/proc/{self.proc.pid}/maps").read_text()
        modules = [line.split()[-1] for line in maps.splitlines() if "torch" in line]
        assert modules == [], modules[:3]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def port(self) -> int | None:
        found = re.search(r"paperbot web on http://127\.0\.0\.1:(\d+)", self.output())
        return int(found.group(1)) if found else None

    def state(self) -> str:
        try:
            response = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
        except httpx.TransportError:
            return "down"
        return str(response.json()["scheduler"]["state"])

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20)


@pytest.fixture
def processes() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for served in started:  # a failed test must not leave servers behind
        if served.proc.poll() is None:
            served.proc.kill()
            served.proc.wait()


def serve_env(data_dir: Path, smtp: SmtpServer, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_") and k != "DATABASE_URL"}
    env |= {
        "PAPERBOT_DATA_DIR": str(data_dir),
        "PAPERBOT_SECRET_KEY": SECRET,
        "PAPERBOT_SCHEDULER_LOCK_RETRY_SECONDS": "0.5",  # a standby takes over quickly
        "PAPERBOT_SCHEDULER_SWEEP_SECONDS": "3600",  # only the startup sweep runs during a test
        "PAPERBOT_SMTP_HOST": "127.0.0.1",
        "PAPERBOT_SMTP_PORT": str(smtp.port),
        "PAPERBOT_SMTP_STARTTLS": "false",
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def subscribe_readers(bot: Paperbot, count: int) -> str:
    """`count` daily email subscriptions due an hour ago (far from the day boundary); returns the period."""
    now = datetime.now(UTC)
    send_time = (now - timedelta(hours=1)).strftime("%H:%M")
    for n in range(count):
        add_subscription(bot, f"reader{n:02d}@example.org", send_time=send_time, always_send=True)
    backdate(bot, now - timedelta(days=2))
    return (now - timedelta(hours=1)).date().isoformat()


def stored_digests(database_url: str) -> list[tuple[str, str, int]]:
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            rows = session.exec(select(models.Digest).order_by(col(models.Digest.subscription_id))).all()
            return [(row.period, row.status, row.attempts) for row in rows]
    finally:
        engine.dispose()


def test_kill_9_while_sending_then_restart_sends_every_digest_exactly_once(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, processes: list[Served], cached_encoder: Encoder
) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'paperbot.db'}"
    bot = sqlite_world(data, tmp_path_factory, encoder=cached_encoder)
    period = subscribe_readers(bot, 40)
    bot.close()

    def outcomes() -> list[str]:
        return [status for _, status, _ in stored_digests(url)]

    with SmtpServer(hold_after=10) as smtp:
        first = Served("first", tmp_path, serve_env(data, smtp))
        processes.append(first)
        wait_until(lambda: len(smtp.received) == 10 and smtp.held == 1, "10 sent, the 11th held", 20, first)
        first.assert_no_torch()  # it ranked ten digests from stored vectors
        first.proc.kill()  # SIGKILL: no cleanup at all, digest 11 stays claimed
        assert first.proc.wait(timeout=10) == -signal.SIGKILL
        assert outcomes().count("claimed") == 1

        # The restart resends the interrupted digest and goes on; SIGTERM while digest 26 is held.
        smtp.hold_after = 25
        second = Served("second", tmp_path, serve_env(data, smtp))
        processes.append(second)
        # Let through 25 RCPTs in all, then hold: the second process is mid-send. (Counted on RCPTs, as
        # a RCPT held by the killed first process may or may not be let through when its socket dies.)
        wait_until(lambda: smtp.passed >= 25 and smtp.held >= 1, "25 let through, the next held", 20, second)
        second.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: "Finished server process" in second.output(), "the web server to stop", 10, second)
        time.sleep(0.3)
        assert second.proc.poll() is None  # still draining: the digest in flight is not abandoned
        smtp.hold_after = math.inf
        assert second.proc.wait(timeout=20) == 0
        sent = outcomes().count("sent")
        assert outcomes() == ["sent"] * sent  # it finished the one in flight, left nothing claimed
        assert sent == len(smtp.received) and 25 <= sent <= 26  # and started no other

        third = Served("third", tmp_path, serve_env(data, smtp))
        processes.append(third)
        wait_until(lambda: outcomes() == ["sent"] * 40, "all 40 digests", 30, third)
        third.assert_no_torch()
        assert third.stop() == 0
    ids = message_ids(smtp)
    assert sorted(ids) == [f"reader{n:02d}@example.org" for n in range(40)]
    assert all(len(set(found)) == 1 for found in ids.values()), ids  # one digest per subscriber
    assert len(smtp.received) == 40  # the held 11th never reached DATA, so nothing was sent twice
    assert stored_digests(url).count((period, "sent", 1)) == 39
    assert stored_digests(url).count((period, "sent", 2)) == 1  # the interrupted one, resent on restart
    assert "job=recover interrupted_digests=1" in second.output()
    for served in (second, third):
        log = served.output()
        assert re.search(r"job=digest subscription=\d+ period=\S+ status=sent items=\d+ duration_ms=", log)
        assert "scheduler stopped; leader lock released" in log


@pytest.mark.postgres
def test_two_serves_on_one_postgres_database_one_schedules_and_the_other_takes_over(
    tmp_path: Path, postgres_url: str, processes: list[Served], cached_encoder: Encoder
) -> None:
    bot = world(tmp_path / "seed", postgres_url, papers_at=PAPERS_AT, encoder=cached_encoder)
    subscribe_readers(bot, 12)
    bot.close()
    with SmtpServer(hold_after=3) as smtp:
        leader = Served("leader", tmp_path, serve_env(tmp_path / "a", smtp, postgres_url))
        processes.append(leader)
        wait_until(lambda: smtp.held == 1, "the leader to send 3 digests and hold the 4th", 20, leader)
        follower = Served("follower", tmp_path, serve_env(tmp_path / "b", smtp, postgres_url))
        processes.append(follower)
        wait_until(lambda: follower.state() == "follower", "the second serve to stand by", 20, follower)
        assert leader.state() == "leader"
        assert FOLLOWER_MESSAGE in follower.output()
        assert "job=" not in follower.output()  # a follower runs no jobs

        leader.proc.kill()
        leader.proc.wait(timeout=10)
        wait_until(lambda: follower.state() == "leader", "the follower to take over", 10, follower)
        smtp.hold_after = math.inf
        wait_until(
            lambda: len(smtp.received) >= 12 and all(s == "sent" for _, s, _ in stored_digests(postgres_url)),
            "all 12 digests",
            20,
            follower,
        )
        follower.assert_no_torch()
        assert follower.stop() == 0
    ids = message_ids(smtp)
    assert len(ids) == 12 and all(len(found) == 1 for found in ids.values()), ids
    assert len(smtp.received) == 12


def test_the_port_takes_connections_as_soon_as_serve_names_it() -> None:
    """Bound but not listening until uvicorn ran, the socket refused a client that read "paperbot web
    on …" while the scheduler was still starting (a ConnectError, now and then, in the serve tests)."""
    sock = _bind("127.0.0.1", 0)
    try:
        with socket.create_connection(sock.getsockname()[:2], timeout=2):
            pass  # connected: the kernel queued it for uvicorn's first accept
    finally:
        sock.close()
