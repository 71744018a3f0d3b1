"""The pages an email reader reaches from a digest's links.

Mail scanners open every link in a message, so a GET only shows a page; a POST acts:

    GET  /email/feedback/{token}?vote=up  "Record 👍 for <title>?" and a button  (changes nothing)
    POST /email/feedback/{token}?vote=up  records the vote; again: "already recorded"; last vote wins
    GET  /email/unsubscribe/{token}  a page with an Unsubscribe button          (changes nothing)
    POST /email/unsubscribe/{token}  unsubscribes; also RFC 8058 one-click (body List-Unsubscribe=One-Click)
    GET  /email/manage/{token}       the subscription's settings
    POST /email/manage/{token}       action=resume: subscribe again

Unsubscribe tokens act once. Posting a used one again while still unsubscribed says so (200, as
mail providers may retry one-click); after subscribing again it is refused (410), so an old mail
cannot silently undo the new subscription.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.channels.email import templates
from bot.channels.email.links import Links
from bot.errors import InvalidInput, UsedToken
from bot.records import SubscriptionView
from bot.service import Paperbot
from bot.vocab import VOTE_LABELS, parse_vote

__all__ = ["EmailPages", "email_routes", "message_page", "PRIVATE"]

log = logging.getLogger("paperbot.web")
# Token URLs must not leak through Referer, caches or search engines.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = templates.get_template(template).render(context)
    return HTMLResponse(html, status_code=status, headers=PRIVATE)


def message_page(heading: str, *lines: str, status: int = 200, **extra: Any) -> HTMLResponse:
    context = {"paper": None, "form": None, "note": None, **extra}
    return _page("message.html", status, heading=heading, lines=lines, **context)


def _schedule(s: SubscriptionView) -> str:
    days = {"daily": "daily", "weekdays": "on weekdays", "weekly": f"every {WEEKDAYS[s.weekday]}"}
    return f"{days.get(s.frequency, s.frequency)} at {s.send_time} ({s.timezone})"


class EmailPages:
    """The handlers, bound to one Paperbot, its link signer and a clock."""

    def __init__(self, bot: Paperbot, links: Links, clock: Callable[[], datetime]) -> None:
        self.bot, self.links, self.clock = bot, links, clock

    async def feedback(self, request: Request) -> Response:
        ticket = self.links.read_feedback(request.path_params["token"], now=self.clock())
        try:
            vote = parse_vote(request.query_params.get("vote", ""))
        except InvalidInput:
            raise InvalidInput("This link is missing its vote. Open it again from the email.") from None
        words = VOTE_LABELS[vote]
        if request.method == "GET":
            entry = await run_in_threadpool(lambda: self.bot.digest_entry(item_id=ticket.item_id))
            form = {"action": f"{request.url.path}?vote={vote}", "button": f"Yes, record {words}"}
            return message_page(f"Record {words}?", paper=entry.listing.title, form=form)
        result = await run_in_threadpool(
            lambda: self.bot.record_item_feedback(
                digest_item_id=ticket.item_id, vote=vote, via="email", now=self.clock()
            )
        )
        if not result.changed:
            return message_page("Already recorded", f"Your {words} was already recorded.", paper=result.title)
        return message_page(
            f"Thanks — {words} recorded",
            "Your next digest will reflect it.",
            paper=result.title,
            note="Changed your mind? Use another link under this paper in the email; the last vote counts.",
        )

    async def unsubscribe(self, request: Request) -> Response:
        ticket = self.links.read_unsubscribe(request.path_params["token"], now=self.clock())
        subscription = await run_in_threadpool(
            lambda: self.bot.subscription(subscription_id=ticket.subscription_id)
        )
        if request.method == "GET":
            if not subscription.active:
                return message_page("You are unsubscribed", f"{subscription.target} gets no more digests.")
            form = {"action": request.url.path, "button": "Unsubscribe"}
            return message_page(
                "Unsubscribe from paperbot?", f"No more digests will go to {subscription.target}.", form=form
            )
        # RFC 8058 one-click and the page's button both land here; either way the POST acts.
        if await run_in_threadpool(lambda: self.bot.seen(key=ticket.key)):
            if subscription.active:
                raise UsedToken(
                    "This unsubscribe link was already used, and you subscribed again since. "
                    "To unsubscribe now, use the link in your latest digest."
                )
            return message_page("You are unsubscribed", f"{subscription.target} gets no more digests.")
        if subscription.active:
            await run_in_threadpool(lambda: self.bot.unsubscribe(subscription_id=subscription.id))
            log.info("subscription %d unsubscribed by email link", subscription.id)
        await run_in_threadpool(lambda: self.bot.first_time(key=ticket.key))
        return message_page(
            "You are unsubscribed",
            f"{subscription.target} will get no more digests. Sorry to see you go.",
            note="Your interests and votes are kept, in case you come back.",
        )

    async def manage(self, request: Request) -> Response:
        token = request.path_params["token"]
        now = self.clock()
        ticket = self.links.read_manage(token, now=now)
        subscription = await run_in_threadpool(
            lambda: self.bot.subscription(subscription_id=ticket.subscription_id)
        )
        if request.method == "POST":
            form = parse_qs((await request.body()).decode("utf-8", "replace"))
            if form.get("action") == ["resume"]:
                await run_in_threadpool(
                    lambda: self.bot.set_active(subscription_id=subscription.id, active=True)
                )
            return RedirectResponse(request.url.path, status_code=303, headers=PRIVATE)
        subscriber = await run_in_threadpool(
            lambda: self.bot.subscriber(subscriber_id=subscription.subscriber_id)
        )
        unsubscribe = self.links.unsubscribe_token(subscription_id=subscription.id, now=now)
        return _page(
            "manage.html",
            heading="Your subscription",
            subscription=subscription,
            schedule=_schedule(subscription),
            interests=[i.label for i in subscriber.interests],
            unsubscribe_url=self.links.unsubscribe_url(unsubscribe),
            resume_url=request.url.path,
        )


def email_routes(bot: Paperbot, links: Links, clock: Callable[[], datetime]) -> list[Route]:
    """The three link targets of every email digest, bound to `bot`."""
    pages = EmailPages(bot, links, clock)
    both = ["GET", "POST"]
    return [
        Route("/email/feedback/{token}", pages.feedback, methods=both, name="feedback"),
        Route("/email/unsubscribe/{token}", pages.unsubscribe, methods=both, name="unsubscribe"),
        Route("/email/manage/{token}", pages.manage, methods=both, name="manage"),
    ]
