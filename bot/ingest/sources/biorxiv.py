"""bioRxiv and medRxiv: the connect.*rxiv.org subject RSS 1.0 feeds and the api.biorxiv.org
`details` JSON (`{"messages": [...], "collection": [...]}`).

Abstracts from bioRxiv's JATS conversion carry markers (`O_ST_ABS`...`C_ST_ABS` section titles,
`O_LI`/`C_LI` list items, `O_SCPLOW` small caps) and symbols spelled `{rho}`; they are turned back
into text. An empty `collection` ("no posts found") gives []; a response without one is an error.
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from typing import Any

from bot.errors import FeedFormatError
from bot.ingest.sources._common import Listings, dedupe, load_json, make_listing, parse_datetime, str_field
from bot.ingest.sources._xml import NS, local_name, parse_xml, text_of
from bot.ingest.sources.ids import normalise_doi
from bot.ingest.sources.listing import Listing
from bot.ingest.sources.sniff import Sample

__all__ = ["parse", "claims", "clean_jats"]

SOURCE = "biorxiv"
_SERVERS_RE = re.compile(r"https?://(?:[\w-]+\.)*(?:bio|med)rxiv\.org")
_BLOCK_MARKER_RE = re.compile(r"[OC]_(?:ST_ABS|LI|FIG_DISPLAY|FIG|TBL|QD|LINKGRAPHIC)")
_INLINE_MARKER_RE = re.compile(r"[OC]_(?:SCPLOW|SCPCAP|SUP|SUB|IT|BOLD)")
_SYMBOL_RE = re.compile(r"\{([A-Za-z][A-Za-z ]{1,30})\}")
_SYMBOLS = {"square": "", "degree": "°", "micro": "µ", "plusmn": "±", "times": "×", "le": "≤", "ge": "≥"}
# Section titles glued to their paragraph ("ResultsThe initial space ...") by the JATS conversion.
_GLUED_HEADING_RE = re.compile(
    r"(^|\n)\s*(Background|Objectives?|Aims?|Purpose|Importance|Introduction|Motivation|Methods|Design"
    r"|Setting|Participants|Findings|Results|Interpretation|Conclusions?|Funding|Highlights)(?=[A-Z])"
)
_VERSION_RE = re.compile(r"v(\d+)(?:[?#.]|$)")
_SUBJECT_RE = re.compile(r"Subject Collection:\s*(.+)")


def claims(sample: Sample) -> bool:
    """The details JSON (`collection` array) or an RSS feed whose channel is on bioRxiv/medRxiv."""
    if sample.kind == "json":
        return isinstance(sample.value, dict) and isinstance(sample.value.get("collection"), list)
    if sample.root not in ("RDF", "rss"):
        return False
    return bool(_SERVERS_RE.search(sample.head)) or sample.url_host_endswith("biorxiv.org", "medrxiv.org")


def parse(data: bytes) -> Listings:
    """Listings from a subject RSS feed or a details JSON page."""
    if data.lstrip()[:1] in (b"{", b"["):
        return _parse_details(load_json(data))
    root = parse_xml(data)
    if local_name(root.tag) not in ("RDF", "rss"):
        raise FeedFormatError(f"expected a bioRxiv/medRxiv RSS feed, found <{local_name(root.tag)}>")
    subject = _SUBJECT_RE.search(text_of(root, "rss1:channel/rss1:title"))
    categories = [subject.group(1)] if subject else []
    return dedupe(_rss_item(item, categories) for item in root.iterfind("rss1:item", NS))


def clean_jats(text: str) -> str:
    """Abstract text without bioRxiv's JATS markers: `{rho}` becomes "ρ", "ResultsThe" "Results: The"."""
    text = _GLUED_HEADING_RE.sub(r"\1\2: ", text)
    text = _INLINE_MARKER_RE.sub("", _BLOCK_MARKER_RE.sub(" ", text))
    return _SYMBOL_RE.sub(_symbol, text)


def _symbol(match: re.Match[str]) -> str:
    name = match.group(1)
    if name.lower() in _SYMBOLS:
        return _SYMBOLS[name.lower()]
    case = "CAPITAL" if name[0].isupper() else "SMALL"
    for unicode_name in (f"GREEK {case} LETTER {name.upper()}", name.upper()):
        try:
            return unicodedata.lookup(unicode_name)
        except KeyError:
            continue
    return ""  # an unknown placeholder carries no text worth keeping


def _rss_item(item: ET.Element, categories: list[str]) -> Listing | None:
    abs_url = text_of(item, "rss1:link").strip().split("?", 1)[0]
    doi = normalise_doi(text_of(item, "dc:identifier"))
    version = _VERSION_RE.search(abs_url)
    # Only the current "/content/<doi>vN" pages have a ".full.pdf" beside them.
    has_pdf = bool(doi and version and f"/content/{doi}" in abs_url.lower())
    return make_listing(
        source=SOURCE,
        title=text_of(item, "rss1:title") or text_of(item, "dc:title"),
        abstract=clean_jats(text_of(item, "rss1:description")),
        authors=_split_initials(text_of(item, "dc:creator")),
        categories=categories,
        doi=doi,
        source_id=f"{doi}v{version.group(1)}" if doi and version else doi or abs_url or None,
        abs_url=abs_url,
        pdf_url=f"{abs_url}.full.pdf" if has_pdf else None,
        published=parse_datetime(text_of(item, "dc:date") or text_of(item, "prism:publicationDate")),
    )


def _parse_details(value: Any) -> Listings:
    if not isinstance(value, dict) or not isinstance(value.get("collection"), list):
        messages = value.get("messages") if isinstance(value, dict) else None
        raise FeedFormatError(f"the bioRxiv API returned no `collection` (messages: {messages!r})")
    return dedupe(_record(record) if isinstance(record, dict) else None for record in value["collection"])


def _record(record: dict[str, Any]) -> Listing | None:
    doi = normalise_doi(str_field(record, "doi"))
    server = str_field(record, "server").lower() or "biorxiv"
    version = str_field(record, "version")
    abs_url = f"https://www.{server}.org/content/{doi}v{version}" if doi and version.isdigit() else None
    return make_listing(
        source=SOURCE,
        title=str_field(record, "title"),
        abstract=clean_jats(str_field(record, "abstract")),
        authors=str_field(record, "authors").split(";"),
        categories=[str_field(record, "category")],
        doi=doi,
        source_id=f"{doi}v{version}" if abs_url else doi,
        abs_url=abs_url,
        pdf_url=f"{abs_url}.full.pdf" if abs_url else None,
        published=parse_datetime(str_field(record, "date")),
    )


def _split_initials(text: str) -> list[str]:
    # "Hou, N., Wu, Z., O'Connell, R. J." -- commas also sit between surname and initials.
    return [name.strip() for name in re.split(r"(?<=\.),\s*", " ".join(text.split())) if name.strip()]
