"""The public sign-up page: subscribe by email without Slack (PAPERBOT_PUBLIC_SUBSCRIBE=1; off, 404).

    GET  /subscribe                  the form: address and interests (one per line)
    POST /subscribe                  checks them, mails a confirmation link, then 303 to /subscribe/sent
    GET  /subscribe/sent             "check your inbox"
    GET  /subscribe/confirm/{token}  what will be subscribed, and a Confirm button   (changes nothing)
    POST /subscribe/confirm/{token}  subscribes, then 303 to the settings page (/email/manage/...)

Double opt-in: nothing is stored until the confirmation link is used, so nothing can be sent to an
address whose owner did not ask. The link is signed and expires (bot.channels.email.links, 2 days);
it subscribes once, and confirming again only opens the settings page. Interests are stored without
their vectors and embedded after the page has answered, as on the settings page.

The form is CSRF-safe: its token is signed for a random cookie of the same browser (SameSite=Strict),
and acts once. Rate limits, per process: PER_IP sign-ups from one client address, PER_ADDRESS
confirmation mails to one email address; over them the answer is a 429 page.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.channels.email.limits import Limit, Limiter
from bot.channels.email.links import MAX_AGE, Links
from bot.channels.email.outbox import write_outbox
from bot.channels.email.pages import PRIVATE, embed_later, embedder, form_fields, message_page, page
from bot.channels.email.render import render_confirmation
from bot.errors import DeliveryError, InvalidInput, UsedToken
from bot.inputs import MAX_TEXT, Schedule, check_email, check_text
from bot.records import SubscriberView
from bot.service import Paperbot

__all__ = ["PER_IP", "PER_ADDRESS", "MAX_INTERESTS", "SignupPages", "signup_routes"]

log = logging.getLogger("paperbot.web")

PER_IP = Limit(count=5, window=timedelta(hours=1))
PER_ADDRESS = Limit(count=3, window=timedelta(days=1))
MAX_INTERESTS = 5
MAX_BODY = 16_384  # the form's fields at their largest, with room to spare
COOKIE = "paperbot_signup"
DEFAULT = Schedule()  # what a confirmed sign-up gets until its settings page changes it


class SignupPages:
    """The handlers, bound to one Paperbot, its link signer, a clock and the rate limits' counts."""

    def __init__(
        self,
        bot: Paperbot,
        links: Links,
        clock: Callable[[], datetime],
        embed_interests: Callable[[int], None] | None = None,
    ) -> None:
        self.bot, self.links, self.clock = bot, links, clock
        self.embed_interests = embed_interests or embedder(bot)
        self.per_ip, self.per_address = Limiter(PER_IP), Limiter(PER_ADDRESS)

    async def form(self, request: Request) -> Response:
        if request.method == "GET":
            return self._form(request)
        now = self.clock()
        client = request.client.host if request.client else "unknown"
        if not self.per_ip.allow(client, now=now):
            return _too_many(f"at most {PER_IP.count} sign-ups an hour come from one network", PER_IP)
        body = await request.body()
        if len(body) > MAX_BODY:
            raise InvalidInput(f"This form is too large. Keep each interest under {MAX_TEXT:,} characters.")
        fields = form_fields(body)
        key = self.links.read_signup_form(
            fields.get("csrf", ""), browser=request.cookies.get(COOKIE, ""), now=now
        )
        if not await run_in_threadpool(lambda: self.bot.first_time(key=key)):
            raise UsedToken("This form was already sent. Reload the sign-up page to sign up again.")
        email, interests, errors = _checked(fields)
        if errors:
            return self._form(request, fields=fields, errors=errors, status=400)
        if not self.per_address.allow(email.lower(), now=now):
            return _too_many(
                f"we already sent {PER_ADDRESS.count} confirmation mails to this address today; "
                "look for them in your inbox and spam folder",
                PER_ADDRESS,
            )
        token = self.links.confirm_token(email=email, interests=interests, now=now)
        mail = render_confirmation(
            email=email,
            interests=interests,
            confirm_url=self.links.confirm_url(token),
            settings=self.bot.settings,
            now=now,
        )
        try:
            await run_in_threadpool(lambda: self._send(mail, name=f"confirm-{secrets.token_hex(6)}"))
        except DeliveryError as exc:
            log.warning("public sign-up: the confirmation mail could not be sent: %s", exc.message)
            problem = "We could not send the confirmation mail just now. Try again in a few minutes."
            return self._form(request, fields=fields, errors={"email": problem}, status=503)
        log.info("public sign-up: confirmation mail sent (%d interests)", len(interests))
        return RedirectResponse("/subscribe/sent", status_code=303, headers=PRIVATE)

    def _send(self, mail: EmailMessage, *, name: str) -> None:
        """Through SMTP when a server is configured, else into the outbox, like a digest."""
        if self.bot.settings.smtp_host:
            self.bot.smtp.send(mail)
        else:
            write_outbox(mail, outbox_dir=self.bot.settings.outbox_dir, name=name)

    def _form(
        self,
        request: Request,
        *,
        fields: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        browser = request.cookies.get(COOKIE) or secrets.token_urlsafe(16)
        response = page(
            "subscribe.html",
            status,
            heading="Get paperbot digests by email",
            csrf=self.links.signup_form_token(browser=browser, now=self.clock()),
            fields=fields or {},
            errors=errors or {},
            max_text=MAX_TEXT,
            max_interests=MAX_INTERESTS,
            per_ip=PER_IP.count,
            per_address=PER_ADDRESS.count,
        )
        response.set_cookie(
            COOKIE,
            browser,
            max_age=int(MAX_AGE["signup"].total_seconds()),
            path="/subscribe",
            secure=self.bot.settings.base_url.startswith("https://"),
            httponly=True,
            samesite="strict",
        )
        return response

    async def sent(self, request: Request) -> Response:
        return message_page(
            "Check your inbox",
            "We sent you a link to confirm your address. Nothing else is sent to it until you click it.",
            note=f"The link works for {MAX_AGE['confirm'].days} days. No mail? Look in the spam folder.",
        )

    async def confirm(self, request: Request) -> Response:
        now = self.clock()
        ticket = self.links.read_confirm(request.path_params["token"], now=now)
        if request.method == "GET":
            return message_page(
                "Confirm your subscription",
                f"Digests go to {ticket.email}: every day at {DEFAULT.send_time} ({DEFAULT.timezone}), "
                f"up to {DEFAULT.digest_size} papers. You can change that after confirming.",
                f"Your interests: {'; '.join(ticket.interests)}",
                form={"action": request.url.path, "button": "Confirm subscription"},
            )
        task = None
        if await run_in_threadpool(lambda: self.bot.first_time(key=ticket.key)):
            view = await run_in_threadpool(
                lambda: self.bot.subscribe(email=ticket.email, interests=ticket.interests, embed=False)
            )
            done = "confirmed"
            task = BackgroundTask(embed_later, self.embed_interests, view.id)
            log.info("public sign-up confirmed: subscriber %d, %d interests", view.id, len(ticket.interests))
        else:
            found = await run_in_threadpool(lambda: self.bot.find_subscriber(email=ticket.email))
            if found is None:
                raise UsedToken("This sign-up was already confirmed. Sign up again on the sign-up page.")
            view, done = found, "already_confirmed"
        manage = self.links.manage_token(subscription_id=_email_subscription(view, ticket.email), now=now)
        return RedirectResponse(
            f"/email/manage/{manage}?done={done}", status_code=303, headers=PRIVATE, background=task
        )


def _checked(fields: dict[str, str]) -> tuple[str, list[str], dict[str, str]]:
    """(address, interests, errors by field), each field checked as the CLI checks it."""
    errors: dict[str, str] = {}
    email, interests = "", []
    try:
        email = check_email(fields.get("email", ""))
    except InvalidInput as exc:
        errors["email"] = exc.message
    lines = [line for line in fields.get("interests", "").splitlines() if line.strip()]
    try:
        if not lines:
            raise InvalidInput('write at least one interest, e.g. "graph neural networks for molecules"')
        if len(lines) > MAX_INTERESTS:
            raise InvalidInput(
                f"{len(lines)} interests: give at most {MAX_INTERESTS} here, one per line "
                "(add more on your settings page later)"
            )
        interests = [check_text(line) for line in lines]
    except InvalidInput as exc:
        errors["interests"] = exc.message
    return email, interests, errors


def _email_subscription(view: SubscriberView, email: str) -> int:
    """The subscription that delivers to `email` (the one a confirmation made or resumed)."""
    found = (s.id for s in view.subscriptions if s.channel == "email" and s.target.lower() == email.lower())
    subscription = next(found, None)
    if subscription is None:
        raise UsedToken("This sign-up was already confirmed. Sign up again on the sign-up page.")
    return subscription


def _too_many(why: str, limit: Limit) -> Response:
    response = message_page("Too many sign-ups", f"Please wait before trying again: {why}.", status=429)
    response.headers["Retry-After"] = str(int(limit.window.total_seconds()))
    return response


def signup_routes(
    bot: Paperbot,
    links: Links,
    clock: Callable[[], datetime],
    embed_interests: Callable[[int], None] | None = None,
) -> list[Route]:
    """The sign-up page's routes, bound to `bot` (`embed_interests`: see EmailPages)."""
    pages = SignupPages(bot, links, clock, embed_interests)
    both = ["GET", "POST"]
    return [
        Route("/subscribe", pages.form, methods=both, name="subscribe"),
        Route("/subscribe/sent", pages.sent, methods=["GET"], name="subscribe_sent"),
        Route("/subscribe/confirm/{token}", pages.confirm, methods=both, name="confirm"),
    ]
