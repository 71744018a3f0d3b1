"""Digest rendering: periods (`period`), email (`email`), Block Kit (`blocks`), and the shared templates."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

__all__ = ["templates"]

# One environment for mail and web pages: HTML autoescapes, .txt is plain text written for reading.
templates = Environment(
    loader=PackageLoader("bot.digest", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    auto_reload=False,  # templates ship in the package; no need to stat them at every render
)
