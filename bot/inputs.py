"""What users type, checked the same way by every front end (CLI, Slack, email pages): interest
text, email addresses and schedules. Pure: no database, no model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import InvalidInput
from bot.vocab import Frequency, parse_frequency

__all__ = ["INVISIBLE", "MAX_TEXT", "Schedule", "check_email", "check_text"]

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


def check_email(address: str) -> str:
    address = address.strip()
    if not _EMAIL.match(address) or len(address) > 320:
        raise InvalidInput(f"{address!r} is not an email address")
    return address
