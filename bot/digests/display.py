"""Short human strings for a digest item, shared by the email and Slack renderers.

>>> format_authors(("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov"))
'Ada Lovelace, Alan Turing, Grace Hopper and 2 others'
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.records import DigestEntry, DigestView, ListingView, Recommendation

__all__ = [
    "format_authors",
    "snippet",
    "source_label",
    "paper_url",
    "format_day",
    "format_range",
    "header_range",
    "subject",
    "top_labels",
    "entry_date",
    "moved_note",
]

SOURCE_NAMES = {
    "arxiv_rss": "arXiv",
    "arxiv_api": "arXiv",
    "hf_daily": "Hugging Face papers",
    "biorxiv": "bioRxiv",
    "medrxiv": "medRxiv",
    "pubmed": "PubMed",
    "s2": "Semantic Scholar",
}
_SPACE = re.compile(r"\s+")


def format_authors(authors: Sequence[str], *, shown: int = 3) -> str:
    """All names up to shown+1, else the first `shown` and how many others."""
    names = [name for name in authors if name.strip()]
    if len(names) > shown + 1:
        return f"{', '.join(names[:shown])} and {len(names) - shown} others"
    if len(names) > 1:
        return f"{', '.join(names[:-1])} and {names[-1]}"
    return names[0] if names else ""


def snippet(text: str, *, limit: int = 300) -> str:
    """The start of an abstract, cut at a word boundary, never inside a $...$ LaTeX span."""
    head = _SPACE.sub(" ", text[: limit * 2]).strip()  # only the start is shown; skip the rest
    if len(head) <= limit and len(text) <= limit * 2:
        return head
    text = head
    cut = text[:limit].rsplit(" ", 1)[0]
    if cut.count("$") % 2:  # an unclosed math span would render as garbage: stop before it
        cut = cut[: cut.rfind("$")].rstrip()
    return cut.rstrip(" ,;:.-") + " …"


def source_label(listing: ListingView) -> str:
    """Where the paper comes from and its first categories, e.g. "arXiv · cs.LG, stat.ML"."""
    names = [SOURCE_NAMES[s] for s in listing.sources if s in SOURCE_NAMES]
    if not names and listing.arxiv_id:
        names = ["arXiv"]
    if not names and listing.abs_url:
        names = [urlsplit(listing.abs_url).hostname or ""]
    parts = [", ".join(dict.fromkeys(n for n in names if n)), ", ".join(listing.categories[:2])]
    return " · ".join(part for part in parts if part)


def paper_url(listing: ListingView) -> str | None:
    """The abstract page: the source's page, else the DOI, else the PDF."""
    if listing.abs_url:
        return listing.abs_url
    if listing.doi:
        return f"https://doi.org/{listing.doi}"
    return listing.pdf_url


def format_day(when: datetime, timezone: str) -> str:
    """`23 Nov 2026` in the subscriber's time zone."""
    local = when.astimezone(ZoneInfo(timezone))
    return f"{local.day} {local:%b %Y}"


def format_range(start: datetime, end: datetime, timezone: str) -> str:
    """The digest window as dates: `Sun 22 – Mon 23 Nov 2026`, `28 Nov – 5 Dec 2026`."""
    zone = ZoneInfo(timezone)
    first, last = start.astimezone(zone), end.astimezone(zone)
    if first.date() == last.date():
        return f"{last:%a} {last.day} {last:%b %Y}"
    head = f"{first:%a} {first.day}"
    if (first.year, first.month) != (last.year, last.month):
        head += f" {first:%b}" + (f" {first.year}" if first.year != last.year else "")
    return f"{head} – {last:%a} {last.day} {last:%b %Y}"


def header_range(view: DigestView, timezone: str) -> str:
    """What the digest's header says it covers: its window, or, when the papers shown were published
    well before it (a back catalogue, like the demo's bundled sample), their publication dates; a
    window of today over papers from last year would describe nothing the reader sees."""
    published = [e.listing.published for e in view.entries if e.listing.published]
    if published and min(published) < view.period_start - timedelta(days=2):
        return "Papers published " + format_range(min(published), max(published), timezone)
    return format_range(view.period_start, view.period_end, timezone)


def top_labels(view: DigestView, *, limit: int = 3) -> list[str]:
    """Interest labels by how many items they brought, else the subscriber's interests."""
    counts = Counter(e.interest_label for e in view.entries if e.interest_label)
    labels = [label for label, _ in counts.most_common(limit)]
    return labels or list(view.interests[:limit])


def subject(view: DigestView, *, weekly: bool = False, limit: int = 90) -> str:
    """A subject that says something: "5 new papers: graph neural networks, protein design"."""
    if not view.entries:
        return f"No new papers above your bar {'this week' if weekly else 'today'}"
    count = len(view.entries)
    head = f"{count} new paper{'s' if count != 1 else ''}"
    labels = top_labels(view)
    text = f"{head}: {', '.join(labels)}" if labels else f"{head} for you"
    return text if len(text) <= limit else text[: limit - 1].rstrip(" ,") + "…"


def entry_date(entry: DigestEntry) -> datetime:
    return entry.listing.published or entry.listing.first_seen


def moved_note(items: Sequence[Recommendation], position: int) -> str | None:
    """Why the paper at `position` (1-based) is shown below a lower score, in words; None if it is not."""
    item = items[position - 1]
    if item.moved is None:
        return None
    move = item.moved
    head = f"#{position} ({item.score:.3f}) comes after #{move.below} ({items[move.below - 1].score:.3f})"
    if move.cause == "diversity":
        return (
            f"{head} for variety: it is close to #{move.near} (cosine {move.cosine:.2f}), "
            "and a paper close to one already picked gives up part of its score"
        )
    label = items[move.below - 1].interest_label
    interest = f'"{label}"' if label else "another interest"
    return f"{head}: #{move.below} fills a slot kept for {interest}, so that each interest gets papers"
