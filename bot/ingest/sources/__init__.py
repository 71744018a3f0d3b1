"""Feed adapters: bytes from any supported source in, normalised `Listing` records out.

One module per feed family, each with `parse(data) -> list[Listing]` and `claims(sample) -> bool`.
`FAMILIES` registers them in the order detection asks them (specific first, the generic `rss` last);
the built-in families go through it like any added one would.

    >>> from bot.ingest.sources import parse, resolve_source
    >>> resolve_source("arxiv:cs.LG")
    'https://rss.arxiv.org/rss/cs.LG'

Parsing is pure: no network, no files. Bytes that are no feed, a truncated download or a feed that
reports an error raise `FeedFormatError` with a message for the user.
"""

from __future__ import annotations

from typing import Protocol

from bot.errors import FeedFormatError
from bot.ingest.sources import arxiv_api, arxiv_rss, biorxiv, crossref, hf_daily, pubmed, rss, s2
from bot.ingest.sources._common import Listings
from bot.ingest.sources.listing import Listing
from bot.ingest.sources.public import check_public_url
from bot.ingest.sources.shortcuts import resolve_source
from bot.ingest.sources.sniff import Sample, sniff, where

__all__ = [
    "FAMILIES",
    "FeedFamily",
    "Listing",
    "Listings",
    "check_public_url",
    "detect",
    "parse",
    "resolve_source",
]


_ERROR_KEYS = ("error", "message", "detail")


class FeedFamily(Protocol):
    """What a feed family module provides."""

    def parse(self, data: bytes) -> Listings: ...

    def claims(self, sample: Sample) -> bool: ...


FAMILIES: dict[str, FeedFamily] = {
    "arxiv_rss": arxiv_rss,
    "arxiv_api": arxiv_api,
    "biorxiv": biorxiv,
    "pubmed": pubmed,
    "hf_daily": hf_daily,
    "s2": s2,
    "crossref": crossref,
    "rss": rss,
}


def detect(data: bytes, *, url: str | None = None, content_type: str | None = None) -> str:
    """The name of the family in FAMILIES that reads `data`, judged from the content itself."""
    sample = sniff(data, url=url, content_type=content_type)
    for name, family in FAMILIES.items():
        if family.claims(sample):
            return name
    raise FeedFormatError(_unrecognised(sample))


def parse(data: bytes, *, url: str | None = None, content_type: str | None = None) -> Listings:
    """Detect the family of `data` and parse it; FeedFormatError messages name `url`."""
    family = detect(data, url=url, content_type=content_type)
    try:
        return FAMILIES[family].parse(data)
    except FeedFormatError as exc:
        raise FeedFormatError(f"{where(url)}: {exc.message}") from exc


def _unrecognised(sample: Sample) -> str:
    place = where(sample.url)
    if sample.kind == "xml":
        return (
            f"{place} is XML with root element <{sample.root}>, not a feed paperbot reads "
            "(RSS, Atom, arXiv, bioRxiv/medRxiv or PubMed efetch)"
        )
    value = sample.value
    if isinstance(value, dict):
        reported = next((value[k] for k in _ERROR_KEYS if isinstance(value.get(k), str)), None)
        if reported:
            return f"{place} returned an error instead of papers: {reported}"
        keys = ", ".join(sorted(value)[:8]) or "none"
        return (
            f"{place} is JSON paperbot does not recognise (top-level keys: {keys}); expected Hugging Face "
            "daily papers, bioRxiv/medRxiv details, Semantic Scholar, PubMed or a Crossref work"
        )
    return f"{place} is JSON ({type(value).__name__}) paperbot does not recognise as a list of papers"
