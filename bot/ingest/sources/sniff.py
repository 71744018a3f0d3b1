"""A first look at downloaded bytes: XML or JSON, which root element, which markers.

Every feed family decides from a `Sample` whether the content is its own (`claims(sample)`), so
detection works on the content; the URL and Content-Type are only hints for ties. Content that is
no feed at all (empty, an HTML page, plain text) is rejected here with a message for the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from bot.errors import FeedFormatError
from bot.ingest.sources._common import load_json

__all__ = ["Sample", "sniff", "where"]

_HEAD_CHARS = 16_384
_PROLOG_RE = re.compile(
    r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>)", re.DOTALL | re.IGNORECASE
)
_ROOT_RE = re.compile(r"\s*<(?:[\w.-]+:)?([\w.-]+)")
_FIRST_ITEM_RE = re.compile(r"<(?:[\w.-]+:)?(?:item|entry)[\s>]")
_HTML_ROOTS = {"html", "head", "body"}
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Sample:
    """What detection looks at. `head` is the text before the first item/entry (channel header)."""

    kind: Literal["xml", "json"]
    root: str = ""
    head: str = ""
    value: Any = None
    url: str | None = None
    content_type: str | None = None

    def url_host_endswith(self, *domains: str) -> bool:
        """True when the URL hint's host is one of `domains` or a subdomain of one."""
        host = (urlsplit(self.url).hostname or "") if self.url else ""
        return any(host == d or host.endswith("." + d) for d in domains)


def where(url: str | None) -> str:
    """How messages name the content: its URL or path when known."""
    return url or "the content"


def sniff(data: bytes, *, url: str | None = None, content_type: str | None = None) -> Sample:
    """Classify `data` as XML or JSON; FeedFormatError if it is neither, empty, or an HTML page."""
    text = _sniff_text(data)
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise FeedFormatError(f"{where(url)} is empty ({len(data)} bytes), not a feed")
    if stripped[0] in "{[":
        try:
            value = load_json(data)
        except FeedFormatError as exc:
            raise FeedFormatError(f"{where(url)}: {exc.message}") from exc
        return Sample(kind="json", value=value, url=url, content_type=content_type)
    if stripped[0] != "<":
        served = f", served as {content_type}" if content_type else ""
        raise FeedFormatError(
            f"{where(url)} is neither XML nor JSON (first line: {_first_line(stripped)!r}{served}); "
            "it is not a feed"
        )
    root = _root_name(stripped)
    if root.lower() in _HTML_ROOTS:
        raise FeedFormatError(_html_message(url, stripped))
    head = _FIRST_ITEM_RE.split(stripped, maxsplit=1)[0]
    return Sample(kind="xml", root=root, head=head, url=url, content_type=content_type)


def _sniff_text(data: bytes) -> str:
    # Markup is ASCII in every encoding feeds use, except UTF-16, which announces itself with a BOM.
    chunk = data[: _HEAD_CHARS * 2]
    if chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
        return chunk.decode("utf-16", errors="replace")
    return chunk.decode("utf-8", errors="replace")


def _root_name(text: str) -> str:
    position = 0
    while match := _PROLOG_RE.match(text, position):
        if match.group(0).lstrip().upper().startswith("<!DOCTYPE HTML"):
            return "html"
        position = match.end()
    root = _ROOT_RE.match(text, position)
    return root.group(1) if root else ""


def _first_line(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line[:100]


def _html_message(url: str | None, text: str) -> str:
    title = _TITLE_RE.search(text)
    page_title = f'title: "{" ".join(title.group(1).split())[:100]}", ' if title else ""
    return (
        f"{where(url)} returned an HTML page, not a feed ({page_title}first line: {_first_line(text)!r}); "
        "check that the address points at the RSS, Atom or JSON feed itself"
    )
