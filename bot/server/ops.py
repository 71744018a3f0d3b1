"""Operations endpoints: `/healthz` for load balancers and Docker, `/metrics` for Prometheus.

    GET /healthz  200 {"status": "ok", "database": {...}, "scheduler": {...}, "last_ingest": {...}}
                  503 with the same body when the database is unreachable or the scheduler stopped
                  (a follower is healthy: it serves the web and stands by to take over)
    GET /metrics  Prometheus text: this process's counters and job durations (`bot.metrics`), plus
                  totals read from the database, which are the same whichever process is scraped

Both are plain `def` endpoints: Starlette runs them in its thread pool, so the blocking database
calls never stall the event loop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import reports
from bot.metrics import Family, Sample, render
from bot.schedule.scheduler import Scheduler
from bot.service import Paperbot

__all__ = ["ops_routes", "health", "database_families"]

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HEALTHY_STATES = ("leader", "follower", "disabled")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _last_ingest(bot: Paperbot) -> dict[str, Any]:
    last = reports.last_ingest(bot)
    return {
        "last_success_at": _iso(last.last_success_at),
        "failing_sources": [{"url": url, "error": error} for url, error in last.failing],
    }


def health(bot: Paperbot, scheduler: Scheduler | None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of the health check."""
    body: dict[str, Any] = {}
    try:
        body["database"] = {"ok": True, "dialect": reports.ping(bot)}
    except Exception as exc:  # any failure here is exactly what the check reports
        body["database"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    if scheduler is None:
        body["scheduler"] = {"state": "disabled"}
    else:
        info = scheduler.info()
        body["scheduler"] = {
            "state": info.state,
            "lock": info.lock,
            "leader_since": _iso(info.since),
            "last_tick_at": _iso(info.last_tick_at),
            "running_jobs": info.running_jobs,
            "last_ingest_job_at": _iso(info.last_ingest_at),
            "last_ingest_job_error": info.last_ingest_error,
        }
    body["last_ingest"] = _last_ingest(bot) if body["database"]["ok"] else None
    ok = body["database"]["ok"] and body["scheduler"]["state"] in HEALTHY_STATES
    body = {"status": "ok" if ok else "fail", **body}
    return (200 if ok else 503), body


def _grouped(rows: Any, *labels: str) -> tuple[Sample, ...]:
    return tuple(
        Sample("", tuple(zip(labels, map(str, row[:-1]), strict=True)), float(row[-1])) for row in rows
    )


def _named(name: str, samples: tuple[Sample, ...]) -> tuple[Sample, ...]:
    return tuple(Sample(name, s.labels, s.value) for s in samples)


def database_families(bot: Paperbot) -> list[Family]:
    """Totals from the database: listings, digests by status, votes, subscriptions, last ingest."""
    t = reports.totals(bot)
    listings, digests, votes, subs, last = t.listings, t.digests, t.votes, t.subscriptions, t.last_success_at
    gauge = [
        ("paperbot_listings", "Listings stored.", (Sample("", (), float(listings)),)),
        (
            "paperbot_digests",
            "Digests in the database by status (sent, empty, failed, claimed).",
            _grouped(digests, "status"),
        ),
        (
            "paperbot_feedback_votes",
            "Votes recorded (the last per subscriber and paper) by vote and channel.",
            _grouped(votes, "vote", "via"),
        ),
        (
            "paperbot_subscriptions",
            "Subscriptions by state.",
            tuple(Sample("", (("state", "active" if a else "paused"),), float(n)) for a, n in subs),
        ),
        (
            "paperbot_last_ingest_timestamp_seconds",
            "Last successful fetch of any source (Unix time).",
            (Sample("", (), last.timestamp()),) if last else (),
        ),
    ]
    return [Family(name, "gauge", help_text, _named(name, samples)) for name, help_text, samples in gauge]


def ops_routes(bot: Paperbot, scheduler: Scheduler | None) -> list[Route]:
    """The /healthz and /metrics routes, to mount in the web app."""

    def healthz(request: Request) -> Response:
        status, body = health(bot, scheduler)
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    def metrics(request: Request) -> Response:
        families = list(scheduler.metrics.families()) if scheduler is not None else []
        leader = 1.0 if scheduler is not None and scheduler.state == "leader" else 0.0
        name = "paperbot_scheduler_leader"
        help_text = "1 when this process runs the scheduler."
        families.append(Family(name, "gauge", help_text, (Sample(name, (), leader),)))
        try:
            families += database_families(bot)
            up = 1.0
        except Exception:  # the scrape still shows this process's counters, and that the database is down
            up = 0.0
        families.append(
            Family(
                "paperbot_database_up",
                "gauge",
                "1 when the database answered this scrape.",
                (Sample("paperbot_database_up", (), up),),
            )
        )
        return Response(render(families), media_type=PROMETHEUS_TYPE)

    return [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]
