"""Pure helpers for the Slack front end: parse `/papers …`, and the short mrkdwn replies it gives."""

from __future__ import annotations

from dataclasses import dataclass

from bot.channels.slack.blocks import escape
from bot.errors import InvalidInput
from bot.inputs import INVISIBLE as _CONTROL
from bot.records import DigestResult, SubscriberView, SubscriptionView

__all__ = [
    "MAX_COMMAND",
    "VERBS",
    "Call",
    "parse_command",
    "check_text",
    "help_text",
    "interests_text",
    "schedule_line",
    "settings_text",
    "digest_results_text",
    "is_channel_id",
]

MAX_COMMAND = 1000
VERBS = ("subscribe", "interests", "now", "pause", "resume", "settings", "unsubscribe", "help")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Call:
    """A parsed `/papers` command: the verb, the rest of the text, and an unknown verb if any."""

    verb: str
    rest: str = ""
    unknown: str | None = None


def check_text(text: str, *, what: str, limit: int = MAX_COMMAND) -> str:
    """`text` stripped, or InvalidInput for oversized or invisible-character input."""
    if len(text) > limit:
        raise InvalidInput(f"{what} is {len(text):,} characters long; the limit is {limit:,}")
    if _CONTROL.search(text):
        raise InvalidInput(f"{what} contains invisible control characters; please type it again without them")
    return text.strip()


def parse_command(text: str) -> Call:
    text = check_text(text, what="that command")
    verb, _, rest = text.partition(" ")
    verb = verb.lower()
    if not verb:
        return Call("help")
    if verb not in VERBS:
        return Call("help", unknown=verb[:40])
    return Call(verb, rest.strip())


def is_channel_id(conversation: str | None) -> bool:
    """A public or private channel (C…/G…), where a shared profile can live; D… is a direct message."""
    return bool(conversation) and conversation[:1] in ("C", "G")  # type: ignore[index]


def help_text(unknown: str | None = None) -> str:
    head = f"I don't know `{escape(unknown)}`. " if unknown else ""
    return head + (
        "*/papers* sends you a short digest of new research papers that match your interests.\n"
        "• `/papers subscribe`: pick interests, seed papers, schedule and where the digest goes\n"
        "• `/papers interests`: list them; `/papers interests add protein design`; "
        "`/papers interests remove 2`\n"
        "• `/papers now`: send the current digest right away\n"
        "• `/papers pause`, `/papers resume`: stop and restart deliveries\n"
        "• `/papers settings`: change time, time zone, frequency or delivery\n"
        "• `/papers unsubscribe`: stop the digest (your profile is kept)\n"
        "In a channel with a shared profile these commands act on the channel's profile, elsewhere on "
        "yours. Vote with the buttons, or react :+1: :-1: :bookmark: to a message that shows one paper."
    )


def interests_text(profile: SubscriberView, owner: str) -> str:
    if not profile.interests:
        return f"{owner} has no interests yet: `/papers interests add <topic>`"
    lines = [f"{n}. {escape(i.label)}" for n, i in enumerate(profile.interests, start=1)]
    return (
        f"*Interests of {owner}*\n"
        + "\n".join(lines)
        + "\nRemove one with `/papers interests remove <number>`."
    )


def schedule_line(sub: SubscriptionView) -> str:
    when = {"daily": "Daily", "weekdays": "Weekdays", "weekly": f"{WEEKDAYS[sub.weekday]}s"}[sub.frequency]
    where = {
        "slack": f"<@{sub.target}>" if sub.target[:1] in ("U", "W") else f"<#{sub.target}>",
        "email": escape(sub.target),
    }.get(sub.channel, escape(sub.target))
    state = "active" if sub.active else f"paused: {escape(sub.paused_reason or 'paused')}"
    return f"{when} at {sub.send_time} ({sub.timezone}), {sub.digest_size} papers → {where} ({state})"


def settings_text(profile: SubscriberView, owner: str) -> str:
    lines = [f"• {schedule_line(s)}" for s in profile.subscriptions] or ["• no deliveries"]
    return f"*Deliveries of {owner}*\n" + "\n".join(lines)


def digest_results_text(results: list[DigestResult]) -> str:
    """What `/papers now` did, per subscription."""
    if not results:
        return "Nothing to send: every delivery is paused. `/papers resume` restarts them."
    notes = {
        "sent": "sent ({items} papers)",
        "empty": "nothing new above your bar for this period",
        "skipped": "not sent: {error}",
        "retry": "could not be delivered yet ({error}); it will be retried",
        "failed": "failed: {error}",
    }
    lines = [
        notes.get(r.status, r.status).format(items=r.items, error=escape(r.error or r.status))
        for r in results
    ]
    return "\n".join(f"• Digest {r.period}: {line}" for r, line in zip(results, lines, strict=True))
