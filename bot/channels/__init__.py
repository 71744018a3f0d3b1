"""Channels: one package per way a digest reaches a reader.

email/  render (Jinja2 + inlined CSS) · smtp · outbox (files) · links (signed tokens) · pages
slack/  blocks (Block Kit) · post (Web API) · the bolt app and its handlers
"""
