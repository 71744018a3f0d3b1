"""Events: reactions on one-paper digest messages count as votes; opening App Home renders it."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.channels.slack.failures import reported
from bot.channels.slack.home import publish_home
from bot.service import Paperbot
from bot.vocab import Vote

__all__ = ["register", "REACTIONS", "reaction_vote"]

# Documented in docs/slack.md: the reaction names Slack sends, and the vote each one casts.
REACTIONS: dict[str, Vote] = {
    "+1": "up",
    "thumbsup": "up",
    "-1": "down",
    "thumbsdown": "down",
    "bookmark": "save",
}


def reaction_vote(bot: Paperbot, event: dict[str, Any]) -> tuple[int, Vote] | None:
    """(digest item, vote) for a reaction on a message paperbot posted with exactly one paper."""
    vote = REACTIONS.get(str(event.get("reaction", "")).split("::")[0])  # "+1::skin-tone-3" is a 👍
    item = event.get("item", {})
    if vote is None or item.get("type") != "message":
        return None
    item_id = bot.slack_message_item(channel_id=str(item.get("channel")), ts=str(item.get("ts")))
    return (item_id, vote) if item_id is not None else None


def register(app: App, bot: Paperbot) -> None:
    @app.event("reaction_added")
    @reported
    def reaction_added(event: dict[str, Any]) -> None:
        if found := reaction_vote(bot, event):
            bot.record_item_feedback(digest_item_id=found[0], vote=found[1], via="slack_reaction")

    @app.event("reaction_removed")
    @reported
    def reaction_removed(event: dict[str, Any]) -> None:
        if found := reaction_vote(bot, event):
            bot.withdraw_item_feedback(digest_item_id=found[0], vote=found[1])

    @app.event("app_home_opened")
    @reported
    def home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") == "home":
            publish_home(bot, client, event["user"])
