"""Hugging Face daily papers (huggingface.co/api/daily_papers): a JSON array of curated arXiv papers.

Each element has a `paper` object (arXiv id in `paper.id`, authors, `upvotes`, arXiv `publishedAt`)
plus the title and summary. Links point at arXiv, the paper's home. An empty array gives [].
"""

from __future__ import annotations

from typing import Any

from bot.errors import FeedFormatError
from bot.ingest.sources._common import (
    Listings,
    arxiv_pdf_url,
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

SOURCE = "hf_daily"


def claims(sample: Sample) -> bool:
    """A JSON array of objects with a `paper` member (or an empty array from huggingface.co)."""
    if sample.kind != "json" or not isinstance(sample.value, list):
        return False
    if not sample.value:
        return sample.url_host_endswith("huggingface.co")
    first = sample.value[0]
    return isinstance(first, dict) and isinstance(first.get("paper"), dict)


def parse(data: bytes) -> Listings:
    """Listings from a daily papers response."""
    value = load_json(data)
    if not isinstance(value, list):
        raise FeedFormatError("expected the Hugging Face daily papers JSON array")
    return dedupe(_item(item) if isinstance(item, dict) else None for item in value)


def _item(item: dict[str, Any]) -> Listing | None:
    paper = dict_field(item, "paper")
    arxiv_id, version = first_arxiv_id(str_field(paper, "id"))
    upvotes = paper.get("upvotes")
    return make_listing(
        source=SOURCE,
        title=str_field(item, "title") or str_field(paper, "title"),
        abstract=str_field(paper, "summary") or str_field(item, "summary"),
        authors=[str_field(a, "name") for a in list_field(paper, "authors") if isinstance(a, dict)],
        arxiv_id=arxiv_id,
        version=version,
        source_id=str_field(paper, "id") or None,
        abs_url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else None,
        pdf_url=arxiv_pdf_url(arxiv_id, version),
        published=parse_datetime(str_field(paper, "publishedAt") or str_field(item, "publishedAt")),
        upvotes=upvotes if isinstance(upvotes, int) and not isinstance(upvotes, bool) else None,
    )
