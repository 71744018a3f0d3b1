"""A digest (and a sign-up's confirmation) as an email: multipart/alternative with a plain-text part
and an inlined-CSS HTML part.

Rendering only; `bot.digests.batch` sends. The HTML is a table layout at most 600 px wide, with its dark-mode
and small-screen rules kept in a <style> block (css-inline keeps at-rules; everything else is inlined).

The CSS is inlined into the template once per process, not into every message: the template's classes
are static and the values put in are escaped text, so the result is the same mail (a test holds the
two to the same document), and css-inline's HTML parse, which was most of a digest's 4 ms, goes.
"""

from __future__ import annotations

import re
import secrets
from base64 import encodebytes
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.quoprimime import body_encode
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from functools import cache

import css_inline
from jinja2 import Template

from bot.channels.email import templates
from bot.channels.email.links import MAX_AGE, Links, unsubscribe_mailto
from bot.config import Settings
from bot.digests.display import (
    entry_date,
    format_authors,
    format_day,
    header_range,
    paper_url,
    snippet,
    source_label,
    subject,
)
from bot.records import DigestEntry, DigestView, SubscriptionView

__all__ = [
    "render_email",
    "render_confirmation",
    "digest_context",
    "EmailItem",
    "message_id",
    "inline_css",
    "inlined_template",
]

_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
# Jinja statements ride through the HTML parser as comments: as text, one between table rows would be
# moved out of the table (the parser's "foster parenting") and a `>` in one would be escaped.
_STATEMENT = re.compile(r"{%.*?%}", re.DOTALL)
_SHELTERED = re.compile(r"<!--paperbot:(.*?):paperbot-->", re.DOTALL)
_EXTENDS = re.compile(r'\s*{%-?\s*extends\s+"([^"]+)"\s*-?%}')
_BLOCK = re.compile(r"({%-?\s*block\s+(\w+)\s*-?%})(.*?)({%-?\s*endblock\s*-?%})", re.DOTALL)
# Long URLs in List-Unsubscribe must stay literal: at the default 78 columns the folder turns them
# into RFC 2047 encoded words, which mail clients do not decode in that header. 998 is RFC 5322's limit.
MAIL_POLICY = policy.SMTP.clone(max_line_length=998)
FREQUENCY_WORDS = {"daily": "daily", "weekdays": "weekday", "weekly": "weekly"}


@dataclass(frozen=True)
class EmailItem:
    """One entry as the templates show it: display strings and signed links."""

    number: int
    title: str
    url: str | None
    authors: str
    source: str
    date: str
    snippet: str
    reason: str
    up_url: str
    down_url: str
    save_url: str


def _item(entry: DigestEntry, *, number: int, links: Links, timezone: str, now: datetime) -> EmailItem:
    listing = entry.listing

    urls = links.feedback_urls(item_id=entry.item_id, now=now)
    return EmailItem(
        number=number,
        title=listing.title,
        url=paper_url(listing),
        authors=format_authors(listing.authors),
        source=source_label(listing),
        date=format_day(entry_date(entry), timezone),
        snippet=snippet(listing.abstract),
        reason=entry.reason,
        up_url=urls["up"],
        down_url=urls["down"],
        save_url=urls["save"],
    )


def _domain(settings: Settings) -> str:
    return parseaddr(settings.smtp_from)[1].rpartition("@")[2] or "localhost"


def message_id(view: DigestView, settings: Settings) -> str:
    """Stable per digest, so a resend after a crash is recognisably the same mail."""
    return f"<digest.{view.id}.{view.period}@{_domain(settings)}>"


def _wrap(text: str, width: int = 72, indent: str = "") -> str:
    """Greedy word wrap for the text part. Words are never split (URLs, LaTeX); the text is already
    whitespace-collapsed, so this is all textwrap would do, several times faster."""
    if len(indent) + len(text) <= width:
        return indent + text
    lines: list[str] = []
    words: list[str] = []
    size = len(indent) - 1  # length of indent + " ".join(words)
    for word in text.split(" "):
        if words and size + 1 + len(word) > width:
            lines.append(indent + " ".join(words))
            words, size = [], len(indent) - 1
        words.append(word)
        size += 1 + len(word)
    lines.append(indent + " ".join(words))
    return "\n".join(lines)


templates.filters["wrap"] = _wrap


def _whole_source(name: str) -> str:
    """The source of template `name` with the layout it extends filled in: its blocks (one level,
    not nested, as mail.html's children have) put in the layout's, block tags kept, so Jinja trims
    whitespace around them as it does when it resolves `extends` itself."""
    source, _, _ = templates.loader.get_source(templates, name)  # type: ignore[union-attr]
    parent = _EXTENDS.match(source)
    if parent is None:
        return source
    blocks = {m.group(2): m.group(3) for m in _BLOCK.finditer(source)}
    return _BLOCK.sub(
        lambda m: m.group(1) + blocks.get(m.group(2), m.group(3)) + m.group(4), _whole_source(parent.group(1))
    )


def inline_css(html: str) -> str:
    """`html` with its stylesheet's rules written into style attributes (at-rules stay in <style>)."""
    return _INLINER.inline(html)


@cache
def inlined_template(name: str) -> Template:
    """The HTML template `name` with its CSS inlined, compiled once per process."""
    sheltered = _STATEMENT.sub(lambda m: f"<!--paperbot:{m.group(0)}:paperbot-->", _whole_source(name))
    return templates.from_string(_SHELTERED.sub(r"\1", inline_css(sheltered)))


def digest_context(
    view: DigestView,
    *,
    subscription: SubscriptionView,
    settings: Settings,
    now: datetime,
    links: Links,
    unsubscribe: str,
) -> dict[str, object]:
    """What the digest templates show: display strings and signed links (`unsubscribe` is the token)."""
    tz = subscription.timezone
    return {
        "subject": subject(view, weekly=subscription.frequency == "weekly"),
        "name": view.subscriber_name,
        "range": header_range(view, tz),
        "since": format_day(view.period_start, tz),
        "interests": view.interests,
        "items": [
            _item(entry, number=n, links=links, timezone=tz, now=now)
            for n, entry in enumerate(view.entries, start=1)
        ],
        "frequency": FREQUENCY_WORDS.get(subscription.frequency, subscription.frequency),
        "recipient": view.target,
        "manage_url": links.manage_url(subscription_id=subscription.id, now=now),
        "unsubscribe_url": links.unsubscribe_url(unsubscribe),
        "base_url": settings.base_url,
    }


def render_email(
    view: DigestView,
    *,
    subscription: SubscriptionView,
    settings: Settings,
    now: datetime,
    links: Links | None = None,
) -> EmailMessage:
    """The digest mail for `view`, with every header a bulk sender needs (RFC 8058 one-click)."""
    links = links or Links.from_settings(settings)
    unsubscribe = links.unsubscribe_token(subscription_id=subscription.id, now=now)
    from_address = parseaddr(settings.smtp_from)[1]
    context = digest_context(
        view, subscription=subscription, settings=settings, now=now, links=links, unsubscribe=unsubscribe
    )
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = str(context["subject"])
    # formataddr encodes non-ASCII names (RFC 2047), so the raw value is always valid ASCII.
    message.set_raw("From", formataddr(parseaddr(settings.smtp_from), charset="utf-8"))
    if "@" in view.target:
        message.set_raw("To", formataddr((view.subscriber_name, view.target), charset="utf-8"))
    # ASCII-only values we built ourselves go in raw: parsing them back through the header registry
    # was the slowest part of rendering.
    unsubscribe_mail = unsubscribe_mailto(from_address, unsubscribe)
    for name, value in (
        ("Date", format_datetime(now)),
        ("Message-ID", message_id(view, settings)),
        ("List-Id", f"paperbot digest <digest.{_domain(settings)}>"),
        ("List-Unsubscribe", f"<{context['unsubscribe_url']}>, <{unsubscribe_mail}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("Auto-Submitted", "auto-generated"),  # keeps vacation responders quiet
    ):
        message.set_raw(name, value)
    # 7-bit transfer encodings: no dependency on the server's 8BITMIME. The text part stays readable
    # (quoted-printable); the HTML part is base64, which Python encodes in C. The MIME structure is
    # written directly: set_content / add_alternative parse every header they set back through the
    # header registry, which cost more than rendering the HTML.
    text = templates.get_template("digest.txt").render(context)
    _alternatives(message, text, inlined_template("digest.html").render(context))
    return message


def _alternatives(message: EmailMessage, text: str, html: str) -> None:
    """Make `message` multipart/alternative: `text`, then `html` (the part clients prefer)."""
    message.set_raw("MIME-Version", "1.0")
    message.set_raw("Content-Type", f'multipart/alternative; boundary="{_boundary()}"')
    message.set_payload(
        [
            _part("text/plain", "quoted-printable", body_encode(_lines(text, "\n").decode("latin-1"), 76)),
            _part("text/html", "base64", encodebytes(_lines(html, "\r\n")).decode("ascii")),
        ]
    )


def _lines(text: str, linesep: str) -> bytes:
    """`text` as UTF-8 with every line ending `linesep`, as the email package encodes a text body."""
    return "".join(line + linesep for line in text.splitlines()).encode("utf-8")


def _part(content_type: str, encoding: str, payload: str) -> EmailMessage:
    part = EmailMessage(policy=MAIL_POLICY)
    part.set_raw("Content-Type", f'{content_type}; charset="utf-8"')
    part.set_raw("Content-Transfer-Encoding", encoding)
    part.set_payload(payload)
    return part


def _boundary() -> str:
    """A MIME boundary no quoted-printable or base64 line can contain ('=_' is encoded in both)."""
    return f"=_paperbot_{secrets.token_hex(12)}"


def render_confirmation(
    *, email: str, interests: Sequence[str], confirm_url: str, settings: Settings, now: datetime
) -> EmailMessage:
    """The mail that asks a public sign-up to confirm its address (double opt-in), in the digest's look."""
    context = {
        "subject": "Confirm your paperbot subscription",
        "recipient": email,
        "interests": interests,
        "confirm_url": confirm_url,
        "valid_days": MAX_AGE["confirm"].days,
    }
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = context["subject"]
    message.set_raw("From", formataddr(parseaddr(settings.smtp_from), charset="utf-8"))
    message["To"] = email
    message.set_raw("Date", format_datetime(now))
    message.set_raw("Message-ID", make_msgid(domain=_domain(settings)))
    message.set_raw("Auto-Submitted", "auto-generated")
    text = templates.get_template("confirm.txt").render(context)
    _alternatives(message, text, inlined_template("confirm.html").render(context))
    return message
