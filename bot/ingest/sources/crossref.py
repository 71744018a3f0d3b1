"""Crossref REST API work responses (`GET https://api.crossref.org/works/{doi}`), the way a seed paper
given by DOI is fetched.

The envelope is `{"status": "ok", "message-type": "work", "message": {...}}`. Titles are lists,
abstracts (when the publisher deposited one) are JATS XML, authors are `given`/`family` or an
organisation's `name`, and dates are `date-parts` that may stop at the year or month.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.errors import FeedFormatError
from bot.ingest.sources._common import (
    Listings,
    dedupe,
    dict_field,
    list_field,
    load_json,
    make_listing,
    str_field,
)
from bot.ingest.sources.listing import Listing
from bot.ingest.sources.sniff import Sample

__all__ = ["parse", "claims"]

SOURCE = "crossref"
PDF = "application/pdf"
# The publication date, most specific first: the version of record, then the earliest known.
_DATES = ("published", "published-online", "published-print", "issued", "created")


def claims(sample: Sample) -> bool:
    """A Crossref work envelope."""
    value = sample.value
    return sample.kind == "json" and isinstance(value, dict) and value.get("message-type") == "work"


def parse(data: bytes) -> Listings:
    """The one work of the response (a DOI Crossref does not know is an HTTP 404, never a body)."""
    envelope = load_json(data)
    if not isinstance(envelope, dict) or envelope.get("message-type") != "work":
        raise FeedFormatError("expected a Crossref work response (message-type work)")
    return dedupe([_work(dict_field(envelope, "message"))])


def _work(work: dict[str, Any]) -> Listing | None:
    doi = str_field(work, "DOI")
    links = [link for link in list_field(work, "link") if isinstance(link, dict)]
    return make_listing(
        source=SOURCE,
        title=_first(work, "title"),
        abstract=str_field(work, "abstract"),  # JATS: make_listing's clean-up drops the tags
        authors=[_author(a) for a in list_field(work, "author") if isinstance(a, dict)],
        categories=[s for s in list_field(work, "subject") if isinstance(s, str)],
        doi=doi or None,
        source_id=doi or None,
        abs_url=f"https://doi.org/{doi}" if doi else None,
        pdf_url=next((str_field(ln, "URL") for ln in links if str_field(ln, "content-type") == PDF), None),
        published=next((when for key in _DATES if (when := _date(dict_field(work, key)))), None),
    )


def _first(work: dict[str, Any], key: str) -> str:
    return next((value for value in list_field(work, key) if isinstance(value, str) and value.strip()), "")


def _author(author: dict[str, Any]) -> str:
    """ "Given Family", or the organisation's name."""
    person = " ".join(part for part in (str_field(author, "given"), str_field(author, "family")) if part)
    return person or str_field(author, "name")


def _date(stamp: dict[str, Any]) -> datetime | None:
    """The start of a `{"date-parts": [[2021, 10, 8]]}` date; a year or a month alone count from
    their first day. None when absent or unreadable ([[null]] occurs)."""
    parts = next(iter(list_field(stamp, "date-parts")), None)
    if not isinstance(parts, list) or not parts or not all(isinstance(p, int) for p in parts[:3]):
        return None
    year, month, day = (*parts[:3], 1, 1)[:3]
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None
