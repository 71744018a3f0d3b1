"""Helpers for the Slack tests: serving an ASGI app on loopback, schedules that are due now."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import uvicorn
from starlette.applications import Starlette

from bot.inputs import Schedule
from bot.records import DigestResult
from bot.service import Paperbot

__all__ = ["serve", "due_schedule", "run_digest_now", "eventually"]

T = TypeVar("T")


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """uvicorn in a thread on 127.0.0.1:<free port>; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", http="h11")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def due_schedule(*, size: int = 5) -> Schedule:
    """A daily UTC schedule whose latest send time has passed: its digest is due right away."""
    past = datetime.now(UTC) - timedelta(hours=2)
    return Schedule(send_time=f"{past:%H:%M}", timezone="UTC", digest_size=size)


def run_digest_now(bot: Paperbot, subscription_id: int, *, days: int = 0) -> DigestResult:
    from bot.digests.run import run_digest

    now = datetime.now(UTC) + timedelta(days=days)
    return run_digest(bot, subscription_id=subscription_id, now=now, sleep=lambda _s: None)


def eventually(check: Callable[[], T], *, timeout: float = 10.0) -> T:
    """Poll until `check()` returns something truthy (listeners run after the HTTP response)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)
    return result
