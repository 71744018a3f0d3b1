"""The pages an email reader reaches from a digest's links.

Mail scanners open every link in a message, so a GET only shows a page; a POST acts:

    GET  /email/feedback/{token}?vote=up  "Record 👍 for <title>?" and a button  (changes nothing)
    POST /email/feedback/{token}?vote=up  records the vote; again: "already recorded"; last vote wins
    GET  /email/unsubscribe/{token}  a page with an Unsubscribe button          (changes nothing)
    POST /email/unsubscribe/{token}  unsubscribes; also RFC 8058 one-click (body List-Unsubscribe=One-Click)
    GET  /email/manage/{token}       the settings page: interests, authors, keywords, schedule, pause,
                                     saved papers (forms post back here)
    POST /email/manage/{token}       one form's action (add/rename/remove interest, preferences, schedule,
                                     pause, resume, remove_saved), then 303 to the page with
                                     a confirmation; bad input re-renders it with the error at that form
    GET  /email/manage/{token}/saved.bib  the saved papers as BibTeX

Every settings form carries a one-time, signed form token (CSRF): without a valid one, or sent twice,
a POST changes nothing (400 / 410).

Unsubscribe tokens act once. Posting a used one again while still unsubscribed says so (200, as
mail providers may retry one-click); after subscribing again it is refused (410), so an old mail
cannot silently undo the new subscription.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.bibtex import format_bibtex
from bot.channels.email import templates
from bot.channels.email.links import Links
from bot.errors import InvalidInput, UsedToken
from bot.inputs import MAX_TEXT, check_text
from bot.records import SubscriptionView
from bot.service import Paperbot
from bot.vocab import VOTE_LABELS, parse_frequency, parse_vote

__all__ = [
    "EmailPages",
    "email_routes",
    "message_page",
    "page",
    "form_fields",
    "embedder",
    "embed_later",
    "PRIVATE",
]

log = logging.getLogger("paperbot.web")
# Token URLs must not leak through Referer, caches or search engines.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
PAUSES = (0, 1, 2)  # weeks; 0: until resumed
# The confirmation shown after each settings form (keyed by its action; never text from the request).
DONE = {
    "add_interest": "Interest added. Your next digest includes papers for it.",
    "rename_interest": "Interest renamed.",
    "remove_interest": "Interest removed. Your next digest no longer looks for it.",
    "preferences": "Followed authors and muted keywords saved. They apply from your next digest.",
    "schedule": "Schedule saved. Your next digest follows it.",
    "pause": "Digests paused.",
    "resume": "Digests resumed. The next one goes out at its scheduled time.",
    "remove_saved": "Removed from your saved papers.",
    # from the public sign-up's confirmation link (bot.channels.email.signup)
    "confirmed": "You are subscribed. Your first digest goes out at the time below; change anything here.",
    "already_confirmed": "This subscription was already confirmed: here are its settings.",
}


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = templates.get_template(template).render(context)
    return HTMLResponse(html, status_code=status, headers=PRIVATE)


def message_page(heading: str, *lines: str, status: int = 200, **extra: Any) -> HTMLResponse:
    context = {"paper": None, "form": None, "note": None, "link": None, **extra}
    return page("message.html", status, heading=heading, lines=lines, **context)


def _schedule(s: SubscriptionView) -> str:
    days = {"daily": "daily", "weekdays": "on weekdays", "weekly": f"every {WEEKDAYS[s.weekday]}"}
    return f"{days.get(s.frequency, s.frequency)} at {s.send_time} ({s.timezone})"


class EmailPages:
    """The handlers, bound to one Paperbot, its link signer and a clock. `embed_interests` embeds a
    subscriber's new interests once the page has answered: here by default; distributed mode's web
    tier hands them to the embed queue instead."""

    def __init__(
        self,
        bot: Paperbot,
        links: Links,
        clock: Callable[[], datetime],
        embed_interests: Callable[[int], None] | None = None,
    ) -> None:
        self.bot, self.links, self.clock = bot, links, clock
        self.embed_interests = embed_interests or embedder(bot)

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
            if subscription.active:  # the settings page can unsubscribe (or pause) the new subscription
                manage = self.links.manage_url(subscription_id=subscription.id, now=self.clock())
                return message_page(
                    "This link can no longer be used",
                    "This unsubscribe link was already used, and you subscribed again since.",
                    status=410,
                    link={"href": manage, "text": "Open your settings to unsubscribe or pause"},
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
        now = self.clock()
        ticket = self.links.read_manage(request.path_params["token"], now=now)
        subscription = await run_in_threadpool(
            lambda: self.bot.subscription(subscription_id=ticket.subscription_id)
        )
        if request.method == "GET":
            done = DONE.get(request.query_params.get("done", ""))
            return await self._settings(request, subscription, now, done=done)
        fields = form_fields(await request.body())
        form = self.links.read_form(fields.get("csrf", ""), subscription_id=subscription.id, now=now)
        if not await run_in_threadpool(lambda: self.bot.first_time(key=form.key)):
            raise UsedToken("This form was already sent. Reload the settings page to make another change.")
        action = fields.get("action", "")
        try:
            done = await run_in_threadpool(lambda: self._act(action, fields, subscription, now))
        except InvalidInput as exc:  # NotFound too: a stale page naming a removed interest
            errors = {action: exc.message}
            return await self._settings(request, subscription, now, errors=errors, status=exc.status)
        log.info("subscription %d: %s from the settings page", subscription.id, action)
        task = None
        if action == "add_interest":  # the reader does not wait on the model; ranking would embed it anyway
            task = BackgroundTask(embed_later, self.embed_interests, subscription.subscriber_id)
        return RedirectResponse(
            f"{request.url.path}?done={done}", status_code=303, headers=PRIVATE, background=task
        )

    def _act(self, action: str, fields: dict[str, str], subscription: SubscriptionView, now: datetime) -> str:
        """Apply one settings form; returns the DONE key of its confirmation. InvalidInput on bad input."""
        sub_id, owner = subscription.id, subscription.subscriber_id
        match action:
            case "add_interest":
                self.bot.add_interest(
                    subscriber_id=owner, text=check_text(fields.get("text", "")), embed=False
                )
            case "rename_interest":
                interest = _int(fields, "interest_id")
                self.bot.rename_interest(
                    subscriber_id=owner, interest_id=interest, label=fields.get("label", "")
                )
            case "remove_interest":
                self.bot.remove_interest(subscriber_id=owner, interest_id=_int(fields, "interest_id"))
            case "preferences":
                self.bot.set_preferences(
                    subscriber_id=owner,
                    follow_authors=_names(fields.get("authors", "")),
                    mute_keywords=_names(fields.get("keywords", "")),
                )
            case "schedule":
                self.bot.update_subscription(
                    subscription_id=sub_id,
                    send_time=fields.get("send_time", "").strip(),
                    timezone=fields.get("timezone", "").strip(),
                    frequency=parse_frequency(fields.get("frequency", "")),
                    weekday=_int(fields, "weekday"),
                    size=_int(fields, "size"),
                )
            case "pause":
                weeks = _int(fields, "weeks")
                if weeks not in PAUSES:
                    raise InvalidInput("choose a pause of 1 or 2 weeks, or until you resume")
                until = now + timedelta(weeks=weeks) if weeks else None
                reason = f"paused until {until:%Y-%m-%d}" if until else "paused on the settings page"
                self.bot.set_active(subscription_id=sub_id, active=False, reason=reason, until=until)
            case "resume":
                self.bot.set_active(subscription_id=sub_id, active=True)
            case "remove_saved":
                self.bot.remove_saved(subscriber_id=owner, listing_id=_int(fields, "listing_id"))
            case _:
                raise InvalidInput("This form asks for nothing paperbot knows. Reload the settings page.")
        return action

    async def _settings(
        self,
        request: Request,
        subscription: SubscriptionView,
        now: datetime,
        *,
        done: str | None = None,
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        owner = subscription.subscriber_id
        subscriber = await run_in_threadpool(lambda: self.bot.subscriber(subscriber_id=owner))
        saved = await run_in_threadpool(lambda: self.bot.saved_papers(subscriber_id=owner))
        unsubscribe = self.links.unsubscribe_token(subscription_id=subscription.id, now=now)
        return page(
            "manage.html",
            status,
            heading="Your subscription",
            subscription=subscription,
            subscriber=subscriber,
            schedule=_schedule(subscription),
            saved=saved,
            done=done,
            errors=errors or {},
            csrf=self.links.form_token(subscription_id=subscription.id, now=now),
            action=request.url.path,
            bib_url=f"{request.url.path}/saved.bib",
            unsubscribe_url=self.links.unsubscribe_url(unsubscribe),
            weekdays=WEEKDAYS,
            max_text=MAX_TEXT,
        )

    async def saved_bib(self, request: Request) -> Response:
        """The reading list as BibTeX (a download; changes nothing)."""
        ticket = self.links.read_manage(request.path_params["token"], now=self.clock())
        subscription = await run_in_threadpool(
            lambda: self.bot.subscription(subscription_id=ticket.subscription_id)
        )
        saved = await run_in_threadpool(
            lambda: self.bot.saved_papers(subscriber_id=subscription.subscriber_id)
        )
        headers = {**PRIVATE, "Content-Disposition": 'attachment; filename="paperbot-saved.bib"'}
        return Response(format_bibtex(saved), media_type="application/x-bibtex", headers=headers)


def form_fields(body: bytes) -> dict[str, str]:
    """A urlencoded form as {name: first value}."""
    return {name: values[0] for name, values in parse_qs(body.decode("utf-8", "replace")).items()}


def embedder(bot: Paperbot) -> Callable[[int], None]:
    """Embeds a subscriber's interests that have no vector, in this process."""

    def embed(subscriber_id: int) -> None:
        bot.embed_interests(subscriber_id=subscriber_id)

    return embed


def embed_later(embed: Callable[[int], None], subscriber_id: int) -> None:
    """Embed the interests a page stored without vectors (`embed`: here, or on the embed queue), after
    the page has answered."""
    try:
        embed(subscriber_id)
    except Exception:  # the next ranking embeds them; the page already answered
        log.exception("embedding the new interests of subscriber %d failed", subscriber_id)


def _int(fields: dict[str, str], name: str) -> int:
    value = fields.get(name, "").strip()
    if not value.lstrip("-").isdigit():
        raise InvalidInput(f"{name.replace('_', ' ')} {value!r} is not a number")
    return int(value)


def _names(text: str) -> list[str]:
    """Authors or keywords typed one per line or comma-separated, each checked like interest text."""
    return [check_text(part) for part in text.replace("\n", ",").split(",") if part.strip()]


def email_routes(
    bot: Paperbot,
    links: Links,
    clock: Callable[[], datetime],
    embed_interests: Callable[[int], None] | None = None,
) -> list[Route]:
    """The link targets of every email digest, bound to `bot` (`embed_interests`: see EmailPages)."""
    pages = EmailPages(bot, links, clock, embed_interests)
    both = ["GET", "POST"]
    return [
        Route("/email/feedback/{token}", pages.feedback, methods=both, name="feedback"),
        Route("/email/unsubscribe/{token}", pages.unsubscribe, methods=both, name="unsubscribe"),
        Route("/email/manage/{token}", pages.manage, methods=both, name="manage"),
        Route("/email/manage/{token}/saved.bib", pages.saved_bib, methods=["GET"], name="saved_bib"),
    ]
