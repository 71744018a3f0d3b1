"""Signed, expiring tokens for email links, and the URLs that carry them.

A token holds ids only (never an address) and is signed with itsdangerous under one salt per purpose,
so a feedback token can never be used as an unsubscribe token. Keys rotate: the newest key signs,
every key in the list verifies (list them oldest to newest).

Replay rules (see docs in `bot/channels/email/pages.py`):
- feedback: the token names a digest item; the vote is a query parameter (all three buttons share
  one token). Re-posting is harmless: the same vote is "already recorded", the last vote wins.
- unsubscribe: each token carries a nonce and acts at most once. Its key is stored in ProcessedEvent;
  a used token whose subscription was re-activated since is refused (410) instead of unsubscribing again.
- confirm (public sign-up, PAPERBOT_PUBLIC_SUBSCRIBE): nothing is stored before the address is
  confirmed, so this token carries what was typed (the address and the interests) and goes only to
  that address. It subscribes once (its nonce key in ProcessedEvent); a second POST changes nothing.
  The sign-up form carries a form token bound to a random cookie of the same browser (CSRF).
- manage: the token opens the settings page as often as the reader likes (GET changes nothing). Every
  form on the page carries a form token (the CSRF value): signed for this subscription, short-lived,
  with a nonce that acts once, so a forged, stale or replayed POST changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from bot.config import Settings
from bot.errors import ExpiredToken, TokenError
from bot.vocab import VOTES

__all__ = [
    "MAX_AGE",
    "FeedbackToken",
    "UnsubscribeToken",
    "ManageToken",
    "FormToken",
    "ConfirmToken",
    "Links",
    "unsubscribe_mailto",
]

# How long a link works after the mail was sent. Unsubscribe links outlive the others on purpose:
# people unsubscribe from old mail, and bulk-sender rules expect the link to keep working.
MAX_AGE = {
    "feedback": timedelta(days=60),
    "unsubscribe": timedelta(days=365),
    "manage": timedelta(days=60),
    "form": timedelta(hours=12),  # a settings page left open overnight asks for a reload, not more
    "signup": timedelta(hours=12),  # the public sign-up form, like a settings form
    "confirm": timedelta(days=2),  # a sign-up not confirmed within two days is forgotten
}


@dataclass(frozen=True)
class FeedbackToken:
    """Proves that the reader got this digest item; the vote is the button they chose (in the URL)."""

    item_id: int  # DigestItem id


@dataclass(frozen=True)
class UnsubscribeToken:
    subscription_id: int
    nonce: str  # makes each unsubscribe link a distinct one-time key

    @property
    def key(self) -> str:
        """The ProcessedEvent key that marks this token as used."""
        return f"unsubscribe:{self.subscription_id}:{self.nonce}"


@dataclass(frozen=True)
class ManageToken:
    subscription_id: int


@dataclass(frozen=True)
class FormToken:
    """The CSRF value of one rendered settings page: names its subscription, acts once."""

    subscription_id: int
    nonce: str

    @property
    def key(self) -> str:
        """The ProcessedEvent key that marks this form as submitted."""
        return f"form:{self.subscription_id}:{self.nonce}"


@dataclass(frozen=True)
class ConfirmToken:
    """A sign-up waiting for its address to be confirmed: what the person typed, and a one-time nonce."""

    email: str
    interests: tuple[str, ...]
    nonce: str

    @property
    def key(self) -> str:
        """The ProcessedEvent key that marks this sign-up as confirmed."""
        return f"confirm:{self.nonce}"


@lru_cache(maxsize=64)
def _serializer(keys: tuple[str, ...], purpose: str, stamp: int) -> URLSafeTimedSerializer:
    # itsdangerous reads time.time(); time is a parameter in paperbot, so the signer's clock is pinned.
    # Cached: a digest signs dozens of links at one `now`, and building serializers dominated rendering.
    derived: dict[str | bytes | None, bytes] = {}

    class PinnedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return stamp

        def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
            # Keys and salt are fixed for this class: derive each key once, not once per link.
            if secret_key not in derived:
                derived[secret_key] = super().derive_key(secret_key)
            return derived[secret_key]

    return URLSafeTimedSerializer(list(keys), salt=f"paperbot.{purpose}", signer=PinnedSigner)


class Links:
    """Makes and reads signed link tokens; builds the public URLs under `base_url`."""

    def __init__(self, keys: Sequence[str], *, base_url: str) -> None:
        if not keys or not all(keys):
            raise TokenError("no signing key: set PAPERBOT_SECRET_KEY or let paperbot generate one")
        self.keys = list(keys)
        self.base_url = base_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> Links:
        """The current key signs; PAPERBOT_OLD_SECRET_KEYS (oldest first) still verify mailed links."""
        old = [key.get_secret_value() for key in settings.old_secret_keys]
        return cls([*old, settings.signing_key()], base_url=settings.base_url)

    # ---- tokens ------------------------------------------------------------------------------

    def _serializer(self, purpose: str, now: datetime) -> URLSafeTimedSerializer:
        return _serializer(tuple(self.keys), purpose, int(now.timestamp()))

    def dumps(self, purpose: str, payload: list[Any], *, now: datetime) -> str:
        return str(self._serializer(purpose, now).dumps(payload))

    def loads(self, purpose: str, token: str, *, now: datetime) -> list[Any]:
        """The payload, or TokenError (tampered / wrong purpose) or ExpiredToken."""
        max_age = int(MAX_AGE[purpose].total_seconds())
        try:
            payload = self._serializer(purpose, now).loads(token, max_age=max_age)
        except SignatureExpired:
            raise ExpiredToken(
                "This link has expired. Use the links in your latest digest, or ask for a fresh one."
            ) from None
        except BadSignature:
            raise TokenError(
                "This link is not valid: it may have been cut off or changed. "
                "Open it again from the email, or copy the whole address."
            ) from None
        if not isinstance(payload, list) or not all(isinstance(part, int | str) for part in payload):
            raise TokenError("This link is not valid. Open it again from the email.")
        return payload

    def feedback_token(self, *, item_id: int, now: datetime) -> str:
        return self.dumps("feedback", [item_id], now=now)

    def read_feedback(self, token: str, *, now: datetime) -> FeedbackToken:
        match self.loads("feedback", token, now=now):
            case [int(item_id)]:
                return FeedbackToken(item_id=item_id)
        raise TokenError("This feedback link is not valid. Open it again from the email.")

    def unsubscribe_token(self, *, subscription_id: int, now: datetime, nonce: str | None = None) -> str:
        return self.dumps("unsubscribe", [subscription_id, nonce or secrets.token_hex(6)], now=now)

    def read_unsubscribe(self, token: str, *, now: datetime) -> UnsubscribeToken:
        match self.loads("unsubscribe", token, now=now):
            case [int(subscription_id), str(nonce)]:
                return UnsubscribeToken(subscription_id=subscription_id, nonce=nonce)
        raise TokenError("This unsubscribe link is not valid. Open it again from the email.")

    def manage_token(self, *, subscription_id: int, now: datetime) -> str:
        return self.dumps("manage", [subscription_id], now=now)

    def read_manage(self, token: str, *, now: datetime) -> ManageToken:
        match self.loads("manage", token, now=now):
            case [int(subscription_id)]:
                return ManageToken(subscription_id=subscription_id)
        raise TokenError("This settings link is not valid. Open it again from the email.")

    def form_token(self, *, subscription_id: int, now: datetime) -> str:
        return self.dumps("form", [subscription_id, secrets.token_hex(8)], now=now)

    def read_form(self, token: str, *, subscription_id: int, now: datetime) -> FormToken:
        """The form token of a POST to `subscription_id`'s settings; TokenError when it is missing,
        forged, or made for another subscription; ExpiredToken when the page is too old."""
        refused = "This form is not valid (it did not come from your settings page). Reload the page."
        try:
            payload = self.loads("form", token, now=now) if token else None
        except ExpiredToken:
            raise ExpiredToken("This page was open too long. Reload the page and try again.") from None
        except TokenError:
            raise TokenError(refused) from None
        match payload:
            case [int(owner), str(nonce)] if owner == subscription_id:
                return FormToken(subscription_id=owner, nonce=nonce)
        raise TokenError(refused)

    def confirm_token(self, *, email: str, interests: list[str], now: datetime) -> str:
        return self.dumps("confirm", [email, secrets.token_hex(8), *interests], now=now)

    def read_confirm(self, token: str, *, now: datetime) -> ConfirmToken:
        match self.loads("confirm", token, now=now):
            case [str(email), str(nonce), *interests] if all(isinstance(i, str) for i in interests):
                return ConfirmToken(email=email, interests=tuple(map(str, interests)), nonce=nonce)
        raise TokenError("This confirmation link is not valid. Open it again from the email.")

    def signup_form_token(self, *, browser: str, now: datetime) -> str:
        """The CSRF value of the sign-up form, bound to the `browser` cookie sent with the page."""
        return self.dumps("signup", [browser, secrets.token_hex(8)], now=now)

    def read_signup_form(self, token: str, *, browser: str, now: datetime) -> str:
        """The one-time key of a sign-up form token; TokenError when it is missing, forged or was
        made for another browser (a cross-site POST cannot read the cookie), ExpiredToken when old."""
        refused = "This form is not valid (it did not come from the sign-up page). Reload the page."
        try:
            payload = self.loads("signup", token, now=now) if token and browser else None
        except ExpiredToken:
            raise ExpiredToken("This page was open too long. Reload the page and try again.") from None
        except TokenError:
            raise TokenError(refused) from None
        match payload:
            case [str(owner), str(nonce)] if secrets.compare_digest(owner, browser):
                return f"signup:{nonce}"
        raise TokenError(refused)

    # ---- URLs --------------------------------------------------------------------------------

    def feedback_urls(self, *, item_id: int, now: datetime) -> dict[str, str]:
        """One URL per vote, all with the same token: `<base>/email/feedback/<token>?vote=up`."""
        token = self.feedback_token(item_id=item_id, now=now)
        return {vote: f"{self.base_url}/email/feedback/{token}?vote={vote}" for vote in VOTES}

    def unsubscribe_url(self, token: str) -> str:
        return f"{self.base_url}/email/unsubscribe/{token}"

    def confirm_url(self, token: str) -> str:
        return f"{self.base_url}/subscribe/confirm/{token}"

    def manage_url(self, *, subscription_id: int, now: datetime) -> str:
        return f"{self.base_url}/email/manage/{self.manage_token(subscription_id=subscription_id, now=now)}"


def unsubscribe_mailto(address: str, token: str) -> str:
    """The mailto: form of List-Unsubscribe; the token in the subject identifies the subscription."""
    return f"mailto:{address}?subject={quote('unsubscribe ' + token)}"
