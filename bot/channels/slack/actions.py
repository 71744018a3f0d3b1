"""Button clicks: 👍 / 👎 / 🔖 on digest items, and the App Home buttons."""

from __future__ import annotations

import re
from contextlib import suppress
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.channels.slack.blocks import mark_vote
from bot.channels.slack.commands import open_subscribe_modal
from bot.channels.slack.failures import reported
from bot.channels.slack.home import publish_home
from bot.channels.slack.scope import scope_for, switchable
from bot.errors import NotFound, PaperbotError
from bot.service import Paperbot

__all__ = ["register"]

VOTE_ACTION = re.compile(r"^vote:(up|down|save)$")


def register(app: App, bot: Paperbot) -> None:
    @app.action(VOTE_ACTION)
    @reported
    def vote(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()  # within 3 s; the vote and the message update follow
        choice, item_id = action["action_id"].removeprefix("vote:"), int(action["value"])
        try:
            bot.record_item_feedback(digest_item_id=item_id, vote=choice, via="slack_button")
        except PaperbotError as exc:
            respond(text=f":x: {exc.message}", response_type="ephemeral", replace_original=False)
            return
        message = body["message"]
        blocks = mark_vote(message.get("blocks", []), item_id, choice)
        client.chat_update(
            channel=body["container"]["channel_id"],
            ts=message["ts"],
            text=message.get("text", ""),
            blocks=blocks,
        )

    @app.action("home:edit")
    @reported
    def edit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        scope = scope_for(bot, user_id=body["user"]["id"], channel_id=None)
        open_subscribe_modal(client, scope, trigger_id=body["trigger_id"])

    @app.action("home:remove_interest")
    @reported
    def remove_interest(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        user_id = body["user"]["id"]
        profile = bot.find_subscriber(slack_user_id=user_id)
        with suppress(NotFound):  # a second click on a stale Home tab
            if profile is not None:
                bot.remove_interest(subscriber_id=profile.id, interest_id=int(action["value"]))
        publish_home(bot, client, user_id)

    @app.action("home:remove_saved")
    @reported
    def remove_saved(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        user_id = body["user"]["id"]
        profile = bot.find_subscriber(slack_user_id=user_id)
        if profile is not None:  # a second click on a stale Home tab removes nothing, harmlessly
            bot.remove_saved(subscriber_id=profile.id, listing_id=int(action["value"]))
        publish_home(bot, client, user_id)

    @app.action(re.compile(r"^home:(pause|resume)$"))
    @reported
    def toggle(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        user_id, active = body["user"]["id"], action["action_id"] == "home:resume"
        profile = bot.find_subscriber(slack_user_id=user_id)
        for sub in switchable(profile):
            bot.set_active(
                subscription_id=sub.id, active=active, reason=None if active else "paused in App Home"
            )
        publish_home(bot, client, user_id)
