"""The email channel: digests rendered as mail, sent, and the web pages readers reach from them.

    render.py  Jinja2 templates to an EmailMessage (CSS inlined)
    smtp.py    one SMTP connection per process, retries with backoff
    wire.py    a message's envelope and bytes for SMTP, serialised in one pass
    outbox.py  .eml and .html files when no SMTP host is configured
    links.py   signed, expiring tokens for votes, unsubscribe and the manage page
    pages.py   the pages those links open (GET shows, POST acts)

`templates` is the one Jinja2 environment for mail and pages.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.vocab import VOTE_LABELS

__all__ = ["templates"]

# One environment for mail and web pages: HTML autoescapes, .txt is plain text written for reading.
templates = Environment(
    loader=PackageLoader("bot.channels.email", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    auto_reload=False,  # templates ship in the package; no need to stat them at every render
)
templates.globals["votes"] = VOTE_LABELS  # the vote links' words, as Slack's buttons say them
