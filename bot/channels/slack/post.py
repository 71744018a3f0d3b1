"""Send digests to Slack: slack-sdk WebClient with retries, per-channel pacing, errors that say the fix.

- 429: waited out (Retry-After); 5xx and dropped connections: retried with backoff. Both sleep
  through an injectable function so tests do not wait.
- At most about one message per second per channel (Slack's posting limit), also injectable.
- A destination that cannot work until someone acts (channel gone, bot not invited, app uninstalled)
  raises DeliveryError; anything that may pass raises TemporaryDeliveryError.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RetryHandler,
    RetryState,
)

from bot.channels.slack.blocks import SlackMessage, render_digest
from bot.config import Settings
from bot.digests.batch import Batch
from bot.errors import ConfigError, DeliveryError, TemporaryDeliveryError
from bot.records import DigestView, SubscriptionView

__all__ = [
    "SlackDelivery",
    "Pacer",
    "SlackPoster",
    "make_client",
    "deliver_digest",
    "is_user_id",
]

log = logging.getLogger("paperbot.slack")
Sleep = Callable[[float], None]

# error code -> what the workspace admin must do (shown in App Home and `paperbot status`)
PERMANENT = {
    "channel_not_found": "Slack channel {target} was not found (deleted, or private without paperbot): "
    "invite @paperbot to the channel, then run /papers resume there",
    "not_in_channel": "paperbot is not a member of Slack channel {target}: type `/invite @paperbot` in it, "
    "then /papers resume",
    "is_archived": "Slack channel {target} is archived: unarchive it or subscribe another channel, "
    "then /papers resume",
    "account_inactive": "the Slack app behind PAPERBOT_SLACK_BOT_TOKEN was uninstalled or deactivated: "
    "reinstall paperbot to the workspace, put the new xoxb- token in the settings, then resume",
    "user_not_found": "Slack user {target} no longer exists in this workspace",
    "user_disabled": "Slack user {target} is deactivated",
}


def is_user_id(target: str) -> bool:
    """A user id (U…/W…) means a DM; channel ids start with C, G or D."""
    return target[:1] in ("U", "W")


class _SleepingRetry(RetryHandler, ABC):
    """Retries the HTTP statuses `_retries` accepts, waiting `_delay` seconds through `sleep` (the
    built-in handlers call time.sleep directly, so tests would wait)."""

    def __init__(self, sleep: Sleep, max_retry_count: int) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and self._retries(response.status_code)

    @abstractmethod
    def _retries(self, status: int) -> bool: ...

    @abstractmethod
    def _delay(self, state: RetryState, response: HttpResponse | None) -> float: ...

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self._sleep(self._delay(state, response))
        state.increment_current_attempt()


class _RateLimitRetry(_SleepingRetry):
    """429: waits Retry-After seconds (at least one)."""

    def _retries(self, status: int) -> bool:
        return status == 429

    def _delay(self, state: RetryState, response: HttpResponse | None) -> float:
        headers = {key.lower(): value for key, value in (response.headers if response else {}).items()}
        retry_after = headers.get("retry-after") or ["1"]
        return max(float(retry_after[0]), 1.0)


class _ServerErrorRetry(_SleepingRetry):
    """Every 5xx (the built-in handler retries only 500 and 503), with backoff."""

    def _retries(self, status: int) -> bool:
        return 500 <= status < 600

    def _delay(self, state: RetryState, response: HttpResponse | None) -> float:
        return self.interval_calculator.calculate_sleep_duration(state.current_attempt)


def make_client(settings: Settings, *, sleep: Sleep = time.sleep, retries: int = 4) -> WebClient:
    """A WebClient for PAPERBOT_SLACK_BOT_TOKEN (and PAPERBOT_SLACK_API_URL) that retries 429, 5xx
    and dropped connections; `retries` counts all retries of one call together."""
    if settings.slack_bot_token is None:
        raise ConfigError("PAPERBOT_SLACK_BOT_TOKEN is not set (xoxb-…); docs/slack.md says where to find it")
    base_url = settings.slack_api_url or WebClient.BASE_URL
    return WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        timeout=30,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            _RateLimitRetry(sleep, max_retry_count=retries),
            _ServerErrorRetry(sleep, max_retry_count=retries),
        ],
    )


class Pacer:
    """Spaces posts to one channel `interval` seconds apart; other channels are not held up."""

    def __init__(
        self, interval: float = 1.0, *, sleep: Sleep = time.sleep, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval, self._sleep, self._clock = interval, sleep, clock
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, channel: str) -> None:
        with self._lock:  # reserve a slot, then sleep outside the lock
            now = self._clock()
            slot = max(now, self._next.get(channel, now))
            self._next[channel] = slot + self.interval
        if slot > now:
            self._sleep(slot - now)


@dataclass(frozen=True)
class SlackDelivery:
    """Where a digest went: the conversation, the first message's ts, and each message's items."""

    channel: str
    ts: str
    messages: tuple[tuple[str, tuple[int, ...]], ...]  # (ts, digest item ids shown)


class SlackPoster:
    """Posts rendered digests; keep one per run so pacing spans all digests of that run."""

    def __init__(self, client: WebClient, *, pacer: Pacer | None = None) -> None:
        self.client = client
        self.pacer = pacer or Pacer()

    def post_digest(self, view: DigestView) -> SlackDelivery:
        """DMs get one message (split if long); channels a parent message with a thread reply per paper."""
        threaded = not is_user_id(view.target)
        with _translated(view.target):
            channel = self._conversation(view.target)
            posted: list[tuple[str, tuple[int, ...]]] = []
            for message in render_digest(view, threaded=threaded):
                parent = posted[0][0] if posted and threaded else None
                posted.append((self.post(channel, message, thread_ts=parent), message.item_ids))
        return SlackDelivery(channel=channel, ts=posted[0][0], messages=tuple(posted))

    def post(self, channel: str, message: SlackMessage, *, thread_ts: str | None = None) -> str:
        self.pacer.wait(channel)
        extra: dict[str, Any] = {"thread_ts": thread_ts} if thread_ts else {}
        response = self.client.chat_postMessage(
            channel=channel, unfurl_links=False, unfurl_media=False, **message.payload(), **extra
        )
        return str(response["ts"])

    def _conversation(self, target: str) -> str:
        if not is_user_id(target):
            return target
        return str(self.client.conversations_open(users=target)["channel"]["id"])


@contextmanager
def _translated(target: str) -> Iterator[None]:
    """Turns slack-sdk errors into DeliveryError (someone must act) or TemporaryDeliveryError."""
    try:
        yield
    except SlackApiError as exc:
        code = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        if code in PERMANENT:
            raise DeliveryError(PERMANENT[code].format(target=target)) from None
        raise TemporaryDeliveryError(f"Slack refused the message to {target}: {code}") from None
    except (SlackClientError, OSError) as exc:
        raise TemporaryDeliveryError(f"could not reach Slack for {target}: {exc}") from None


def deliver_digest(view: DigestView, subscription: SubscriptionView, batch: Batch) -> str:
    """The "slack" channel of bot.digests.run: post one claimed digest, return the first message's ts.
    One poster (client and pacing) serves the whole batch. A digest whose messages were recorded by an
    earlier attempt that died before storing the outcome is not posted again (Slack has no Message-ID
    for clients to fold duplicates): its recorded ts is the outcome."""
    if (posted := batch.bot.posted_slack_ts(digest_id=view.id)) is not None:
        log.warning("slack: digest %d was posted before (ts %s); not posting it again", view.id, posted)
        return posted
    poster = batch.shared(
        "slack",
        lambda: SlackPoster(make_client(batch.settings, sleep=batch.sleep), pacer=Pacer(sleep=batch.sleep)),
    )
    delivery = poster.post_digest(view)
    # Remembered so that a reaction on a one-paper message names its paper.
    batch.bot.record_slack_messages(
        digest_id=view.id, channel_id=delivery.channel, messages=delivery.messages
    )
    log.info(
        "slack: digest %d to %s as %d message(s), ts %s",
        view.id,
        view.target,
        len(delivery.messages),
        delivery.ts,
    )
    return delivery.ts
