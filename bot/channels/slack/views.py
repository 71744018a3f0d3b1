"""The subscribe modal's submission: field errors go back in the ack; the save happens after it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.channels.slack.failures import notify, reported
from bot.channels.slack.modal import (
    CALLBACK_ID,
    NEEDS_INTEREST,
    FormError,
    ModalState,
    Submission,
    parse_submission,
)
from bot.channels.slack.scope import REPLACED
from bot.channels.slack.text import settings_text
from bot.errors import NotFound, PaperbotError, SourceError
from bot.inputs import interest_key
from bot.records import SubscriberView
from bot.service import Paperbot

__all__ = ["register", "save_submission", "slack_name"]

log = logging.getLogger("paperbot.slack")

SEED_LOOKUP_SECONDS = 1.5  # arXiv's answer must leave room in Slack's 3 s for the modal's ack


def _identity(form: Submission, state: ModalState, user_id: str) -> tuple[str | None, str | None]:
    """(user, channel) whose profile the form writes: the channel's when it delivers there or the
    modal edits the channel's shared profile, else the user's."""
    if (form.delivery == "channel" or state.shared) and state.channel_id:
        return None, state.channel_id
    return user_id, None


def _profile(bot: Paperbot, form: Submission, state: ModalState, user_id: str) -> SubscriberView | None:
    person, channel = _identity(form, state, user_id)
    return bot.find_subscriber(slack_user_id=person, slack_channel_id=channel)


def _field_errors(bot: Paperbot, form: Submission, profile: SubscriberView | None) -> dict[str, str]:
    """What the service would refuse, found before the ack so the modal stays open to fix it:
    interests the profile already has, and seed papers that cannot be found. An arXiv id or DOI not
    stored is looked up once, briefly; when arXiv or Crossref does not answer in time, the save after
    the ack fetches it again with retries."""
    errors: dict[str, str] = {}
    have = {interest_key(i.text) for i in profile.interests if i.text} if profile else set()
    if repeated := [text for text in form.interests if interest_key(text) in have]:
        errors["interests"] = f"Already in this profile: {', '.join(map(repr, repeated))}; remove that line"
    if form.seeds:
        with suppress(SourceError):
            try:
                bot.fetch_seeds(form.seeds, timeout=SEED_LOOKUP_SECONDS, retries=0)
            except NotFound as exc:  # a DOI Crossref does not know
                errors["seeds"] = exc.message
                return errors
            if missing := bot.missing_seeds(form.seeds):
                errors["seeds"] = (
                    f"Not found: {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}. "
                    "Give arXiv ids or URLs, or DOIs"
                )
    return errors


def slack_name(client: WebClient, user_id: str) -> str:
    """The person's name in Slack (users.info), for the greeting of email digests; "" if Slack does
    not say, so the profile keeps the name it has."""
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError as exc:
        log.info("slack: users.info for %s refused (%s); keeping the stored name", user_id, exc)
        return ""
    profile = user.get("profile") or {}
    return str(profile.get("real_name") or user.get("real_name") or profile.get("display_name") or "")


def save_submission(
    bot: Paperbot,
    form: Submission,
    state: ModalState,
    *,
    user_id: str,
    team_id: str | None,
    name: str = "",
    embed_interests: Callable[[int], None] | None = None,
) -> SubscriberView:
    """Subscribe (or update) through the service; an edited delivery that moved elsewhere is paused
    (and App Home does not offer to resume it). `embed_interests` takes the text interests' embedding
    out of this process (distributed mode's web tier); seed papers are still embedded here, as their
    grouping into topics needs their vectors."""
    person, channel = _identity(form, state, user_id)
    profile = bot.subscribe(
        slack_user_id=person,
        slack_channel_id=channel,
        slack_team_id=team_id,
        name=name if person else "",
        interests=form.interests,
        seed_papers=form.seeds,
        schedule=form.schedule,
        deliver_to_email=form.email,
        embed=embed_interests is None,
    )
    if embed_interests is not None:
        embed_interests(profile.id)
    target = form.email or channel or user_id
    moved = [s for s in profile.subscriptions if s.id == state.editing and s.target != target and s.active]
    for old in moved:
        bot.set_active(subscription_id=old.id, active=False, reason=f"{REPLACED}{target}")
    return bot.subscriber(subscriber_id=profile.id) if moved else profile


def _saved(profile: SubscriberView, form: Submission, state: ModalState) -> str:
    text = ":white_check_mark: Saved. " + settings_text(profile, "this profile")
    if form.delivery == "channel":
        text += f"\nDigests reach <#{state.channel_id}> only with paperbot in it: `/invite @paperbot`."
    return text


def register(app: App, bot: Paperbot, embed_interests: Callable[[int], None] | None = None) -> None:
    """The modal's submission; `embed_interests`: see `save_submission`."""

    @app.view(CALLBACK_ID)
    @reported
    def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        state, user_id = ModalState.load(view.get("private_metadata", "")), body["user"]["id"]
        try:
            form = parse_submission(view["state"]["values"], state)
            profile = _profile(bot, form, state, user_id)
            if not (form.interests or form.seeds) and profile is None:
                raise FormError({"interests": NEEDS_INTEREST})
            if errors := _field_errors(bot, form, profile):
                raise FormError(errors)
        except FormError as exc:
            ack(response_action="errors", errors=exc.errors)
            return
        ack()  # closes the modal; embedding the interests may take a moment
        team_id = body.get("team", {}).get("id")
        try:
            name = slack_name(client, user_id)
            saved = save_submission(
                bot, form, state, user_id=user_id, team_id=team_id, name=name, embed_interests=embed_interests
            )
            text = _saved(saved, form, state)
        except PaperbotError as exc:  # subscribe stores all or nothing
            text = f":x: Not saved, nothing was changed: {exc.message}. `/papers subscribe` opens the form."
        notify(client, user_id=user_id, channel_id=state.channel_id, text=text)
