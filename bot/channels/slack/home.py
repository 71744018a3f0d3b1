"""The App Home tab: interests, deliveries with their state, the latest digest, votes, edit buttons."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from slack_sdk import WebClient
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.channels.slack.blocks import escape
from bot.channels.slack.scope import switchable
from bot.channels.slack.text import schedule_line
from bot.digests.period import latest_period
from bot.records import ListingView, SubscriberView, SubscriptionView
from bot.service import Paperbot

__all__ = ["home_view", "latest_digests", "publish_home", "SHOWN_INTERESTS", "SHOWN_SAVED"]

SHOWN_INTERESTS = 25  # App Home allows 100 blocks
SHOWN_SAVED = 20


def latest_digests(bot: Paperbot, profile: SubscriberView) -> dict[int, str]:
    """Subscription id -> "2026-11-23: sent" for its latest period."""
    now = datetime.now(UTC)
    lines = {}
    for sub in profile.subscriptions:
        period = latest_period(sub, now=now)
        found = bot.digest_state(subscription_id=sub.id, period=period.key)
        state = (
            "not sent yet" if found is None else found.status + (f" ({found.error})" if found.error else "")
        )
        lines[sub.id] = f"{period.key}: {state}"
    return lines


def _delivery(sub: SubscriptionView, latest: dict[int, str]) -> str:
    last = f"\n    latest digest {escape(latest[sub.id])}" if sub.id in latest else ""
    return f"• {schedule_line(sub)}{last}"


def _interests(profile: SubscriberView) -> list[Block]:
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text="*Interests*"))]
    for interest in profile.interests[:SHOWN_INTERESTS]:
        remove = ButtonElement(text="Remove", action_id="home:remove_interest", value=str(interest.id))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=escape(interest.label)), accessory=remove))
    hidden = len(profile.interests) - SHOWN_INTERESTS
    if hidden > 0:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"… and {hidden} more")]))
    if not profile.interests:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text="None yet: add some with Edit settings.")])
        )
    return blocks


def _saved(saved: Sequence[ListingView]) -> list[Block]:
    """The reading list: 🔖 papers, newest first, each with a Remove button."""
    blocks: list[Block] = [DividerBlock(), SectionBlock(text=MarkdownTextObject(text="*Saved papers*"))]
    for paper in saved[:SHOWN_SAVED]:
        title = escape(paper.title[:200])
        text = f"<{paper.abs_url}|{title}>" if paper.abs_url else title
        remove = ButtonElement(text="Remove", action_id="home:remove_saved", value=str(paper.id))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text), accessory=remove))
    if len(saved) > SHOWN_SAVED:
        more = f"… and {len(saved) - SHOWN_SAVED} more: `paperbot saved` lists them all"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))
    if not saved:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text="None yet: 🔖 Save under a paper adds it.")])
        )
    return blocks


def home_view(
    profile: SubscriberView | None, latest: dict[int, str], saved: Sequence[ListingView] = ()
) -> View:
    """The Home tab of one person (channel profiles are managed with /papers in the channel)."""
    blocks: list[Block] = [HeaderBlock(text="Your paper digest")]
    if profile is None:
        blocks += [
            SectionBlock(
                text=MarkdownTextObject(text="You have no digest yet. Pick your interests to start.")
            ),
            ActionsBlock(elements=[ButtonElement(text="Subscribe", action_id="home:edit", style="primary")]),
        ]
        return View(type="home", blocks=blocks)
    deliveries = "\n".join(_delivery(s, latest) for s in profile.subscriptions) or "• none"
    votes = profile.votes
    paused = any(not s.active for s in switchable(profile))
    toggle = ("Resume", "home:resume") if paused else ("Pause", "home:pause")
    blocks += _interests(profile)
    blocks += _saved(saved)
    blocks += [
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=f"*Deliveries*\n{deliveries}")),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Your votes: 👍 {votes.get('up', 0)} · 👎 {votes.get('down', 0)} · "
                    f"🔖 {votes.get('save', 0)}"
                )
            ]
        ),
        ActionsBlock(
            elements=[
                ButtonElement(text="Edit settings", action_id="home:edit", style="primary"),
                ButtonElement(text=toggle[0], action_id=toggle[1]),
            ]
        ),
    ]
    return View(type="home", blocks=blocks)


def publish_home(bot: Paperbot, client: WebClient, user_id: str) -> None:
    profile = bot.find_subscriber(slack_user_id=user_id)
    latest = latest_digests(bot, profile) if profile else {}
    saved = bot.saved_papers(subscriber_id=profile.id) if profile else []
    client.views_publish(user_id=user_id, view=home_view(profile, latest, saved))
