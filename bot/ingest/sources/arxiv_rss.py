"""arXiv's daily listing feeds, in both formats arXiv has served.

- rss.arxiv.org/rss/<cats> (2024+): RSS 2.0 with `arxiv:announce_type` (new, cross, replace,
  replace-cross) and a description "arXiv:2404.12345v1 Announce Type: new \\nAbstract: ...".
- export.arxiv.org/rss/<cat> (before 2024): RSS 1.0/RDF; the id, primary category and announce type
  sit in the title ("Title. (arXiv:1805.08875v1 [hep-ex] UPDATED)"), descriptions are escaped HTML
  and `dc:creator` holds `<a href>` author links. The old "CROSS LISTED" / "UPDATED" markers are
  reported with the new vocabulary ("cross" / "replace").

A feed with no items (weekends, holidays) gives [].
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime

from bot.errors import FeedFormatError
from bot.ingest.sources._common import (
    Listings,
    arxiv_pdf_url,
    dedupe,
    first_arxiv_id,
    make_listing,
    parse_datetime,
    split_names,
)
from bot.ingest.sources._xml import NS, local_name, parse_xml, text_of, texts_of
from bot.ingest.sources.listing import Listing
from bot.ingest.sources.sniff import Sample

__all__ = ["parse", "claims"]

SOURCE = "arxiv_rss"
_DESCRIPTION_RE = re.compile(r"\s*arXiv:(\S+)\s+Announce Type:\s*(\S+)\s*(?:Abstract:)?(.*)", re.DOTALL)
_OLD_TITLE_RE = re.compile(
    r"(?P<title>.*?)\.?\s*\(arXiv:(?P<id>\S+)\s+\[(?P<category>[^\]]+)\](?:\s+(?P<flag>[A-Z][A-Z ]+))?\)\s*",
    re.DOTALL,
)
_OLD_FLAGS = {None: "new", "CROSS LISTED": "cross", "UPDATED": "replace"}
_CHANNEL_ON_ARXIV_RE = re.compile(
    r"<channel\b[^>]*https?://(?:[\w-]+\.)*arxiv\.org|<link>\s*https?://(?:[\w-]+\.)*arxiv\.org"
)


def claims(sample: Sample) -> bool:
    """RSS 2.0 or RDF whose channel is arXiv's (namespace or channel link), or served from arxiv.org."""
    if sample.kind != "xml" or sample.root not in ("rss", "RDF"):
        return False
    return (
        NS["arxiv"] in sample.head
        or bool(_CHANNEL_ON_ARXIV_RE.search(sample.head))
        or sample.url_host_endswith("arxiv.org")
    )


def parse(data: bytes) -> Listings:
    """Listings from either arXiv RSS format."""
    root = parse_xml(data)
    kind = local_name(root.tag)
    if kind == "rss":
        return dedupe(_new_item(item) for item in root.iterfind("channel/item"))
    if kind == "RDF":
        announced = parse_datetime(text_of(root, "rss1:channel/dc:date"))
        return dedupe(_old_item(item, announced) for item in root.iterfind("rss1:item", NS))
    raise FeedFormatError(f"expected an arXiv RSS feed (<rss> or <rdf:RDF>), found <{kind}>")


def _new_item(item: ET.Element) -> Listing | None:
    description = text_of(item, "description")
    match = _DESCRIPTION_RE.match(description)
    arxiv_id, version = first_arxiv_id(
        text_of(item, "guid"), f"arXiv:{match.group(1)}" if match else "", text_of(item, "link")
    )
    announce_type = text_of(item, "arxiv:announce_type") or (match.group(2) if match else "")
    return make_listing(
        source=SOURCE,
        title=text_of(item, "title"),
        abstract=match.group(3) if match else description,
        authors=split_names(text_of(item, "dc:creator")),
        categories=texts_of(item, "category"),
        arxiv_id=arxiv_id,
        version=version,
        doi=text_of(item, "arxiv:DOI") or None,
        source_id=text_of(item, "guid") or None,
        abs_url=text_of(item, "link"),
        pdf_url=arxiv_pdf_url(arxiv_id, version),
        published=parse_datetime(text_of(item, "pubDate")),
        announce_type=announce_type.strip().lower() or None,
    )


def _old_item(item: ET.Element, announced: datetime | None) -> Listing | None:
    raw_title = text_of(item, "rss1:title")
    match = _OLD_TITLE_RE.fullmatch(raw_title)
    link = text_of(item, "rss1:link")
    arxiv_id, version = first_arxiv_id(f"arXiv:{match['id']}" if match else "", link)
    return make_listing(
        source=SOURCE,
        title=match["title"] if match else raw_title,
        abstract=text_of(item, "rss1:description"),
        authors=split_names(text_of(item, "dc:creator")),
        categories=[match["category"]] if match else [],
        arxiv_id=arxiv_id,
        version=version,
        source_id=item.get(f"{{{NS['rdf']}}}about"),
        abs_url=link,
        pdf_url=arxiv_pdf_url(arxiv_id, version),
        published=announced,
        announce_type=_OLD_FLAGS.get(match["flag"]) if match else None,
    )
