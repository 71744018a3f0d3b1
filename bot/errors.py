"""Every error paperbot raises on purpose, in one tree.

    PaperbotError                 base; .message is shown to the user as is
    ├── ConfigError               a setting is missing or invalid (names the setting)
    ├── InvalidInput              a value given by the user is wrong (names the value and the fix)
    │   └── NotFound              an id that does not exist (status 404)
    ├── SourceError               a feed could not be used (the source is skipped, others go on)
    │   ├── FetchError            network: timeout, refused, 4xx/5xx after retries
    │   └── FeedFormatError       the bytes are not a feed we understand, or the feed reports an error
    ├── TokenError                an email link token is tampered or unreadable (status 400)
    │   ├── ExpiredToken          older than its purpose allows (status 410)
    │   └── UsedToken             a one-time link that already did its job (status 410)
    └── DeliveryError             a digest could not be delivered
        └── TemporaryDeliveryError    worth retrying later (4xx SMTP reply, refused connection, 5xx API)

    UnsupportedModel (a ValueError)  the model cannot run on the asked backend

Web front ends read `.status`; the CLI prints `Error: <message>` and exits 1.
"""

from __future__ import annotations

__all__ = [
    "PaperbotError",
    "ConfigError",
    "InvalidInput",
    "NotFound",
    "SourceError",
    "FetchError",
    "FeedFormatError",
    "TokenError",
    "ExpiredToken",
    "UsedToken",
    "DeliveryError",
    "TemporaryDeliveryError",
    "UnsupportedModel",
]


class PaperbotError(Exception):
    """Base class; the message is meant for the user."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(PaperbotError):
    """A setting is missing or has an invalid value."""


class InvalidInput(PaperbotError):
    """A value the user gave is not acceptable."""

    status = 400


class NotFound(InvalidInput):
    """An id that does not exist."""

    status = 404


class SourceError(PaperbotError):
    """A source could not be ingested; the run skips it and goes on."""

    status = 502


class FetchError(SourceError):
    """Downloading a source failed (after retries where that made sense). `http_status` is the
    server's 4xx answer, when that was the reason (a 404 from an API means "no such record")."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class FeedFormatError(SourceError):
    """The content is not a feed paperbot understands, or the feed itself reports an error."""


class TokenError(PaperbotError):
    """An email link token is invalid, expired or already used."""

    status = 400


class ExpiredToken(TokenError):
    """The link is older than its purpose allows."""

    status = 410


class UsedToken(TokenError):
    """A one-time link that has already done its job."""

    status = 410


class DeliveryError(PaperbotError):
    """A digest could not be delivered; permanent unless a subclass says otherwise."""


class TemporaryDeliveryError(DeliveryError):
    """Delivery failed for a reason that may pass (try again later)."""


class UnsupportedModel(ValueError):
    """The model cannot run on the asked backend; the message says what to use instead.

    A ValueError, not a PaperbotError: it is raised while a model loads, where settings validation
    (or the caller) turns it into the error that names the setting."""
