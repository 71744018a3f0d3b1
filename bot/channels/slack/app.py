"""The slack-bolt App (HTTP mode, or Socket Mode with an app-level token) and its Starlette route.

Events, slash commands and interactivity all arrive at POST /slack/events, signed by Slack. The
signature and timestamp are checked on the raw bytes before anything parses the body: a request
that fails gets 401 and one log line, whatever it carries (bolt would parse first and crash with a
500 on a malformed body). Bolt checks again before any listener runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.channels.slack import actions, commands, events, views
from bot.channels.slack.post import make_client
from bot.errors import ConfigError
from bot.service import Paperbot

__all__ = ["EVENTS_PATH", "create_slack_app", "slack_routes", "connect_socket_mode"]

EVENTS_PATH = "/slack/events"
log = logging.getLogger("paperbot.slack")


def _dedupe(bot: Paperbot) -> Callable[..., BoltResponse | None]:
    """Act on each request once. Slack re-sends an event it thinks we missed (X-Slack-Retry-Num,
    signed anew): one event_id, once. Any other request replayed as it was signed (the signature is
    valid for 5 minutes) would repeat what it did, e.g. add an interest twice: one signature, once."""

    def dedupe(req: BoltRequest, body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        signature = (req.headers.get("x-slack-signature") or [""])[0]  # none in Socket Mode
        if event_id and not bot.first_time(key=f"slack-event:{event_id}"):
            log.info("slack: event %s already handled; ignoring the retry", event_id)
            return BoltResponse(status=200, body="")
        if not event_id and signature and not bot.first_time(key=f"slack-request:{signature}"):
            log.info("slack: a replayed %s request (same signature) ignored", body.get("type") or "command")
            return BoltResponse(status=200, body="")
        next()
        return None

    return dedupe


def _log_error(error: Exception, body: dict[str, Any]) -> None:
    """Unexpected errors: the traceback goes to the log only; Slack shows its generic failure."""
    log.error("slack: %s request failed", body.get("type") or "command", exc_info=error)


def _bolt_app(client: WebClient, secret: str) -> App:
    """A bolt App whose token is checked now (auth.test): a wrong token stops paperbot at start
    with a clear message. If Slack cannot be reached, the check waits for the first request, so
    the rest of paperbot (email, scheduler) still starts.

    The app is named after our own logger: on every request bolt copies its base logger's level onto
    the logger called like the app, and under the name "paperbot" that reset the whole `paperbot.*`
    tree to NOTSET, silencing every INFO line after the first Slack request."""
    try:
        return App(client=client, signing_secret=secret, name=log.name, logger=log)
    except BoltError as exc:
        raise ConfigError(
            f"Slack refused PAPERBOT_SLACK_BOT_TOKEN ({exc}); docs/slack.md shows where to copy it"
        ) from None
    except (SlackClientError, OSError) as exc:
        log.warning("slack: cannot reach Slack to check the token (%s); checking at the first request", exc)
        return App(
            client=client,
            signing_secret=secret,
            name=log.name,
            logger=log,
            token_verification_enabled=False,
        )


def create_slack_app(
    bot: Paperbot,
    *,
    client: WebClient | None = None,
    socket_mode: bool = False,
    embed_interests: Callable[[int], None] | None = None,
) -> App:
    """The bolt app with every listener; HTTP mode needs PAPERBOT_SLACK_SIGNING_SECRET.
    `embed_interests` hands new text interests to an embed worker instead of embedding them here."""
    secret = bot.settings.slack_signing_secret
    if secret is None and not socket_mode:
        raise ConfigError("PAPERBOT_SLACK_SIGNING_SECRET is not set; docs/slack.md says where to find it")
    app = _bolt_app(client or make_client(bot.settings), secret.get_secret_value() if secret else "")
    app.use(_dedupe(bot))
    app.error(_log_error)
    commands.register(app, bot, embed_interests)
    views.register(app, bot, embed_interests)
    actions.register(app, bot)
    events.register(app, bot)
    return app


def signed_by_slack(verifier: SignatureVerifier, body: bytes, headers: Any) -> bool:
    """Whether `body` carries Slack's valid, fresh (5 minutes) signature; never raises."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    # SignatureVerifier would raise on a timestamp that is not a number.
    return timestamp.isdigit() and verifier.is_valid(body, timestamp, signature)


def slack_routes(
    bot: Paperbot, *, client: WebClient | None = None, embed_interests: Callable[[int], None] | None = None
) -> list[Route]:
    """Mount in the web app: `Starlette(routes=[*slack_routes(bot), ...])` (`embed_interests`: see
    create_slack_app)."""
    app = create_slack_app(bot, client=client, embed_interests=embed_interests)
    assert bot.settings.slack_signing_secret is not None  # create_slack_app refuses HTTP mode without
    verifier = SignatureVerifier(bot.settings.slack_signing_secret.get_secret_value())

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        peer = request.client.host if request.client else "?"
        if not signed_by_slack(verifier, body, request.headers):
            log.warning("slack: refused a request from %s without a valid, fresh signature (401)", peer)
            return Response(status_code=401)
        try:
            bolt_request = to_bolt_request(request, body)
        except (UnicodeDecodeError, ValueError):  # signed, so from Slack, yet unreadable
            log.warning("slack: a signed request from %s has a body that cannot be parsed (400)", peer)
            return Response(status_code=400)
        # bolt's Starlette adapter dispatches on the event loop; listeners block (database, Web API),
        # so dispatch in a worker thread and keep the loop free for other requests.
        return to_starlette_response(await run_in_threadpool(app.dispatch, bolt_request))

    return [Route(EVENTS_PATH, endpoint, methods=["POST"])]


def connect_socket_mode(bot: Paperbot) -> SocketModeHandler:
    """Serve Slack over a WebSocket (no public URL needed). Returns once connected; the connection
    runs in background threads until `.close()` (e.g. at the end of `paperbot serve`)."""
    token = bot.settings.slack_app_token
    if token is None:
        raise ConfigError("PAPERBOT_SLACK_APP_TOKEN (xapp-…) is not set; Socket Mode needs it")
    handler = SocketModeHandler(create_slack_app(bot, socket_mode=True), token.get_secret_value())
    handler.connect()  # type: ignore[no-untyped-call]  # bolt leaves connect() unannotated
    return handler
