"""Semantic Scholar Graph and Recommendations API responses (api.semanticscholar.org).

Shapes understood: one paper object (`/graph/v1/paper/<id>`); a batch array in which ids S2 could
not resolve come back as `null` (skipped); search results `{"total", "data": [...]}`; citation
lists `{"data": [{"citingPaper": {...}}]}`; recommendations `{"recommendedPapers": [...]}`.
`externalIds.ArXiv` and `externalIds.DOI` give the arXiv id and DOI. Empty results give [].
"""

from __future__ import annotations

from typing import Any

from bot.errors import FeedFormatError
from bot.ingest.sources._common import (
    Listings,
    dedupe,
    dict_field,
    first_arxiv_id,
    list_field,
    load_json,
    make_listing,
    parse_datetime,
    str_field,
)
from bot.ingest.sources.listing import Listing
from bot.ingest.sources.sniff import Sample

__all__ = ["parse", "claims"]

SOURCE = "s2"
_LIST_KEYS = ("data", "recommendedPapers")
_WRAPPER_KEYS = ("citingPaper", "citedPaper")


def claims(sample: Sample) -> bool:
    """A paper object, a batch array of papers/nulls, or a search/recommendation envelope."""
    value = sample.value
    if sample.kind != "json":
        return False
    if isinstance(value, list):
        return all(item is None or _is_paper(item) for item in value[:20])
    if not isinstance(value, dict):
        return False
    return _is_paper(value) or any(isinstance(value.get(key), list) for key in _LIST_KEYS)


def parse(data: bytes) -> Listings:
    """Listings from any of the shapes above."""
    return dedupe(_paper(paper) for paper in _papers(load_json(data)))


def _papers(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict) and _is_paper(value):
        items: list[Any] = [value]
    elif isinstance(value, dict) and any(isinstance(value.get(key), list) for key in _LIST_KEYS):
        items = next(value[key] for key in _LIST_KEYS if isinstance(value.get(key), list))
    elif isinstance(value, list):
        items = value
    else:
        raise FeedFormatError("expected a Semantic Scholar paper, batch, search or recommendations response")
    unwrapped = (_unwrap(item) for item in items)
    return [item for item in unwrapped if item is not None]


def _unwrap(item: Any) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None  # a batch returns null for an id it could not resolve
    for key in _WRAPPER_KEYS:
        if isinstance(item.get(key), dict):
            return item[key]  # type: ignore[no-any-return]
    return item


def _is_paper(item: Any) -> bool:
    return isinstance(item, dict) and "paperId" in item


def _paper(paper: dict[str, Any]) -> Listing | None:
    external = dict_field(paper, "externalIds")
    arxiv_id, version = first_arxiv_id(str_field(external, "ArXiv"))
    return make_listing(
        source=SOURCE,
        title=str_field(paper, "title"),
        abstract=str_field(paper, "abstract"),
        authors=[str_field(a, "name") for a in list_field(paper, "authors") if isinstance(a, dict)],
        categories=[f for f in list_field(paper, "fieldsOfStudy") if isinstance(f, str)],
        arxiv_id=arxiv_id,
        version=version,
        doi=str_field(external, "DOI") or None,
        source_id=str_field(paper, "paperId") or None,
        abs_url=str_field(paper, "url") or None,
        pdf_url=str_field(dict_field(paper, "openAccessPdf"), "url") or None,
        published=parse_datetime(str_field(paper, "publicationDate")),
    )
