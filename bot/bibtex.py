"""Seed papers from a BibTeX export (Zotero, Mendeley, JabRef): broken entries are skipped with a warning."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bibtexparser.entrypoint import parse_string

from bot.errors import InvalidInput
from bot.ingest.sources.ids import clean_text, normalise_doi, parse_arxiv_id

__all__ = ["BibEntry", "BibImport", "parse_bibtex"]

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
