"""The normalised record every feed adapter produces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["Listing"]


@dataclass(frozen=True)
class Listing:
    """One paper as one source saw it. Text fields are clean text (no HTML), whitespace-collapsed."""

    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    arxiv_id: str | None = None  # without version, e.g. "2404.12345" or "hep-ex/0501001"
    version: int | None = None  # arXiv version number when known
    doi: str | None = None  # lower-cased, no "https://doi.org/" prefix
    source_id: str | None = None  # the id the source itself uses (PMID, S2 paperId, guid, ...)
    abs_url: str | None = None
    pdf_url: str | None = None
    published: datetime | None = None  # timezone-aware
    updated: datetime | None = None  # timezone-aware
    upvotes: int | None = None  # popularity where the source has it (HF daily papers)
    announce_type: str | None = None  # arXiv RSS: new / cross / replace / replace-cross
    source: str = ""  # family that produced it: arxiv_rss, arxiv_api, hf_daily, biorxiv, rss, s2, pubmed
