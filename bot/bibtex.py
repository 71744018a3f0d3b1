"""BibTeX in and out: seed papers from an export (Zotero, Mendeley, JabRef; broken entries are skipped
with a warning), and the reading list as entries Zotero imports."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bibtexparser.entrypoint import parse_string

from bot.errors import InvalidInput
from bot.ingest.sources.ids import clean_text, normalise_doi, parse_arxiv_id
from bot.records import ListingView

__all__ = ["BibEntry", "BibImport", "format_bibtex", "parse_bibtex"]

_BRACES = re.compile(r"[{}]")


@dataclass(frozen=True)
class BibEntry:
    key: str
    title: str
    abstract: str = ""
    doi: str | None = None
    arxiv_id: str | None = None


@dataclass(frozen=True)
class BibImport:
    entries: tuple[BibEntry, ...]
    warnings: tuple[str, ...]


def _field(fields: dict[str, str], *names: str) -> str:
    for name in names:
        for key, value in fields.items():
            if key.lower() == name and value.strip():
                return clean_text(_BRACES.sub("", value))
    return ""


def _arxiv(fields: dict[str, str]) -> str | None:
    for candidate in (_field(fields, "eprint"), _field(fields, "arxivid"), _field(fields, "url")):
        if candidate and (found := parse_arxiv_id(candidate)):
            return found[0]
    return None


def parse_bibtex(data: bytes) -> BibImport:
    """Entries with a title; everything else becomes a warning naming the entry and line."""
    text = data.decode("utf-8", errors="replace")
    if "@" not in text:
        raise InvalidInput("that file has no BibTeX entries (expected @article{...} blocks)")
    # bibtexparser logs every failed block itself; we report them as warnings instead.
    logging.getLogger("bibtexparser").setLevel(logging.ERROR)
    library = parse_string(text)
    warnings = [
        f"skipped the unparseable entry starting on line {(block.start_line or 0) + 1}"
        for block in library.failed_blocks
    ]
    entries = []
    for entry in library.entries:
        fields = {key: str(field.value) for key, field in entry.fields_dict.items()}
        title = _field(fields, "title")
        if not title:
            warnings.append(f"skipped entry {entry.key!r}: it has no title")
            continue
        entries.append(
            BibEntry(
                key=entry.key,
                title=title,
                abstract=_field(fields, "abstract"),
                doi=normalise_doi(_field(fields, "doi")) if _field(fields, "doi") else None,
                arxiv_id=_arxiv(fields),
            )
        )
    return BibImport(entries=tuple(entries), warnings=tuple(warnings))


# Characters that end or break a braced BibTeX value; titles keep their words, lose these.
_UNSAFE = re.compile(r"[{}\\]")


def _escape(value: str) -> str:
    return _UNSAFE.sub("", clean_text(value))


def _key(listing: ListingView, taken: set[str]) -> str:
    """A citation key like `vaswani2017attention`, unique within one export."""
    surname = re.sub(r"[^a-z]", "", (listing.authors[0].split()[-1] if listing.authors else "anon").lower())
    year = str(listing.published.year) if listing.published else ""
    word = next((w for w in re.findall(r"[a-z]+", listing.title.lower()) if len(w) > 3), "paper")
    key, n = f"{surname or 'anon'}{year}{word}", 1
    while key in taken:
        n += 1
        key = f"{surname or 'anon'}{year}{word}{n}"
    taken.add(key)
    return key


def format_bibtex(listings: Sequence[ListingView]) -> str:
    """One entry per paper: @article when it has a DOI, else @misc with the arXiv eprint fields."""
    taken: set[str] = set()
    entries = []
    for listing in listings:
        fields = [("title", "{" + _escape(listing.title) + "}")]
        if listing.authors:
            fields.append(("author", " and ".join(_escape(a) for a in listing.authors)))
        if listing.published:
            fields.append(("year", str(listing.published.year)))
        if listing.doi:
            fields.append(("doi", _escape(listing.doi)))
        if listing.arxiv_id:
            fields += [("eprint", listing.arxiv_id), ("archiveprefix", "arXiv")]
            if listing.categories:
                fields.append(("primaryclass", _escape(listing.categories[0])))
        if listing.abs_url:
            fields.append(("url", _escape(listing.abs_url)))
        kind = "article" if listing.doi else "misc"
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        entries.append(f"@{kind}{{{_key(listing, taken)},\n{body}\n}}\n")
    return "\n".join(entries)
