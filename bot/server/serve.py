"""`paperbot serve`: the web app (uvicorn) and the scheduler in one process.

    paperbot serve [--host 127.0.0.1] [--port 8000] [--no-schedule]    (or python -m bot serve ...)

Several `serve` processes may share one database: one of them holds the scheduler lock and schedules,
the others serve the web only and take over when it dies (`bot.schedule.leader`). `--no-schedule` never
schedules (a web-only replica).

Shutdown on SIGTERM or SIGINT: uvicorn stops accepting connections and finishes open requests; the
scheduler then takes no new jobs, waits up to 30 s for running digests, and releases the lock. A
digest still running after that stays "claimed", and the next leader resends it at its start.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from types import FrameType

import uvicorn
from starlette.applications import Starlette

from bot.errors import PaperbotError
from bot.schedule.scheduler import Scheduler, SchedulerConfig
from bot.server.ops import ops_routes
from bot.server.web import create_app
from bot.service import Paperbot

__all__ = ["serve", "build_app", "ensure_logging"]

log = logging.getLogger("paperbot.serve")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def build_app(bot: Paperbot, scheduler: Scheduler | None, *, web_tier: bool = False) -> Starlette:
    """The web app of `bot.server.web` with /healthz, /metrics and, in Slack's HTTP mode, /slack/events.
    As distributed mode's web tier it hands new interests to the embed workers (never loads the model)."""
    routes = list(ops_routes(bot, scheduler))
    settings = bot.settings
    embed_interests = None
    if web_tier:
        from bot.schedule.tasks import interest_embedder

        embed_interests = interest_embedder(settings)
    if settings.slack_bot_token and settings.slack_signing_secret and not settings.slack_app_token:
        from bot.channels.slack import slack_routes

        routes += slack_routes(bot, embed_interests=embed_interests)
    return create_app(bot, routes=routes, embed_interests=embed_interests)


def _bind(host: str, port: int) -> socket.socket:
    # Bound here rather than by uvicorn so the log can say which port 0 turned into.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        problem = f"cannot listen on {host}:{port} ({exc.strerror})"
        raise PaperbotError(f"{problem}; choose another --port or stop what uses it") from None
    sock.set_inheritable(True)
    # Listening from here on: a client that read "paperbot web on …" and connects while the
    # scheduler starts waits in the backlog instead of being refused (uvicorn listens only later).
    sock.listen(2048)
    return sock


def ensure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    if logging.getLogger("paperbot").level == logging.NOTSET:
        logging.getLogger("paperbot").setLevel(logging.INFO)  # one line per job run is the point
    if logging.getLogger("apscheduler").level == logging.NOTSET:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # our job lines say it already


def serve(
    bot: Paperbot,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    schedule: bool = True,
    web_tier: bool = False,
    config: SchedulerConfig | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT, then drain (see the module docstring)."""
    ensure_logging()
    scheduler = Scheduler(bot, config=config)
    if not schedule:
        scheduler.disable()
    sock = _bind(host, port)
    app = build_app(bot, scheduler, web_tier=web_tier)
    web = uvicorn.Config(app, lifespan="on", timeout_graceful_shutdown=10, access_log=False)
    server = uvicorn.Server(web)
    bound_host, bound_port = sock.getsockname()[:2]
    log.info(
        "paperbot web on http://%s:%d (scheduler %s)",
        bound_host,
        bound_port,
        "on" if schedule else "off: --no-schedule",
    )

    def stop_serving(_sig: int, _frame: FrameType | None) -> None:
        server.should_exit = True

    # uvicorn re-raises the signal it stopped on once it is done; with this handler in place that
    # does not kill the process before the scheduler has drained. It also covers a signal that
    # arrives while the scheduler starts, before uvicorn has installed its own.
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, stop_serving) for sig in (signal.SIGINT, signal.SIGTERM)}
    drained = True
    socket_mode = None
    try:
        if bot.settings.slack_app_token:  # Socket Mode: Slack over an outbound websocket (behind NAT)
            from bot.channels.slack import connect_socket_mode

            socket_mode = connect_socket_mode(bot)
        if schedule:
            scheduler.start()
        server.run(sockets=[sock])
    finally:
        if socket_mode is not None:
            socket_mode.close()  # type: ignore[no-untyped-call]  # slack-bolt is untyped here
        drained = scheduler.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    if not drained:
        # Worker threads stuck in a send would block interpreter exit (it joins them); the lock is
        # released and their digests stay claimed, so leaving now loses nothing.
        logging.shutdown()
        os._exit(3)
