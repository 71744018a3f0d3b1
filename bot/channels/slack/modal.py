"""The subscribe / settings modal: building the view and reading a submission (pure, no I/O)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    EmailInputElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    StaticSelectElement,
    TimePickerElement,
)
from slack_sdk.models.views import View

from bot.channels.slack.scope import Scope, main_subscription
from bot.channels.slack.text import WEEKDAYS, check_text, is_channel_id
from bot.errors import InvalidInput
from bot.inputs import Schedule, ScheduleChange
from bot.vocab import parse_frequency

__all__ = [
    "CALLBACK_ID",
    "NEEDS_INTEREST",
    "ModalState",
    "Submission",
    "FormError",
    "subscribe_modal",
    "parse_submission",
]

CALLBACK_ID = "papers_subscribe"
FREQUENCIES = {"daily": "Every day", "weekdays": "Monday to Friday", "weekly": "Once a week"}
MAX_LINES = 20
NEEDS_INTEREST = "Add at least one interest or seed paper, so there is something to match"


class FormError(InvalidInput):
    """Field errors for `ack(response_action="errors")`, keyed by block id."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class ModalState:
    """The modal's private_metadata (set by us, returned signed by Slack)."""

    channel_id: str | None
    editing: int | None  # the subscription being edited
    shared: bool  # the channel's shared profile

    def dump(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, raw: str) -> ModalState:
        data = json.loads(raw or "{}")
        return cls(data.get("channel_id"), data.get("editing"), bool(data.get("shared")))


@dataclass(frozen=True)
class Submission:
    interests: tuple[str, ...]
    seeds: tuple[str, ...]
    schedule: ScheduleChange  # what the modal asks; the digest size and always-send stay as they are
    delivery: str  # dm | channel | email
    email: str | None


def _option(value: str, label: str, *, markdown: bool = False) -> Option:
    return Option(
        value=value, text=MarkdownTextObject(text=label) if markdown else PlainTextObject(text=label)
    )


def _delivery_options(state: ModalState) -> list[Option]:
    options = [] if state.shared else [_option("dm", "Direct message to me")]
    if state.channel_id and is_channel_id(state.channel_id):
        note = "" if state.shared else " (a shared profile for the channel)"
        options.append(_option("channel", f"Post in <#{state.channel_id}>{note}", markdown=True))
    return [*options, _option("email", "Email")]


def _input(
    block_id: str, label: str, element: Any, *, optional: bool = False, hint: str | None = None
) -> Block:
    return InputBlock(block_id=block_id, label=label, element=element, optional=optional, hint=hint)


def subscribe_modal(scope: Scope, *, timezone: str) -> View:
    """The modal; prefilled from the current delivery when the profile already has one."""
    current = main_subscription(scope.profile)
    state = ModalState(scope.channel_id, current.id if current else None, scope.shared)
    options = _delivery_options(state)
    chosen = "dm"
    if current is not None:
        chosen = (
            "email" if current.channel == "email" else ("channel" if is_channel_id(current.target) else "dm")
        )
    frequency = current.frequency if current else "daily"
    weekday = current.weekday if current else 0
    blocks = [
        _input(
            "interests",
            "Add interests" if scope.profile else "Interests",
            PlainTextInputElement(
                action_id="value",
                multiline=True,
                max_length=3000,
                placeholder="One per line, e.g. graph neural networks for molecules",
            ),
            optional=True,
        ),
        _input(
            "seeds",
            "Seed papers",
            PlainTextInputElement(action_id="value", multiline=True, max_length=2000),
            optional=True,
            hint="arXiv ids or URLs, one per line: papers like these rank higher",
        ),
        _input(
            "time",
            "Time of day",
            TimePickerElement(action_id="value", initial_time=current.send_time if current else "08:00"),
        ),
        _input(
            "timezone",
            "Time zone",
            PlainTextInputElement(action_id="value", initial_value=timezone, max_length=64),
            hint="An IANA name such as Europe/Berlin; your Slack time zone is filled in",
        ),
        _input(
            "frequency",
            "How often",
            StaticSelectElement(
                action_id="value",
                options=[_option(k, v) for k, v in FREQUENCIES.items()],
                initial_option=_option(frequency, FREQUENCIES[frequency]),
            ),
        ),
        _input(
            "weekday",
            "Day (weekly digests)",
            StaticSelectElement(
                action_id="value",
                options=[_option(str(n), day) for n, day in enumerate(WEEKDAYS)],
                initial_option=_option(str(weekday), WEEKDAYS[weekday]),
            ),
            optional=True,
        ),
        _input(
            "delivery",
            "Deliver to",
            RadioButtonsElement(
                action_id="value",
                options=options,
                initial_option=next((o for o in options if o.value == chosen), options[0]),
            ),
        ),
        _input(
            "email",
            "Email address",
            EmailInputElement(
                action_id="value",
                initial_value=current.target if current and current.channel == "email" else None,
            ),
            optional=True,
            hint="Only when delivering by email",
        ),
    ]
    return View(
        type="modal",
        callback_id=CALLBACK_ID,
        title="Paper digest",
        submit="Save",
        close="Cancel",
        private_metadata=state.dump(),
        blocks=blocks,
    )


def _value(values: dict[str, Any], block_id: str) -> str:
    field: dict[str, Any] = values.get(block_id, {}).get("value", {})
    picked = field.get("selected_option") or {}
    raw = field.get("value") or field.get("selected_time") or picked.get("value") or ""
    return str(raw)


def _lines(values: dict[str, Any], block_id: str, what: str, errors: dict[str, str]) -> tuple[str, ...]:
    try:
        text = check_text(_value(values, block_id), what=what, limit=3000)
    except InvalidInput as exc:
        errors[block_id] = exc.message
        return ()
    lines = tuple(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
    if len(lines) > MAX_LINES:
        errors[block_id] = f"{len(lines)} lines; add at most {MAX_LINES} at a time"
    return lines


def _schedule(values: dict[str, Any], errors: dict[str, str]) -> ScheduleChange | None:
    send_time = _value(values, "time") or "08:00"
    timezone = _value(values, "timezone").strip() or "UTC"
    frequency = _value(values, "frequency") or "daily"
    weekday = int(_value(values, "weekday") or 0)
    checks: dict[str, Callable[[], Schedule]] = {  # one field at a time: errors land under their input
        "time": lambda: Schedule(send_time=send_time),
        "timezone": lambda: Schedule(timezone=timezone),
        "frequency": lambda: Schedule(frequency=parse_frequency(frequency)),
    }
    for block_id, check in checks.items():
        try:
            check()
        except InvalidInput as exc:
            errors[block_id] = exc.message
    if errors:
        return None
    return ScheduleChange(
        frequency=parse_frequency(frequency), send_time=send_time, timezone=timezone, weekday=weekday
    )


def parse_submission(values: dict[str, Any], state: ModalState) -> Submission:
    """The submitted form, or FormError naming each bad field."""
    errors: dict[str, str] = {}
    interests = _lines(values, "interests", "the interests", errors)
    seeds = _lines(values, "seeds", "the seed papers", errors)
    too_long = next((line for line in interests if len(line) > 1000), None)
    if too_long:
        errors["interests"] = f"An interest is {len(too_long):,} characters; keep each under 1,000"
    delivery = _value(values, "delivery") or "dm"
    email = _value(values, "email").strip() or None
    if delivery == "email" and email is None:
        errors["email"] = "Enter the address the digest should go to"
    if delivery == "channel" and not is_channel_id(state.channel_id):
        errors["delivery"] = "Run /papers subscribe in the channel that should get the digest"
    schedule = _schedule(values, errors)
    if errors or schedule is None:
        raise FormError(errors)
    return Submission(interests, seeds, schedule, delivery, email if delivery == "email" else None)
