"""Ingest one source: fetch (conditional GET), detect, parse, store, and record the outcome on its row."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.errors import SourceError
from bot.ingest import sources
from bot.ingest.fetch import fetch
from bot.ingest.store import store_listings
from bot.records import SourceReport
from bot.vocab import SourceStatus
from storage import models
from storage.db import session_scope

__all__ = ["source_row", "ingest_source"]

log = logging.getLogger("paperbot")


def _row(session: Session, url: str) -> models.Source:
    return session.exec(select(models.Source).where(models.Source.url == url)).one()


def source_row(engine: Engine, url: str) -> models.Source:
    """The Source row for `url`, created on first sight (ad hoc sources are tracked too)."""
    with session_scope(engine) as session:
        row = session.exec(select(models.Source).where(models.Source.url == url)).first()
        if row is None:
            row = models.Source(url=url)
            session.add(row)
            session.flush()
        return row


def _record_failure(engine: Engine, url: str, now: datetime, error: str) -> None:
    with session_scope(engine) as session:
        row = _row(session, url)
        row.last_error, row.last_error_at = error, now
        session.add(row)


def ingest_source(
    engine: Engine,
    url: str,
    *,
    now: datetime,
    client: httpx.Client | None,
    sleep: Callable[[float], None],
    timeout: float,
    strict: bool = False,
    retries: int = 3,
) -> tuple[SourceReport, tuple[int, ...]]:
    """(what happened, ids of new or changed listings). A failure is recorded and reported; with
    `strict` it is recorded and raised (a seed paper fetch, where the caller tells a 404 apart)."""
    source = source_row(engine, url)
    try:
        result = fetch(
            url,
            etag=source.etag,
            last_modified=source.last_modified,
            client=client,
            sleep=sleep,
            timeout=timeout,
            retries=retries,
        )
        if result.not_modified:
            listings, family = sources.Listings(), source.kind
        else:
            family = sources.detect(result.content, url=url, content_type=result.content_type)
            listings = sources.FAMILIES[family].parse(result.content)
    except SourceError as exc:
        _record_failure(engine, url, now, exc.message)
        if strict:  # the caller says it, once, in its own words
            raise
        log.warning("source %s failed: %s", url, exc.message)
        return SourceReport(source=url, status="failed", error=exc.message), ()
    with session_scope(engine) as session:  # listings and source state commit together, or not at all
        counts = store_listings(session, listings, now=now)
        row = _row(session, url)
        row.kind, row.last_success_at, row.last_error = family, now, None
        row.etag, row.last_modified = result.etag or row.etag, result.last_modified or row.last_modified
        row.last_counts = {
            "new": counts.new,
            "updated": counts.updated,
            "duplicate": counts.duplicate,
            "skipped": listings.skipped,
        }
        session.add(row)
    status: SourceStatus = "not_modified" if result.not_modified else "ok"
    report = SourceReport(
        source=url,
        status=status,
        family=family,
        new=counts.new,
        updated=counts.updated,
        duplicate=counts.duplicate,
        skipped=listings.skipped,
    )
    if listings.skipped:
        log.warning("source %s: skipped %d records that could not be read (no title)", url, listings.skipped)
    return report, counts.touched
