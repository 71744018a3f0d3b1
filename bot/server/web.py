"""The ASGI app: the email readers' pages (bot.channels.email.pages), the public sign-up page when it is
on (bot.channels.email.signup), then whatever routes front ends add.

Bad, expired and refused tokens get a friendly page with a 4xx; any PaperbotError becomes a page (or
JSON for Accept: application/json) with its status; anything else a 500 page without a traceback.

Other front ends add routes: `create_app(bot, routes=[Route("/healthz", ...), Mount("/slack", ...)])`
or `app.mount(...)` afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from bot.channels.email.links import Links
from bot.channels.email.pages import PRIVATE, email_routes, message_page
from bot.channels.email.signup import signup_routes
from bot.errors import PaperbotError
from bot.service import Paperbot

__all__ = ["create_app"]

HEADINGS = {
    400: "This link does not work",
    404: "Not found",
    410: "This link can no longer be used",
    500: "Sorry, something went wrong on our side",
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"ok": False, "error": message, "status": status}, status, headers=PRIVATE)
    return message_page(HEADINGS.get(status, HEADINGS[400 if status < 500 else 500]), message, status=status)


async def _paperbot_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PaperbotError)
    return _error(request, exc.status, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
    return _error(request, exc.status_code, message)


async def _crash(request: Request, exc: Exception) -> Response:
    # Starlette re-raises after this response, so the server logs the traceback; the user sees none.
    return _error(request, 500, "Please try again in a few minutes.")


def create_app(
    bot: Paperbot,
    *,
    routes: Sequence[BaseRoute] = (),
    links: Links | None = None,
    clock: Callable[[], datetime] = _utcnow,
    embed_interests: Callable[[int], None] | None = None,
) -> Starlette:
    """The web app for `bot`; `routes` are added after the email pages (Slack events, health, metrics).
    `embed_interests` embeds a subscriber's new interests after the page answered (default: here).
    The public sign-up page is there only with PAPERBOT_PUBLIC_SUBSCRIBE (else /subscribe is a 404)."""
    links = links or Links.from_settings(bot.settings)
    signup = signup_routes(bot, links, clock, embed_interests) if bot.settings.public_subscribe else []
    app = Starlette(
        routes=[*email_routes(bot, links, clock, embed_interests), *signup, *routes],
        exception_handlers={PaperbotError: _paperbot_error, HTTPException: _http_error, Exception: _crash},
    )
    app.state.bot = bot
    return app
