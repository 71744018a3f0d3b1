"""Source shortcuts a user can type instead of a feed URL.

    arxiv:cs.LG              https://rss.arxiv.org/rss/cs.LG
    arxiv:cs.LG+stat.ML      https://rss.arxiv.org/rss/cs.LG+stat.ML
    biorxiv:bioinformatics   https://connect.biorxiv.org/biorxiv_xml.php?subject=bioinformatics
    medrxiv:epidemiology     https://connect.medrxiv.org/medrxiv_xml.php?subject=epidemiology
    hf:daily                 https://huggingface.co/api/daily_papers

http(s):// and file:// URLs and file paths pass through unchanged.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from bot.errors import InvalidInput

__all__ = ["resolve_source", "ACCEPTED_FORMS"]

ACCEPTED_FORMS = (
    "arxiv:<category>[+<category>...] (e.g. arxiv:cs.LG+stat.ML), biorxiv:<subject>, medrxiv:<subject>, "
    "hf:daily, an http(s):// or file:// URL, or a path to a feed file"
)
_ARXIV_CATEGORY = r"[a-z][a-z-]*(?:\.[A-Za-z][A-Za-z-]*)?"
_ARXIV_CATEGORIES_RE = re.compile(rf"{_ARXIV_CATEGORY}(?:\+{_ARXIV_CATEGORY})*")
_SUBJECT_RE = re.compile(r"[A-Za-z][A-Za-z_ -]*")
_RXIV_URLS = {
    "biorxiv": "https://connect.biorxiv.org/biorxiv_xml.php?subject=",
    "medrxiv": "https://connect.medrxiv.org/medrxiv_xml.php?subject=",
}
_HF = {"daily": "https://huggingface.co/api/daily_papers"}
_FEED_SUFFIXES = (".xml", ".rss", ".atom", ".rdf", ".json")


def resolve_source(spec: str) -> str:
    """The URL or path for `spec`; InvalidInput naming the accepted forms when it is none of them."""
    text = spec.strip()
    prefix, _, rest = text.partition(":")
    prefix = prefix.lower()
    if prefix in ("http", "https", "file") and rest.startswith("//"):
        return text
    if prefix == "arxiv":
        if not _ARXIV_CATEGORIES_RE.fullmatch(rest):
            raise InvalidInput(
                f"{spec!r} is not a valid arXiv category list; use e.g. arxiv:cs.LG or arxiv:cs.LG+stat.ML"
            )
        return f"https://rss.arxiv.org/rss/{rest}"
    if prefix in _RXIV_URLS:
        if not _SUBJECT_RE.fullmatch(rest):
            raise InvalidInput(
                f"{spec!r} needs a subject, e.g. {prefix}:bioinformatics or {prefix}:cancer_biology"
            )
        return _RXIV_URLS[prefix] + quote(rest.strip().replace(" ", "_"))
    if prefix == "hf":
        if rest not in _HF:
            raise InvalidInput(f"{spec!r} is not a Hugging Face source; the one available is hf:daily")
        return _HF[rest]
    if _looks_like_path(text):
        return text
    hint = f" (did you mean arxiv:{text}?)" if _ARXIV_CATEGORIES_RE.fullmatch(text) else ""
    raise InvalidInput(f"{spec!r} is not a source paperbot knows{hint}; use {ACCEPTED_FORMS}")


def _looks_like_path(text: str) -> bool:
    if not text or (":" in text and not re.match(r"[A-Za-z]:[\\/]", text)):
        return False  # "foo:bar" is an unknown shortcut, "C:\\feeds\\x.xml" is a Windows path
    return (
        text.startswith(("/", ".", "~"))
        or "/" in text
        or "\\" in text
        or text.lower().endswith(_FEED_SUFFIXES)
    )
