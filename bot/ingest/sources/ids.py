"""Identifiers and text clean-up shared by every feed adapter. Pure functions, no I/O.

A paper reaches paperbot through many feeds; these helpers give every copy the same key:

    >>> parse_arxiv_id("https://arxiv.org/abs/2404.12345v3")
    ('2404.12345', 3)
    >>> canonical_id(arxiv_id="2404.12345v3", doi=None, title="Anything")
    'arxiv:2404.12345'
    >>> canonical_id(arxiv_id=None, doi="https://doi.org/10.48550/arXiv.2404.12345", title="")
    'arxiv:2404.12345'
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from urllib.parse import unquote

__all__ = ["parse_arxiv_id", "normalise_doi", "title_key", "canonical_id", "paper_keys", "clean_text"]

# New-style ids (0704.0001 onwards) and old-style "archive[.SUBJ]/YYMMNNN" ids.
_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z]+(?:-[a-z]+)*(?:\.[a-z]{2})?/\d{7}"
_ARXIV_PREFIX = (
    r"(?:arxiv:|oai:arxiv\.org:"
    r"|(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/"
    r"|(?:https?://(?:dx\.)?doi\.org/|doi:)?10\.48550/arxiv\.)?"
)
_ARXIV_RE = re.compile(
    rf"{_ARXIV_PREFIX}(?P<id>{_NEW_ID}|{_OLD_ID})(?:v(?P<version>\d+))?(?:\.pdf)?/?",
    re.IGNORECASE,
)
_DOI_PREFIX_RE = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*|info:doi/)", re.IGNORECASE)
_DOI_RE = re.compile(r"10\.\d{4,9}/\S+")

_BLOCK_TAGS = "p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|section|title|dt|dd"
# Only real HTML / MathML element names count as tags, so "for n <k and m> 0" in an abstract survives.
_INLINE_TAGS = (
    "a|abbr|b|big|body|caption|center|cite|code|col|colgroup|del|dfn|dl|em|figcaption|figure|font|head|hr"
    "|html|i|img|ins|kbd|label|mark|math|meta|nobr|pre|q|s|samp|small|span|strike|strong|sub|sup|tbody"
    "|tfoot|thead|tt|u|var|wbr|m[a-z]+|semantics|annotation(?:-xml)?"
)
_ATTRS = r"(?:\s[^<>]*)?/?>"
_BLOCK_TAG_RE = re.compile(rf"</?(?:[\w-]+:)?(?:{_BLOCK_TAGS}){_ATTRS}", re.IGNORECASE)
_TAG_RE = re.compile(
    rf"<!--.*?-->|<(?:script|style)\b.*?</(?:script|style)>|</?(?:{_INLINE_TAGS}){_ATTRS}|</?[\w-]+:[\w.-]+{_ATTRS}",
    re.IGNORECASE | re.DOTALL,
)


def parse_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """The arXiv id (without version) and the version, or None if `text` is not an arXiv reference.

    Accepts bare ids ("2404.12345v2", "hep-ex/0501001v1"), "arXiv:" and "oai:arXiv.org:" prefixes,
    abs/pdf/html URLs and the arXiv DOI "10.48550/arXiv.2404.12345". Old-style subject classes
    ("math.GT/0309136") are dropped, as arXiv itself does: the id is "math/0309136".
    """
    match = _ARXIV_RE.fullmatch(text.strip())
    if match is None:
        return None
    arxiv_id = match["id"]
    if "/" in arxiv_id:
        archive, number = arxiv_id.split("/")
        arxiv_id = f"{archive.split('.')[0].lower()}/{number}"
    version = int(match["version"]) if match["version"] else None
    return arxiv_id, version


def normalise_doi(text: str) -> str | None:
    """A DOI in lower case without "https://doi.org/" or "doi:", or None if `text` is not a DOI."""
    candidate = unquote(_DOI_PREFIX_RE.sub("", text.strip()))
    if not _DOI_RE.fullmatch(candidate):
        return None
    return candidate.lower()


def title_key(title: str) -> str:
    """A short hash of the title that ignores case, accents, punctuation, markup and spacing."""
    decomposed = unicodedata.normalize("NFKD", clean_text(title).casefold())
    letters = "".join(ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch))
    return hashlib.sha1(" ".join(letters.split()).encode()).hexdigest()[:16]


def canonical_id(*, arxiv_id: str | None = None, doi: str | None = None, title: str | None = None) -> str:
    """The key one paper gets in every source: "arxiv:<id>", else "doi:<doi>", else "title:<hash>".

    An arXiv DOI (10.48550/arXiv.<id>) counts as arXiv. Raises ValueError when there is nothing.
    """
    for candidate in (arxiv_id, doi):
        parsed = parse_arxiv_id(candidate) if candidate else None
        if parsed is not None:
            return f"arxiv:{parsed[0]}"
    normalised = normalise_doi(doi) if doi else None
    if normalised is not None:
        return f"doi:{normalised}"
    if title and clean_text(title):
        return f"title:{title_key(title)}"
    raise ValueError("a paper needs an arXiv id, a DOI or a title to be identified")


def paper_keys(*, arxiv_id: str | None = None, doi: str | None = None, title: str | None = None) -> set[str]:
    """Every key one copy of a paper can be recognised by: "arxiv:<id>", "doi:<doi>", "title:<hash>".

    Two copies are the same paper when they share any key, so a journal version (DOI) and its preprint
    (arXiv id) with the same title match, unlike with `canonical_id`, which keeps only the first.

    >>> sorted(paper_keys(arxiv_id="2404.12345v2", doi="10.1000/XYZ", title="A Title"))
    ['arxiv:2404.12345', 'doi:10.1000/xyz', 'title:46a939301ca2b16d']
    """
    keys = set()
    for candidate in (arxiv_id, doi):
        parsed = parse_arxiv_id(candidate) if candidate else None
        if parsed is not None:
            keys.add(f"arxiv:{parsed[0]}")
    normalised = normalise_doi(doi) if doi else None
    if normalised is not None:
        keys.add(f"doi:{normalised}")
    if title and clean_text(title):
        keys.add(f"title:{title_key(title)}")
    return keys


def clean_text(html_or_text: str) -> str:
    """Plain text from HTML or text: tags dropped, entities decoded, whitespace collapsed.

    LaTeX is kept as written ("$x^2$"); only HTML/MathML element names count as tags, and entities
    are decoded after the tags are gone, so an escaped "&lt;" in an abstract survives as "<".
    """
    text = html_or_text
    if "<" in text:
        text = _TAG_RE.sub("", _BLOCK_TAG_RE.sub(" ", text))
    if "&" in text:
        text = html.unescape(text)
    return " ".join(text.split())
