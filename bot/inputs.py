"""What users type, checked the same way by every front end (CLI, Slack, email pages): interest
text, email addresses and schedules. Pure: no database, no model."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import InvalidInput
from bot.vocab import Frequency, parse_frequency

__all__ = [
    "INVISIBLE",
    "MAX_TEXT",
    "Schedule",
    "ScheduleChange",
    "WEEKDAY_NAMES",
    "check_email",
    "check_text",
    "interest_key",
    "parse_weekday",
]

MAX_TEXT = 1000
# C0/C1 controls, zero-width and bidi overrides: invisible, and a way to disguise text
INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def check_text(text: str) -> str:
    """The interest text without invisible characters (Slack refuses them; the CLI and email drop them)."""
    text = INVISIBLE.sub("", text).strip()
    if not text:
        raise InvalidInput('an interest needs some text, e.g. "graph neural networks for molecules"')
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"interest text is {len(text)} characters; keep it under {MAX_TEXT:,}")
    return text


def interest_key(text: str) -> str:
    """What makes two interest texts the same one: case and spacing aside."""
    return " ".join(text.split()).casefold()


WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class Schedule:
    """When a subscription's digest goes out; validated on construction."""

    frequency: Frequency = "daily"
    send_time: str = "08:00"
    timezone: str = "UTC"
    weekday: int = 0
    digest_size: int = 10
    always_send: bool = False

    def __post_init__(self) -> None:
        parse_frequency(self.frequency)  # typed, but front ends build it from what users type
        if not _TIME.match(self.send_time):
            raise InvalidInput(f"time {self.send_time!r} is not HH:MM (24-hour), e.g. 08:30")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(
                f"time zone {self.timezone!r} is unknown; use an IANA name like Europe/Berlin"
            ) from None
        if not 0 <= self.weekday <= 6:
            raise InvalidInput(f"weekday {self.weekday} must be 0 (Monday) to 6 (Sunday)")
        if not 1 <= self.digest_size <= 50:
            raise InvalidInput(f"digest size {self.digest_size} must be between 1 and 50")


@dataclass(frozen=True)
class ScheduleChange:
    """Some fields of a Schedule; the ones left None keep their current value."""

    frequency: Frequency | None = None
    send_time: str | None = None
    timezone: str | None = None
    weekday: int | None = None
    digest_size: int | None = None
    always_send: bool | None = None

    def applied_to(self, current: Schedule) -> Schedule:
        """`current` with the given fields replaced; raises InvalidInput like Schedule does."""
        given = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        return replace(current, **given)


def parse_weekday(value: str) -> int:
    """0 (Monday) to 6 (Sunday) from a number or an English day name or prefix ("tue", "Tuesday")."""
    text = value.strip().lower()
    if text.isdigit() and int(text) < len(WEEKDAY_NAMES):
        return int(text)
    found = [n for n, name in enumerate(WEEKDAY_NAMES) if len(text) >= 2 and name.startswith(text)]
    if len(found) != 1:
        raise InvalidInput(f"weekday {value!r} is not a day: use monday to sunday (or 0 to 6, 0 is Monday)")
    return found[0]


def check_email(address: str) -> str:
    address = address.strip()
    if not _EMAIL.match(address) or len(address) > 320:
        raise InvalidInput(f"{address!r} is not an email address")
    return address
