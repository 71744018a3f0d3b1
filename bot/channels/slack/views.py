"""The subscribe modal's submission: field errors go back in the ack; the save happens after it."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.channels.slack.failures import notify, reported
from bot.channels.slack.modal import (
    CALLBACK_ID,
    NEEDS_INTEREST,
    FormError,
    ModalState,
    Submission,
    parse_submission,
)
from bot.channels.slack.text import settings_text
from bot.errors import PaperbotError
from bot.records import SubscriberView
from bot.service import Paperbot

__all__ = ["register", "save_submission"]


def _identity(form: Submission, state: ModalState, user_id: str) -> tuple[str | None, str | None]:
    """(user, channel) whose profile the form writes: the channel's when it delivers there or the
    modal edits the channel's shared profile, else the user's."""
    if (form.delivery == "channel" or state.shared) and state.channel_id:
        return None, state.channel_id
    return user_id, None


def _profile(bot: Paperbot, form: Submission, state: ModalState, user_id: str) -> SubscriberView | None:
    person, channel = _identity(form, state, user_id)
    return bot.find_subscriber(slack_user_id=person, slack_channel_id=channel)


def save_submission(
    bot: Paperbot, form: Submission, state: ModalState, *, user_id: str, team_id: str | None
) -> SubscriberView:
    """Subscribe (or update) through the service; an edited delivery that moved elsewhere is paused."""
    person, channel = _identity(form, state, user_id)
    profile = bot.subscribe(
        slack_user_id=person,
        slack_channel_id=channel,
        slack_team_id=team_id,
        interests=form.interests,
        seed_papers=form.seeds,
        schedule=form.schedule,
        deliver_to_email=form.email,
    )
    target = form.email or channel or user_id
    moved = [s for s in profile.subscriptions if s.id == state.editing and s.target != target and s.active]
    for old in moved:
        bot.set_active(subscription_id=old.id, active=False, reason=f"replaced by delivery to {target}")
    return bot.subscriber(subscriber_id=profile.id) if moved else profile


def _saved(profile: SubscriberView, form: Submission, state: ModalState) -> str:
    text = ":white_check_mark: Saved. " + settings_text(profile, "this profile")
    if form.delivery == "channel":
        text += f"\nDigests reach <#{state.channel_id}> only with paperbot in it: `/invite @paperbot`."
    return text


def register(app: App, bot: Paperbot) -> None:
    @app.view(CALLBACK_ID)
    @reported
    def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        state, user_id = ModalState.load(view.get("private_metadata", "")), body["user"]["id"]
        try:
            form = parse_submission(view["state"]["values"], state)
            if not (form.interests or form.seeds) and _profile(bot, form, state, user_id) is None:
                raise FormError({"interests": NEEDS_INTEREST})
        except FormError as exc:
            ack(response_action="errors", errors=exc.errors)
            return
        ack()  # closes the modal; embedding the interests may take a moment
        try:
            profile = save_submission(
                bot, form, state, user_id=user_id, team_id=body.get("team", {}).get("id")
            )
            text = _saved(profile, form, state)
        except PaperbotError as exc:
            text = f":x: Not saved completely: {exc.message}"
        notify(client, user_id=user_id, channel_id=state.channel_id, text=text)
