"""Any other RSS 1.0, RSS 2.0 or Atom feed, read with feedparser: journal tables of contents
(Nature RSS 1.0 + PRISM and Atom, PLOS Atom, OUP and BMC RSS 2.0) and paperbot's own sample feed.

DOIs come from `prism:doi`, `dc:identifier`, the entry id or DOI-bearing links (a nature.com
article URL gives its 10.1038 DOI); arXiv ids from arxiv.org links. Publisher boilerplate is
removed from abstracts (Nature's "Published online" line, PLOS's "by <authors>", OUP's "Abstract"
heading); a description that only repeats the title counts as no abstract. Truncated teasers (BMC)
are kept as they come. Malformed XML raises FeedFormatError, except undefined HTML entities such as
`&nbsp;`, which feedparser reads correctly.
"""

from __future__ import annotations

import io
import re
import time
import xml.sax
from datetime import UTC, datetime
from typing import Any

from bot.errors import FeedFormatError
from bot.ingest.sources._common import Listings, dedupe, first_arxiv_id, make_listing, split_names
from bot.ingest.sources.ids import clean_text, normalise_doi
from bot.ingest.sources.listing import Listing
from bot.ingest.sources.sniff import Sample

__all__ = ["parse", "claims"]

SOURCE = "rss"
_FEED_ROOTS = {"rss", "RDF", "feed"}
_DOI_IN_URL_RE = re.compile(r"10\.\d{4,9}/[^\s?#&\"<>]+")
_NATURE_ARTICLE_RE = re.compile(r"^https?://(?:www\.)?nature\.com/articles/([\w.-]+)$")
_BOILERPLATE_RE = re.compile(
    r"^\s*<p>(?:(?!</p>).)*?Published online:(?:(?!</p>).)*</p>"  # Nature: "<p>Nature, Published online:"
    r"|^\s*<p>\s*by\s[^<]*</p>",  # PLOS: "<p>by Jin Ke, Hayoung Song</p>"
    re.DOTALL | re.IGNORECASE,
)
_BOX_TITLE_RE = re.compile(r'<div class="boxTitle">(.*?)</div>', re.DOTALL)
_ABSTRACT_LABEL_RE = re.compile(r"^abstract\b[:.]?\s*", re.IGNORECASE)


def claims(sample: Sample) -> bool:
    """Any RSS (0.9x-2.0), RSS 1.0/RDF or Atom document: the catch-all family, asked last."""
    return sample.kind == "xml" and sample.root in _FEED_ROOTS


def parse(data: bytes) -> Listings:
    """Listings from a generic feed."""
    import feedparser  # 0.1 s to import: only when a generic feed is read, not for every feed id lookup

    result = feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False)
    problem = result.get("bozo_exception")
    if isinstance(problem, xml.sax.SAXParseException) and "undefined entity" not in problem.getMessage():
        raise FeedFormatError(
            f"the feed's XML is malformed at line {problem.getLineNumber()} ({problem.getMessage()}); "
            "the download may be truncated"
        )
    if not result.get("version") and not result.entries:
        raise FeedFormatError("this is not an RSS or Atom feed")
    return dedupe(_entry(entry) for entry in result.entries)


def _entry(entry: Any) -> Listing | None:
    title = clean_text(entry.get("title", ""))
    links = [link.get("href", "") for link in entry.get("links", [])]
    arxiv_id, version = first_arxiv_id(entry.get("id"), entry.get("link"), *links)
    return make_listing(
        source=SOURCE,
        title=title,
        abstract=_abstract(entry, title),
        authors=_authors(entry),
        categories=[tag.get("term") or "" for tag in entry.get("tags", [])],
        arxiv_id=arxiv_id,
        version=version,
        doi=_doi(entry, links),
        source_id=entry.get("id") or entry.get("link"),
        abs_url=entry.get("link"),
        pdf_url=_pdf_link(entry),
        published=_datetime(_raw(entry, "published_parsed") or _raw(entry, "updated_parsed")),
        updated=_datetime(_raw(entry, "updated_parsed")),
    )


def _pdf_link(entry: Any) -> str | None:
    return next((link.get("href") for link in entry.get("links", []) if "pdf" in link.get("type", "")), None)


def _abstract(entry: Any, title: str) -> str:
    raw = entry.get("summary") or next((c.get("value", "") for c in entry.get("content", [])), "")
    raw = _BOX_TITLE_RE.sub(r" \1: ", _BOILERPLATE_RE.sub("", raw, count=1))
    text = _ABSTRACT_LABEL_RE.sub("", clean_text(raw), count=1)
    return "" if text.casefold() == title.casefold() else text


def _authors(entry: Any) -> list[str]:
    names = [author.get("name", "") for author in entry.get("authors", []) if author.get("name")]
    if len(names) == 1 and (" and " in names[0] or names[0].count(",") >= 2):
        return split_names(names[0])  # BMC: "A, B and C" in one dc:creator
    return names


def _doi(entry: Any, links: list[str]) -> str | None:
    for candidate in (entry.get("prism_doi"), entry.get("dc_identifier"), entry.get("id")):
        doi = normalise_doi(candidate) if candidate else None
        if doi:
            return doi
    for link in links:
        nature = _NATURE_ARTICLE_RE.match(link)
        if nature:
            return f"10.1038/{nature.group(1).lower()}"
        found = _DOI_IN_URL_RE.search(link)
        if found and (doi := normalise_doi(found.group(0).rstrip("/."))):
            return doi
    return None


def _raw(entry: Any, key: str) -> Any:
    # dict.get skips FeedParserDict's published/updated aliasing, which warns (feedparser issue 310).
    return dict.get(entry, key)


def _datetime(value: time.struct_time | None) -> datetime | None:
    # feedparser gives UTC struct_time values.
    return datetime(*value[:6], tzinfo=UTC) if value else None
