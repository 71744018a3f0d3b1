"""Whose profile a Slack action works on: a channel's shared profile, or the person's own."""

from __future__ import annotations

from dataclasses import dataclass

from bot.channels.slack.text import is_channel_id
from bot.records import SubscriberView, SubscriptionView
from bot.service import Paperbot

__all__ = ["Scope", "scope_for", "main_subscription", "REPLACED", "switchable"]

# The paused reason of a delivery the settings modal moved elsewhere (DM -> email, say): it stays
# for its history, but Resume must not bring it back next to the one that replaced it.
REPLACED = "replaced by delivery to "


@dataclass(frozen=True)
class Scope:
    user_id: str
    channel_id: str | None  # where the command was typed (None from App Home)
    profile: SubscriberView | None

    @property
    def shared(self) -> bool:
        return self.profile is not None and self.profile.kind == "channel"

    @property
    def owner(self) -> str:
        """How replies name the profile, so nobody mistakes the lab's profile for their own."""
        return f"the shared profile of <#{self.channel_id}>" if self.shared else "your profile"


def scope_for(bot: Paperbot, *, user_id: str, channel_id: str | None) -> Scope:
    """In a channel that has a shared profile, that profile; elsewhere the user's own (or None)."""
    if channel_id and is_channel_id(channel_id):
        shared = bot.find_subscriber(slack_channel_id=channel_id)
        if shared is not None:
            return Scope(user_id, channel_id, shared)
    return Scope(user_id, channel_id, bot.find_subscriber(slack_user_id=user_id))


def main_subscription(profile: SubscriberView | None) -> SubscriptionView | None:
    """The delivery the settings modal edits: the first active one, else the first."""
    if profile is None or not profile.subscriptions:
        return None
    return next((s for s in profile.subscriptions if s.active), profile.subscriptions[0])


def switchable(profile: SubscriberView | None) -> list[SubscriptionView]:
    """The deliveries Pause and Resume act on: all but those the settings modal replaced."""
    subscriptions = profile.subscriptions if profile else ()
    return [s for s in subscriptions if s.active or not (s.paused_reason or "").startswith(REPLACED)]
