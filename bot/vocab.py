"""The fixed words paperbot speaks, as types mypy checks, and the labels readers see, defined once.

The database stores these as plain strings (storage may not import bot); every record and function
in bot/ that carries one is typed with the Literal below, so a misspelt vote or status fails the
type check instead of a digest.
"""

from __future__ import annotations

from typing import Final, Literal, TypeVar, get_args

from bot.errors import InvalidInput

__all__ = [
    "plural",
    "Vote",
    "VOTES",
    "VOTE_LABELS",
    "VoteVia",
    "Channel",
    "Frequency",
    "FREQUENCIES",
    "SubscriberKind",
    "DigestStatus",
    "DigestOutcome",
    "SourceStatus",
    "SchedulerState",
    "Backend",
    "BACKENDS",
    "MoveCause",
    "parse_vote",
    "parse_frequency",
    "parse_channel",
    "parse_digest_status",
    "CHANNELS",
    "DIGEST_STATUSES",
    "ViewStatus",
]

W = TypeVar("W", bound=str)

Vote = Literal["up", "down", "save"]
VOTES: Final[tuple[Vote, ...]] = get_args(Vote)
# What a vote says, wherever a reader can cast it (Slack buttons, email links and pages).
VOTE_LABELS: Final[dict[Vote, str]] = {
    "up": "👍 More like this",
    "down": "👎 Less like this",
    "save": "🔖 Save",
}
VoteVia = Literal["cli", "email", "slack_button", "slack_reaction"]

Channel = Literal["email", "slack", "outbox"]
CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)
Frequency = Literal["daily", "weekdays", "weekly"]
FREQUENCIES: Final[tuple[Frequency, ...]] = get_args(Frequency)
SubscriberKind = Literal["person", "channel"]

DigestStatus = Literal["claimed", "sent", "empty", "failed"]  # a stored digest row
DIGEST_STATUSES: Final[tuple[DigestStatus, ...]] = get_args(DigestStatus)
ViewStatus = DigestStatus | Literal["preview"]  # a dry run renders a digest that is never stored
# What one run did with a digest: sent | empty | skipped (settled, claimed elsewhere, paused, no
# interests) | retry (temporary failure; the next run resends) | failed (permanent) | dry_run.
DigestOutcome = Literal["sent", "empty", "skipped", "retry", "failed", "dry_run"]
SourceStatus = Literal["ok", "not_modified", "failed"]  # one source's ingest
SchedulerState = Literal["leader", "follower", "stopped", "disabled"]
Backend = Literal["torch", "onnx", "onnx-int8"]  # what runs the model: PAPERBOT_MODEL=name@onnx…
BACKENDS: Final[tuple[Backend, ...]] = ("onnx", "onnx-int8")  # the suffixes a model name may carry
# Why a digest shows a paper below one with a lower score: closeness to an earlier pick (MMR) or
# another interest's slot.
MoveCause = Literal["diversity", "slot"]


def _one_of(value: str, choices: tuple[W, ...], what: str) -> W:
    for choice in choices:
        if value == choice:
            return choice
    raise InvalidInput(f"{what} {value!r} is not one of {', '.join(choices)}")


def parse_channel(value: str) -> Channel:
    return _one_of(value, CHANNELS, "channel")


def parse_digest_status(value: str) -> DigestStatus:
    return _one_of(value, DIGEST_STATUSES, "digest status")


def parse_vote(value: str) -> Vote:
    """`value` (typed by a user, or read from the database) as a Vote; InvalidInput otherwise."""
    return _one_of(value, VOTES, "vote")


def parse_frequency(value: str) -> Frequency:
    """`value` as a Frequency; InvalidInput naming the choices otherwise."""
    return _one_of(value, FREQUENCIES, "frequency")


def plural(count: int, noun: str) -> str:
    """ "1 source", "2 sources": for nouns that take an s."""
    return f"{count} {noun}" + ("" if count == 1 else "s")
