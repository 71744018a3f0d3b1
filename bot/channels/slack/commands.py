"""`/papers <verb>`: quick verbs answer in the ack (ephemeral); slow ones ack first, then work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.channels.slack.failures import reported
from bot.channels.slack.modal import subscribe_modal
from bot.channels.slack.scope import Scope, main_subscription, scope_for, switchable
from bot.channels.slack.text import (
    Call,
    digest_results_text,
    help_text,
    interests_text,
    parse_command,
    settings_text,
)
from bot.errors import InvalidInput, PaperbotError
from bot.service import Paperbot

__all__ = ["register", "open_subscribe_modal"]

EPHEMERAL = "ephemeral"  # Slack's default too; explicit so the reply is JSON and says so


@dataclass(frozen=True)
class Ctx:
    bot: Paperbot
    call: Call
    scope: Scope
    ack: Ack
    respond: Respond
    client: WebClient
    trigger_id: str
    # Hands a subscriber's new interests to an embed worker (distributed mode's web tier); None: the
    # model embeds them here.
    embed_interests: Callable[[int], None] | None = None

    def reply(self, text: str) -> None:
        """The ephemeral answer; after the ack, a follow-up through the response_url."""
        if self.ack.response is None:
            self.ack(text=text, response_type=EPHEMERAL)
        else:
            self.respond(text=text, response_type=EPHEMERAL, replace_original=False)


def open_subscribe_modal(client: WebClient, scope: Scope, *, trigger_id: str) -> None:
    """The modal, its time zone from the current delivery or else the user's Slack profile."""
    current = main_subscription(scope.profile)
    timezone = current.timezone if current else client.users_info(user=scope.user_id)["user"].get("tz")
    client.views_open(trigger_id=trigger_id, view=subscribe_modal(scope, timezone=timezone or "UTC"))


def _profile(ctx: Ctx) -> int:
    if ctx.scope.profile is None:
        raise InvalidInput("you have no digest yet: `/papers subscribe` sets one up")
    return ctx.scope.profile.id


def _help(ctx: Ctx) -> None:
    ctx.reply(help_text(ctx.call.unknown))


def _modal(ctx: Ctx) -> None:
    ctx.ack()
    open_subscribe_modal(ctx.client, ctx.scope, trigger_id=ctx.trigger_id)


def _interests(ctx: Ctx) -> None:
    action, _, arg = ctx.call.rest.partition(" ")
    subscriber_id = _profile(ctx)
    assert ctx.scope.profile is not None
    if action == "add" and arg.strip():
        ctx.reply(f"Adding to {ctx.scope.owner}…")  # embedding comes after
        defer = ctx.embed_interests
        # text: exactly one interest
        [view] = ctx.bot.add_interest(subscriber_id=subscriber_id, text=arg, embed=defer is None)
        if defer is not None:
            defer(subscriber_id)
        ctx.reply(f"Added interest {view.label!r} to {ctx.scope.owner}.")
    elif action == "remove" and arg.strip().isdigit() and 0 < int(arg) <= len(ctx.scope.profile.interests):
        interest = ctx.scope.profile.interests[int(arg) - 1]
        ctx.bot.remove_interest(subscriber_id=subscriber_id, interest_id=interest.id)
        ctx.reply(f"Removed interest {interest.label!r} from {ctx.scope.owner}.")
    elif action in ("", "list"):
        ctx.reply(interests_text(ctx.scope.profile, ctx.scope.owner))
    else:
        ctx.reply(
            "Usage: `/papers interests`, `/papers interests add <topic>`, `/papers interests remove <n>`"
        )


def _now(ctx: Ctx) -> None:
    from bot.digests.run import run_for_subscriber  # loads the email renderer too: only when asked

    subscriber_id = _profile(ctx)
    ctx.reply("Putting your digest together…")
    results = run_for_subscriber(ctx.bot, subscriber_id=subscriber_id, now=datetime.now(UTC))
    ctx.reply(digest_results_text(results))


def _set_active(active: bool, reason: str | None) -> Callable[[Ctx], None]:
    def handle(ctx: Ctx) -> None:
        subscriber_id = _profile(ctx)
        assert ctx.scope.profile is not None
        for sub in switchable(ctx.scope.profile):
            ctx.bot.set_active(subscription_id=sub.id, active=active, reason=reason)
        verb = "Resumed" if active else ("Unsubscribed" if reason == "unsubscribed" else "Paused")
        ctx.reply(
            f"{verb}: " + settings_text(ctx.bot.subscriber(subscriber_id=subscriber_id), ctx.scope.owner)
        )

    return handle


def _settings(ctx: Ctx) -> None:
    _profile(ctx)
    _modal(ctx)


VERBS: dict[str, Callable[[Ctx], None]] = {
    "help": _help,
    "subscribe": _modal,
    "settings": _settings,
    "interests": _interests,
    "now": _now,
    "pause": _set_active(False, "paused with /papers pause"),
    "resume": _set_active(True, None),
    "unsubscribe": _set_active(False, "unsubscribed"),
}


def register(app: App, bot: Paperbot, embed_interests: Callable[[int], None] | None = None) -> None:
    """`/papers`; `embed_interests` (see Ctx) takes a new interest's embedding out of this process."""

    @app.command("/papers")
    @reported
    def papers(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        scope = scope_for(bot, user_id=command["user_id"], channel_id=command.get("channel_id"))
        trigger = command.get("trigger_id", "")
        ctx = Ctx(bot, Call("help"), scope, ack, respond, client, trigger, embed_interests)
        try:
            call = parse_command(command.get("text", ""))
            VERBS[call.verb](replace(ctx, call=call))
        except PaperbotError as exc:  # the user's mistake or a refused value: said where they typed
            ctx.reply(f":x: {exc.message}")
