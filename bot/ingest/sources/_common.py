"""Helpers every adapter uses to turn raw fields into clean `Listing` records (private to this package)."""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from bot.errors import FeedFormatError
from bot.ingest.sources.ids import canonical_id, clean_text, normalise_doi, parse_arxiv_id
from bot.ingest.sources.listing import Listing

__all__ = [
    "Listings",
    "MAX_ABSTRACT",
    "MAX_TITLE",
    "make_listing",
    "dedupe",
    "http_url",
    "parse_datetime",
    "split_names",
    "arxiv_pdf_url",
    "first_arxiv_id",
    "decode_text",
    "load_json",
    "str_field",
    "dict_field",
    "list_field",
]

_DATE_ONLY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_AND_RE = re.compile(r"(?:^|\s)and\s")
_HTTP_URL_RE = re.compile(r"https?://[^\s/?#@]+(?:[/?#]\S*)?", re.IGNORECASE)
# Bounds on stored text (characters, after cleaning). Real abstracts stay under 5,000 (arXiv allows
# 1,920); anything longer is a broken or hostile feed, and it would be embedded, stored and mailed.
MAX_TITLE = 1_000
MAX_ABSTRACT = 20_000


def make_listing(
    *,
    source: str,
    title: str | None,
    abstract: str | None = "",
    authors: Iterable[str] = (),
    categories: Iterable[str] = (),
    arxiv_id: str | None = None,
    version: int | None = None,
    doi: str | None = None,
    source_id: str | None = None,
    abs_url: str | None = None,
    pdf_url: str | None = None,
    published: datetime | None = None,
    updated: datetime | None = None,
    upvotes: int | None = None,
    announce_type: str | None = None,
) -> Listing | None:
    """A Listing with every invariant applied, or None when there is no usable title.

    Text is cleaned and cut to MAX_TITLE / MAX_ABSTRACT characters, the arXiv version is split off
    the id (an arXiv DOI also yields the id), the DOI is normalised, non-http(s) URLs (javascript:,
    data:, vbscript:, relative) are dropped and datetimes are made timezone-aware.
    """
    clean_title = _bounded(clean_text(title or ""), MAX_TITLE)
    if not clean_title:
        return None
    clean_doi = normalise_doi(doi) if doi else None
    parsed = None
    for candidate in (arxiv_id, clean_doi):
        parsed = parse_arxiv_id(candidate) if candidate else None
        if parsed:
            break
    return Listing(
        title=clean_title,
        abstract=_bounded(clean_text(abstract or ""), MAX_ABSTRACT),
        authors=_unique(clean_text(name) for name in authors),
        categories=_unique(clean_text(term) for term in categories),
        arxiv_id=parsed[0] if parsed else None,
        version=(parsed[1] or version) if parsed else None,
        doi=clean_doi,
        source_id=(source_id.strip() or None) if source_id else None,
        abs_url=http_url(abs_url),
        pdf_url=http_url(pdf_url),
        published=_aware(published),
        updated=_aware(updated),
        upvotes=upvotes,
        announce_type=announce_type,
        source=source,
    )


class Listings(list[Listing]):
    """A feed's listings, and how many of its records could not be read (`skipped`: no title, or
    not a record at all), so ingest can say so instead of dropping them silently."""

    skipped: int = 0


def dedupe(listings: Iterable[Listing | None]) -> Listings:
    """Drop Nones (records that could not be read, counted in `skipped`) and collapse records of the
    same paper, keeping the richer one in first-seen order.

    Records identified only by their title are kept apart when the source gives them different ids
    (Semantic Scholar recommends distinct papers called "News & Resources").
    """
    kept: dict[tuple[str, str | None], Listing] = {}
    skipped = 0
    for listing in listings:
        if listing is None:
            skipped += 1
            continue
        key = canonical_id(arxiv_id=listing.arxiv_id, doi=listing.doi, title=listing.title)
        slot = (key, listing.source_id if key.startswith("title:") else None)
        previous = kept.get(slot)
        if previous is None or _richness(listing) > _richness(previous):
            kept[slot] = listing
    result = Listings(kept.values())
    result.skipped = skipped
    return result


def http_url(value: str | None) -> str | None:
    """`value` if it is an absolute http(s) URL, else None (drops javascript:, data:, relative links)."""
    if not value:
        return None
    url = value.strip()
    return url if _HTTP_URL_RE.fullmatch(url) else None


def parse_datetime(value: str | None) -> datetime | None:
    """A timezone-aware UTC datetime from ISO 8601, RFC 822 or a bare date; None if unparseable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        if _DATE_ONLY_RE.fullmatch(text):
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    return _aware(parsed)


def split_names(text: str, *, separator: str = ",") -> list[str]:
    """Split an author string on `separator` and " and ", never inside parentheses."""
    names: list[str] = []
    text = clean_text(text)
    if "(" not in text:
        return _split_and(text.split(separator))
    depth = 0
    current: list[str] = []
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == separator and depth <= 0:
            names.append("".join(current))
            current = []
        else:
            current.append(ch)
    names.append("".join(current))
    return _split_and(names)


def _split_and(names: list[str]) -> list[str]:
    parts = (part.strip() for name in names for part in _AND_RE.split(name.strip()))
    return [part for part in parts if part]


def first_arxiv_id(*candidates: str | None) -> tuple[str | None, int | None]:
    """(id, version) from the first candidate that is an arXiv reference, else (None, None)."""
    for candidate in candidates:
        parsed = parse_arxiv_id(candidate) if candidate else None
        if parsed:
            return parsed
    return None, None


def arxiv_pdf_url(arxiv_id: str | None, version: int | None) -> str | None:
    """The PDF link arXiv serves for an id (and version, when known)."""
    if not arxiv_id:
        return None
    return f"https://arxiv.org/pdf/{arxiv_id}" + (f"v{version}" if version else "")


def decode_text(data: bytes) -> str:
    """Bytes to text: UTF-8 (with or without BOM, or UTF-16 with BOM), else Windows-1252 / Latin-1."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def load_json(data: bytes) -> Any:
    """Decoded JSON, or FeedFormatError saying where it broke (a cut-off download usually)."""
    text = decode_text(data)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FeedFormatError(
            f"the JSON is malformed at line {exc.lineno}, column {exc.colno} ({exc.msg}); "
            "the download may be truncated"
        ) from exc


def str_field(obj: Mapping[str, Any], key: str) -> str:
    """obj[key] when it is a string, else "" (JSON from APIs has nulls and surprises)."""
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def dict_field(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    """obj[key] when it is an object, else {}."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def list_field(obj: Mapping[str, Any], key: str) -> list[Any]:
    """obj[key] when it is an array, else []."""
    value = obj.get(key)
    return value if isinstance(value, list) else []


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _bounded(text: str, limit: int) -> str:
    """`text`, or its first `limit` characters cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ", limit // 2)
    return (cut[:space] if space > 0 else cut).rstrip() + "…"


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _richness(listing: Listing) -> tuple[int, int]:
    filled = sum(
        1
        for value in (
            listing.abstract,
            listing.authors,
            listing.categories,
            listing.arxiv_id,
            listing.doi,
            listing.abs_url,
            listing.pdf_url,
            listing.published,
            listing.upvotes,
        )
        if value
    )
    return filled, len(listing.abstract)
