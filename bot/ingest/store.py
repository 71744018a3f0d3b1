"""Store parsed listings: dedup across sources and versions, merge fields, count what happened.

`merge` is pure (one stored row + one incoming record -> changes); `store_listings` does the
database work for one source in the caller's transaction, so a source is stored whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.ingest.sources.ids import canonical_id
from bot.ingest.sources.listing import Listing
from bot.vectors.embed import content_hash, listing_text
from storage import models

__all__ = ["StoreCounts", "merge", "store_listings"]

# Whose title/abstract wins when two sources disagree about the same version of a paper:
# arXiv's own text over aggregators (HF daily papers, S2) and journal feeds' teaser snippets.
TEXT_PRIORITY = {"arxiv_api": 3, "arxiv_rss": 3, "pubmed": 2, "biorxiv": 2, "s2": 1, "rss": 1, "hf_daily": 0}
_CHUNK = 500


@dataclass(frozen=True)
class StoreCounts:
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    touched: tuple[int, ...] = ()  # ids of new or changed rows (their vectors may need refreshing)


def _priority(sources: Iterable[str]) -> int:
    return max((TEXT_PRIORITY.get(name, 1) for name in sources), default=-1)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(a, b) if a and b else a or b


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a and b else a or b


def _text_wins(row: models.Listing, new: Listing) -> bool:
    """Does the incoming record's title/abstract replace the stored one?"""
    if new.version is not None and (row.version is None or new.version > row.version):
        return True  # a new arXiv version: its text is the current text
    if new.version is not None and row.version is not None and new.version < row.version:
        return False
    if not row.abstract and new.abstract:
        return True
    return bool(new.abstract) and TEXT_PRIORITY.get(new.source, 1) > _priority(row.sources)


def merge(row: models.Listing, new: Listing) -> bool:
    """Fold `new` into the stored `row` in place; True when anything changed."""
    before = row.model_dump()
    if _text_wins(row, new):
        row.title, row.abstract = new.title, new.abstract or row.abstract
        row.authors = list(new.authors) or row.authors
        row.version = new.version if new.version is not None else row.version
        row.abs_url = new.abs_url or row.abs_url
        row.pdf_url = new.pdf_url or row.pdf_url
    else:
        row.authors = row.authors or list(new.authors)
        row.abs_url = row.abs_url or new.abs_url
        row.pdf_url = row.pdf_url or new.pdf_url
    row.arxiv_id = row.arxiv_id or new.arxiv_id
    row.doi = row.doi or new.doi
    row.categories = list(dict.fromkeys([*row.categories, *new.categories]))
    row.sources = list(dict.fromkeys([*row.sources, new.source]))
    if new.source_id and new.source not in row.source_ids:
        # The first id a source gave is kept: generic titles ("Editorial") can make distinct records of
        # one source meet on a title hash, and flip-flopping between their ids would never settle.
        row.source_ids = {**row.source_ids, new.source: new.source_id}
    row.upvotes = new.upvotes if new.upvotes is not None else row.upvotes
    row.published = _earliest(row.published, new.published)
    row.updated = _latest(row.updated, new.updated)
    row.content_hash = content_hash(listing_text(row.title, row.abstract))
    return row.model_dump() != before


def _new_row(listing: Listing, now: datetime) -> models.Listing:
    row = models.Listing(
        canonical_id=canonical_id(arxiv_id=listing.arxiv_id, doi=listing.doi, title=listing.title),
        title=listing.title,
        content_hash="",
        first_seen=now,
        last_seen=now,
    )
    merge(row, listing)
    row.version = listing.version
    return row


class _Lookup:
    """Existing rows for a batch, found by canonical id, arXiv id or DOI (a journal version that
    names its arXiv preprint is the same paper)."""

    def __init__(self, session: Session, listings: Sequence[Listing]) -> None:
        self.by_key: dict[str, models.Listing] = {}
        keys = {canonical_id(arxiv_id=x.arxiv_id, doi=x.doi, title=x.title) for x in listings}
        arxiv_ids = {x.arxiv_id for x in listings if x.arxiv_id}
        dois = {x.doi for x in listings if x.doi}
        for column, values in (
            (models.Listing.canonical_id, keys),
            (models.Listing.arxiv_id, arxiv_ids),
            (models.Listing.doi, dois),
        ):
            ordered = sorted(values)
            for start in range(0, len(ordered), _CHUNK):
                chunk = ordered[start : start + _CHUNK]
                for row in session.exec(select(models.Listing).where(col(column).in_(chunk))):
                    self.remember(row)

    def remember(self, row: models.Listing) -> None:
        self.by_key[row.canonical_id] = row
        if row.arxiv_id:
            self.by_key[f"arxiv:{row.arxiv_id}"] = row
        if row.doi:
            self.by_key[f"doi:{row.doi}"] = row

    def find(self, listing: Listing) -> models.Listing | None:
        keys = [canonical_id(arxiv_id=listing.arxiv_id, doi=listing.doi, title=listing.title)]
        keys += [f"arxiv:{listing.arxiv_id}"] if listing.arxiv_id else []
        keys += [f"doi:{listing.doi}"] if listing.doi else []
        return next((self.by_key[k] for k in keys if k in self.by_key), None)


def store_listings(session: Session, listings: Sequence[Listing], *, now: datetime) -> StoreCounts:
    """Insert new papers and merge known ones; the caller commits (one transaction per source)."""
    lookup = _Lookup(session, listings)
    new = updated = duplicate = 0
    touched: dict[int, models.Listing] = {}
    for listing in listings:
        row = lookup.find(listing)
        if row is None:
            row = _new_row(listing, now)
            lookup.remember(row)
            new += 1
            touched[id(row)] = row
        elif merge(row, listing):
            updated += 1
            touched[id(row)] = row
        else:
            duplicate += 1
        row.last_seen = now
        session.add(row)
    session.flush()
    changed = tuple(sorted({row.id for row in touched.values() if row.id is not None}))
    return StoreCounts(new=new, updated=updated, duplicate=duplicate, touched=changed)
