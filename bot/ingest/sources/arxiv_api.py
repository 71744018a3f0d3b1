"""Atom responses of the arXiv API (export.arxiv.org/api/query), current and pre-2017 output.

- No results: a feed without entries (opensearch:totalResults 0) gives [].
- A bad query: arXiv answers HTTP 400 with one entry titled "Error" whose id is under
  arxiv.org/api/errors; that raises FeedFormatError carrying arXiv's own text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bot.errors import FeedFormatError
from bot.ingest.sources._common import (
    Listings,
    arxiv_pdf_url,
    dedupe,
    first_arxiv_id,
    make_listing,
    parse_datetime,
)
from bot.ingest.sources._xml import NS, local_name, parse_xml, text_of, texts_of
from bot.ingest.sources.listing import Listing
from bot.ingest.sources.sniff import Sample

__all__ = ["parse", "claims"]

SOURCE = "arxiv_api"


def claims(sample: Sample) -> bool:
    """An Atom feed from the arXiv API (its self link / id, or arXiv + OpenSearch namespaces)."""
    if sample.kind != "xml" or sample.root != "feed":
        return False
    head = sample.head
    return (
        "arxiv.org/api" in head
        or (NS["arxiv"] in head and NS["opensearch"] in head)
        or sample.url_host_endswith("export.arxiv.org")
    )


def parse(data: bytes) -> Listings:
    """Listings from an API response; FeedFormatError if arXiv reports an error instead."""
    root = parse_xml(data)
    if local_name(root.tag) != "feed":
        raise FeedFormatError(f"expected an arXiv API Atom feed, found <{local_name(root.tag)}>")
    entries = root.findall("atom:entry", NS)
    for entry in entries:
        if "/api/errors" in text_of(entry, "atom:id"):
            message = " ".join(text_of(entry, "atom:summary").split()) or "no details given"
            raise FeedFormatError(f"the arXiv API reported an error: {message}; check the query")
    return dedupe(_entry(entry) for entry in entries)


def _entry(entry: ET.Element) -> Listing | None:
    arxiv_id, version = first_arxiv_id(text_of(entry, "atom:id"))
    links = entry.findall("atom:link", NS)
    abs_url = next((link.get("href") for link in links if link.get("rel") == "alternate"), None)
    pdf_url = next((link.get("href") for link in links if link.get("title") == "pdf"), None)
    primary = entry.find("arxiv:primary_category", NS)
    terms = [primary.get("term", "")] if primary is not None else []
    terms += [category.get("term", "") for category in entry.findall("atom:category", NS)]
    return make_listing(
        source=SOURCE,
        title=text_of(entry, "atom:title"),
        abstract=text_of(entry, "atom:summary"),
        authors=texts_of(entry, "atom:author/atom:name"),
        categories=terms,
        arxiv_id=arxiv_id,
        version=version,
        doi=text_of(entry, "arxiv:doi") or None,
        source_id=text_of(entry, "atom:id") or None,
        abs_url=abs_url,
        pdf_url=pdf_url or arxiv_pdf_url(arxiv_id, version),
        published=parse_datetime(text_of(entry, "atom:published")),
        updated=parse_datetime(text_of(entry, "atom:updated")),
    )
