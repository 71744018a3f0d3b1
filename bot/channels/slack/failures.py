"""A listener that fails after its ack: the user is told what failed and what to do; the log has the rest.

No exception may leave a listener once it has acked. bolt (1.30, threaded listeners) answers with
`ack.response` once its poll (every 10 ms, up to 3 s) sees it set; a listener that raises after its
ack makes bolt set `ack.response` back to None, so when the failure comes within those 10 ms (a fast
Web API refusing at once) the poll never sees the ack, and the acked request gets a 404 after 3 s.
`reported` catches the failure, logs it, and tells the user where they acted.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt.kwargs_injection.args import Args
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import PaperbotError

__all__ = ["reported", "failure_text", "notify"]

log = logging.getLogger("paperbot.slack")

# Web API error codes a user can act on: what happened, in their words.
SLACK_ERRORS = {
    "expired_trigger_id": "Slack's window for opening the form had closed before paperbot answered",
    "exchanged_trigger_id": "Slack had already used that click to open a form",
    "ratelimited": "Slack asked paperbot to slow down",
}


def _doing(body: dict[str, Any]) -> str:
    """What the user did, as they would name it."""
    if body.get("command"):
        return "`" + " ".join(filter(None, (body["command"], str(body.get("text", "")).strip()))) + "`"
    kind = body.get("type")
    if kind == "view_submission":
        return "Saving the form"
    if kind == "event_callback":
        return "Updating your Home tab" if body["event"].get("type") == "app_home_opened" else "Your vote"
    return "That button"


def failure_text(body: dict[str, Any], error: Exception) -> str:
    """One ephemeral line: what failed, why (in Slack's own code too), and what to do."""
    if isinstance(error, SlackApiError):
        code = str(error.response.get("error") or f"HTTP {error.response.status_code}")
        reason = f"{SLACK_ERRORS.get(code, 'Slack refused a request')} ({code})"
    elif isinstance(error, PaperbotError):
        reason = error.message
    else:
        reason = "something unexpected went wrong (the details are in paperbot's log)"
    again = f"run {_doing(body)} again" if body.get("command") else "try it again"
    return (
        f":warning: {_doing(body)} did not finish: {reason}. Please {again}; if it keeps failing, "
        "ask whoever runs paperbot to look at its log."
    )


def _user(body: dict[str, Any]) -> str | None:
    user = body.get("user_id") or body.get("user") or body.get("event", {}).get("user")
    return str(user["id"] if isinstance(user, dict) else user) if user else None


def notify(client: WebClient, *, user_id: str, channel_id: str | None, text: str) -> None:
    """An ephemeral note where the user started; a DM from the app when that channel refuses it."""
    if channel_id:
        try:
            client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
            return
        except SlackApiError as exc:
            log.info("ephemeral to %s refused (%s); sending a DM", channel_id, exc.response.get("error"))
    client.chat_postMessage(channel=user_id, text=text)


def _tell(args: Args, text: str) -> None:
    """Through the response_url where Slack gave one (commands, message buttons), else a DM."""
    if args.context.response_url:
        args.respond(text=text, response_type="ephemeral", replace_original=False)
    elif user := _user(args.body):
        args.client.chat_postMessage(channel=user, text=text)


def reported(listener: Callable[..., None]) -> Callable[[Args], None]:
    """Wrap a listener for `app.command(...)`, `app.action(...)`, etc. It receives the arguments it
    names, as bolt would give them; a failure before the ack goes to bolt as usual (Slack shows its
    own error), one after it is logged and told to the user, and never raised."""
    names = tuple(inspect.signature(listener).parameters)

    def run(args: Args) -> None:
        try:
            listener(**{name: getattr(args, name) for name in names})
        except Exception as exc:
            if args.ack.response is None:  # events are acked before their listener runs
                raise
            log.error("slack: %s failed after the ack", _doing(args.body), exc_info=exc)
            try:
                _tell(args, failure_text(args.body, exc))
            except Exception as again:  # noqa: BLE001 - raising now would bring back the 404
                log.warning("slack: could not tell the user either (%s)", again)

    # Not functools.wraps: bolt follows __wrapped__ to decide which arguments to pass.
    run.__name__, run.__qualname__ = listener.__name__, listener.__qualname__
    return run
