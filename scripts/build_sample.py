"""Build bot/data/sample.atom, the sample feed paperbot ships, from ../shared/data/seed-papers.json.

Run from the repository root whenever the seed file changes (the output is committed):

    .venv/bin/python scripts/build_sample.py [--seed PATH] [--out PATH]

The seed file lists 351 records of 321 distinct real papers (title + abstract; authors are only
counted there, not named, so entries carry no authors; nor do they carry a URL or id, so each entry
links to a search for its exact title). Records are de-duplicated by exact title,
first one kept, in file order. Each entry gets a stable tag URI built from the seed record's id and
a `published` date spread over the 14 days before FIXED_DATE, so the output is byte-for-byte the
same on every run. `bot.ingest.sources.parse` reads the result back (family "rss") into 321 listings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SEED = REPO.parent / "shared" / "data" / "seed-papers.json"
DEFAULT_OUT = REPO / "bot" / "data" / "sample.atom"
FIXED_DATE = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
SPREAD_DAYS = 14
ATOM = "http://www.w3.org/2005/Atom"
TAG = "tag:paperbot,2025-01-06:"
# The seed records carry no URL, DOI or arXiv id, so each entry links to a search for its exact
# title: one click from the digest to the paper (Semantic Scholar indexes arXiv, bioRxiv and journals).
SEARCH = "https://www.semanticscholar.org/search?q="


def search_url(title: str) -> str:
    return SEARCH + quote_plus(f'"{" ".join(title.split())}"')


def unique_papers(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first record of each exact title that has a title, in file order."""
    seen: dict[str, dict[str, Any]] = {}
    for record in records:
        title = (record.get("title") or "").strip()
        if title and title not in seen:
            seen[title] = record
    return list(seen.values())


def published_at(index: int, count: int) -> datetime:
    """Dates stepping back evenly from FIXED_DATE over SPREAD_DAYS, newest first, whole minutes."""
    step = timedelta(days=SPREAD_DAYS) / max(count, 1)
    return (FIXED_DATE - step * index).replace(second=0, microsecond=0)


def build_feed(papers: list[dict[str, Any]]) -> ET.ElementTree:
    """An Atom 1.0 document with one entry per paper."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _add(feed, "id", f"{TAG}sample")
    _add(feed, "title", "paperbot sample papers")
    _add(feed, "subtitle", "Real papers (titles and abstracts) bundled with paperbot for demos and tests")
    _add(feed, "updated", _stamp(FIXED_DATE))
    author = _add(feed, "author")
    _add(author, "name", "paperbot")
    _add(feed, "generator", "scripts/build_sample.py")
    for index, paper in enumerate(papers):
        entry = _add(feed, "entry")
        _add(entry, "id", f"{TAG}{paper['id']}")
        _add(entry, "title", paper["title"].strip(), type="text")
        _add(entry, "link", rel="alternate", type="text/html", href=search_url(paper["title"]))
        stamp = _stamp(published_at(index, len(papers)))
        _add(entry, "published", stamp)
        _add(entry, "updated", stamp)
        # The abstract goes in as text content (parsers read it as the summary).
        _add(entry, "content", (paper.get("abstract") or "").strip(), type="text")
    ET.indent(feed, space="  ")
    return ET.ElementTree(feed)


def write_atomic(tree: ET.ElementTree, out: Path) -> None:
    """Write beside the target and rename, so a reader never sees half a file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            tree.write(handle, encoding="utf-8", xml_declaration=True)
            handle.write(b"\n")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-s", "--seed", type=Path, default=DEFAULT_SEED, help="seed-papers.json to read")
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT, help="Atom file to write")
    args = parser.parse_args(argv)
    if not args.seed.is_file():
        print(f"Error: seed file {args.seed} not found; pass --seed PATH", file=sys.stderr)
        return 1
    records = json.loads(args.seed.read_text(encoding="utf-8"))
    papers = unique_papers(records)
    write_atomic(build_feed(papers), args.out)
    print(f"read {len(records)} records, wrote {len(papers)} unique papers to {args.out}")
    return 0


def _add(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}", attrs)
    element.text = text
    return element


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    sys.exit(main())
