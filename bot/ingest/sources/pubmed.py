"""PubMed E-utilities: efetch XML (`<PubmedArticleSet>`) holds the papers.

Structured abstracts are joined as "Background: ... Results: ..."; the DOI comes from the article's
own ArticleIdList (not its references) or its ELocationID. An esearch response (JSON or XML)
carries only PMIDs, so parsing one raises FeedFormatError with the efetch URL that returns the
papers; an efetch `<ERROR>` raises with NCBI's text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from bot.errors import FeedFormatError
from bot.ingest.sources._common import Listings, dedupe, load_json, make_listing
from bot.ingest.sources._xml import local_name, parse_xml
from bot.ingest.sources.listing import Listing
from bot.ingest.sources.sniff import Sample

__all__ = ["parse", "claims", "EFETCH_URL"]

SOURCE = "pubmed"
EFETCH_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/efetch.fcgi?db=pubmed&retmode=xml&id="
_ROOTS = {"PubmedArticleSet", "eSearchResult", "eFetchResult"}
_MONTHS = {
    name: number
    for number, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1
    )
}


def claims(sample: Sample) -> bool:
    """efetch/esearch XML by root element, or esearch JSON (`esearchresult`)."""
    if sample.kind == "json":
        return isinstance(sample.value, dict) and "esearchresult" in sample.value
    return sample.root in _ROOTS


def parse(data: bytes) -> Listings:
    """Listings from efetch XML; FeedFormatError for esearch results and NCBI errors."""
    if data.lstrip()[:1] == b"{":
        value = load_json(data)
        result = value.get("esearchresult") if isinstance(value, dict) else None
        if not isinstance(result, dict):
            raise FeedFormatError("expected PubMed esearch JSON with an `esearchresult` object")
        raise FeedFormatError(_ids_only(result.get("idlist") or [], result.get("ERROR")))
    root = parse_xml(data)
    kind = local_name(root.tag)
    if kind == "eSearchResult":
        ids = [element.text or "" for element in root.iterfind("IdList/Id")]
        raise FeedFormatError(_ids_only(ids, root.findtext("ERROR")))
    if kind == "eFetchResult" or root.find("ERROR") is not None:
        raise FeedFormatError(f"PubMed efetch reported an error: {root.findtext('ERROR') or 'no details'}")
    if kind != "PubmedArticleSet":
        raise FeedFormatError(f"expected a PubMed efetch <PubmedArticleSet>, found <{kind}>")
    return dedupe(_article(article) for article in root.iterfind("PubmedArticle"))


def _ids_only(ids: list[Any], error: Any) -> str:
    if error:
        return f"PubMed esearch reported an error: {error}"
    if not ids:
        return "PubMed esearch found no papers (and esearch results carry only ids anyway; use efetch)"
    return (
        f"PubMed esearch results carry only ids ({len(ids)} here); fetch the papers with efetch: "
        f"{EFETCH_URL}{','.join(str(pmid) for pmid in ids)}"
    )


def _article(article: ET.Element) -> Listing | None:
    citation = article.find("MedlineCitation")
    if citation is None:
        return None
    pmid = citation.findtext("PMID", "").strip()
    return make_listing(
        source=SOURCE,
        title=_text(citation.find("Article/ArticleTitle")),
        abstract=_abstract(citation),
        authors=[_author(a) for a in citation.iterfind("Article/AuthorList/Author")],
        categories=[_text(d) for d in citation.iterfind("MeshHeadingList/MeshHeading/DescriptorName")]
        or [_text(k) for k in citation.iterfind("KeywordList/Keyword")],
        doi=_doi(article),
        source_id=pmid or None,
        abs_url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/" if pmid.isdigit() else None,
        published=_date(citation.find("Article/ArticleDate"))
        or _date(citation.find("Article/Journal/JournalIssue/PubDate")),
    )


def _abstract(citation: ET.Element) -> str:
    parts = []
    for section in citation.iterfind("Article/Abstract/AbstractText"):
        label = (section.get("Label") or "").strip().capitalize()
        text = _text(section)
        parts.append(f"{label}: {text}" if label and text else text)
    return " ".join(part for part in parts if part)


def _author(author: ET.Element) -> str:
    collective = _text(author.find("CollectiveName"))
    given = author.findtext("ForeName") or author.findtext("Initials") or ""
    return collective or f"{given} {author.findtext('LastName') or ''}".strip()


def _doi(article: ET.Element) -> str | None:
    for path in (
        "PubmedData/ArticleIdList/ArticleId[@IdType='doi']",
        "MedlineCitation/Article/ELocationID[@EIdType='doi']",
    ):
        found = article.find(path)
        if found is not None and found.text:
            return found.text
    return None


def _date(element: ET.Element | None) -> datetime | None:
    if element is None:
        return None
    year = element.findtext("Year") or (element.findtext("MedlineDate") or "")[:4]
    month_text = (element.findtext("Month") or "1").strip()
    month = int(month_text) if month_text.isdigit() else _MONTHS.get(month_text[:3].lower(), 1)
    day = element.findtext("Day") or "1"
    try:
        return datetime(int(year), month, int(day), tzinfo=UTC)
    except ValueError:
        return None


def _text(element: ET.Element | None) -> str:
    return "".join(element.itertext()) if element is not None else ""
