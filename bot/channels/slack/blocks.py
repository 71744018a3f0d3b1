"""Block Kit rendering of a digest: one or more Slack messages, each under Slack's size limits.

Two layouts share the per-paper blocks:
- inline (DMs): header, then per paper a section and a row of 👍 / 👎 / 🔖 buttons, then the interests;
  split into several messages before 50 blocks or ~12k characters of block text.
- thread (channels): a parent message with the numbered titles, then one message per paper, posted as
  thread replies, so a reaction on a reply names exactly one paper and the channel stays quiet.

Feed text is escaped for mrkdwn (a title like `<!channel>` is shown, never pings) and only http(s)
links are linked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.digests.display import format_authors, paper_url, snippet, source_label, subject
from bot.records import DigestEntry, DigestView
from bot.vocab import VOTE_LABELS

__all__ = [
    "MAX_BLOCKS",
    "MAX_TEXT",
    "SlackMessage",
    "render_digest",
    "escape",
    "link",
    "text_length",
    "vote_action_id",
    "mark_vote",
]

MAX_BLOCKS = 50
MAX_TEXT = 11_000  # Slack refuses ~12-13k characters of block text (msg_blocks_too_long); keep a margin
SECTION_LIMIT = 3000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class SlackMessage:
    """One chat.postMessage: a plain-text fallback, the blocks, and the digest items it shows."""

    text: str
    blocks: tuple[Block, ...]
    item_ids: tuple[int, ...]

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": [block.to_dict() for block in self.blocks]}


def escape(text: str) -> str:
    """Text safe inside mrkdwn: no `<!channel>`, `<@U…>` or link syntax survives; control chars go."""
    text = _CONTROL.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(escaped: str, limit: int) -> str:
    """Cut escaped text to `limit` characters without splitting an `&amp;`-style entity."""
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def link(url: str | None, label: str, *, limit: int = 300) -> str:
    """`<url|label>` for an http(s) URL; other schemes (javascript:, slack:) give the bare label.
    The label is clipped to `limit`; the markup itself is never cut."""
    label = _clip(escape(label).replace("|", "¦"), limit)  # a | in the label would end the URL part
    if not url or urlsplit(url).scheme.lower() not in ("http", "https"):
        return label
    target = url.replace("&", "&amp;")
    if len(target) > 500 or _CONTROL.search(url) or any(char in url for char in "<>| \n"):
        return label
    return f"<{target}|{label}>"


def vote_action_id(vote: str) -> str:
    return f"vote:{vote}"


def _paper_text(entry: DigestEntry, number: int) -> str:
    listing = entry.listing
    title = link(paper_url(listing), listing.title.strip() or "(untitled)")
    lines = [f"*{number}. {title}*"]
    byline = " · ".join(part for part in (format_authors(listing.authors), source_label(listing)) if part)
    if byline:
        lines.append(_clip(escape(byline), 400))
    if entry.reason:
        lines.append(f"_{_clip(escape(entry.reason), 400)}_")
    if listing.abstract.strip():
        lines.append("> " + _clip(escape(snippet(listing.abstract)), 1200))
    return "\n".join(lines)  # at most ~2,800 characters: every part above is clipped


def _paper_blocks(entry: DigestEntry, number: int) -> list[Block]:
    buttons = [
        ButtonElement(text=label, action_id=vote_action_id(vote), value=str(entry.item_id))
        for vote, label in VOTE_LABELS.items()
    ]
    return [
        SectionBlock(
            block_id=f"paper:{entry.item_id}", text=MarkdownTextObject(text=_paper_text(entry, number))
        ),
        ActionsBlock(block_id=f"item:{entry.item_id}", elements=buttons),
    ]


def _subject(view: DigestView) -> str:
    return subject(view, weekly="-W" in view.period)  # weekly periods are ISO weeks, "2026-W48"


def _head(view: DigestView) -> list[Block]:
    return [HeaderBlock(text=PlainTextObject(text=_CONTROL.sub("", _subject(view))[:150]))]


def _interests(view: DigestView) -> Block:
    labels = " · ".join(escape(label) for label in view.interests) or "none yet"
    note = "Votes teach this channel's shared profile." if not view.target.startswith(("U", "W")) else ""
    return ContextBlock(elements=[MarkdownTextObject(text=_clip(f"Interests: {labels}. {note}", 2000))])


def text_length(blocks: Iterable[Block | dict[str, Any]]) -> int:
    """Characters of text in blocks, as Slack counts toward msg_blocks_too_long."""

    def walk(value: Any) -> int:
        if isinstance(value, dict):
            own = len(value["text"]) if isinstance(value.get("text"), str) else 0
            return own + sum(walk(v) for k, v in value.items() if k != "text" or not isinstance(v, str))
        if isinstance(value, list):
            return sum(walk(v) for v in value)
        return 0

    return sum(walk(b.to_dict() if isinstance(b, Block) else b) for b in blocks)


def _pack(
    view: DigestView, head: list[Block], units: Sequence[tuple[list[Block], int | None]]
) -> list[SlackMessage]:
    """Fill messages with whole units (a paper's blocks stay together) under both limits."""
    fallback = escape(_subject(view))
    tail = [_interests(view)]
    pages: list[tuple[list[Block], list[int]]] = [(list(head), [])]
    for blocks, item_id in units:
        current, ids = pages[-1]
        if len(current) + len(blocks) + len(tail) > MAX_BLOCKS or (
            text_length(current + blocks + tail) > MAX_TEXT
        ):
            pages.append(([], []))
            current, ids = pages[-1]
        current.extend(blocks)
        ids.extend([item_id] if item_id is not None else [])
    pages[-1][0].extend(tail)
    total = len(pages)
    return [
        SlackMessage(
            text=fallback if total == 1 else f"{fallback} ({n}/{total})",
            blocks=tuple(blocks),
            item_ids=tuple(ids),
        )
        for n, (blocks, ids) in enumerate(pages, start=1)
    ]


def _title_lines(view: DigestView) -> list[tuple[list[Block], int | None]]:
    """The thread parent's numbered list, one section per ~2,900 characters."""
    sections: list[list[str]] = [[]]
    for number, entry in enumerate(view.entries, start=1):
        line = f"{number}. " + link(
            paper_url(entry.listing), entry.listing.title.strip() or "(untitled)", limit=150
        )
        if sum(len(x) + 1 for x in sections[-1]) + len(line) > SECTION_LIMIT - 100:
            sections.append([])
        sections[-1].append(line)
    return [
        ([SectionBlock(text=MarkdownTextObject(text="\n".join(lines)))], None) for lines in sections if lines
    ]


def render_digest(view: DigestView, *, threaded: bool = False) -> list[SlackMessage]:
    """The messages for a digest, in posting order. With `threaded`, the first message is the parent
    (titles only) and each further message holds exactly one paper (to be posted in its thread)."""
    if not view.entries:
        return _pack(view, _head(view), [])
    numbered = list(enumerate(view.entries, start=1))
    if not threaded:
        return _pack(view, _head(view), [(_paper_blocks(e, n), e.item_id) for n, e in numbered])
    parent = _pack(view, _head(view), _title_lines(view))
    papers = [
        SlackMessage(
            text=escape(f"{n}. {e.listing.title}")[:300],
            blocks=tuple(_paper_blocks(e, n)),
            item_ids=(e.item_id,),
        )
        for n, e in numbered
    ]
    return parent + papers


def mark_vote(blocks: list[dict[str, Any]], item_id: int, vote: str | None) -> list[dict[str, Any]]:
    """The message's blocks (as Slack returned them) with `vote` highlighted on the item's buttons."""
    marked = []
    for block in blocks:
        if block.get("block_id") == f"item:{item_id}":
            block = {**block, "elements": [_marked(button, vote) for button in block.get("elements", [])]}
        marked.append(block)
    return marked


def _marked(button: dict[str, Any], vote: str | None) -> dict[str, Any]:
    own = button.get("action_id", "").removeprefix("vote:")
    if own not in VOTE_LABELS:
        return button
    chosen = own == vote
    button = {key: value for key, value in button.items() if key != "style"}
    text = VOTE_LABELS[own] + (" ✓" if chosen else "")
    return {
        **button,
        "text": {"type": "plain_text", "text": text, "emoji": True},
        **({"style": "primary"} if chosen else {}),
    }
