"""Send rendered mail over SMTP, with retry and backoff for failures that may pass.

    4xx reply, refused / dropped / timed-out connection  -> retried; TemporaryDeliveryError at the end
    5xx reply (mailbox unknown, policy, auth)            -> DeliveryError with the server's reason

One `SmtpSender` keeps its connection open across sends, so a batch of digests pays for one TLS
handshake and login; a connection the server dropped while idle is reopened without a pause. Each
message is serialised once, by `wire.wire_bytes`, before the first attempt.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from types import TracebackType

from bot.channels.email.wire import envelope, wire_bytes
from bot.config import Settings
from bot.errors import DeliveryError, TemporaryDeliveryError

__all__ = ["SmtpSender", "classify"]

log = logging.getLogger("paperbot.smtp")


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"


def classify(exc: Exception, *, host: str) -> DeliveryError:
    """The paperbot error for an SMTP failure: temporary (worth retrying) or permanent."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, message = next(iter(exc.recipients.values()))
        exc = smtplib.SMTPResponseException(code, message)
    if isinstance(exc, smtplib.SMTPAuthenticationError) and exc.smtp_code >= 500:
        return DeliveryError(
            f"the mail server {host} rejected the login ({_reply(exc.smtp_code, exc.smtp_error)}); "
            "check PAPERBOT_SMTP_USER and PAPERBOT_SMTP_PASSWORD"
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = _reply(exc.smtp_code, exc.smtp_error)
        if 400 <= exc.smtp_code < 500:
            return TemporaryDeliveryError(f"the mail server {host} said try later: {reply}")
        return DeliveryError(f"the mail server {host} refused the message: {reply}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(
            f"the mail server {host} does not offer STARTTLS; use port 465 for implicit TLS, "
            "or set PAPERBOT_SMTP_STARTTLS=false for a trusted local relay"
        )
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(f"TLS with the mail server {host} failed: {exc}; check PAPERBOT_SMTP_PORT")
    # SMTPServerDisconnected, refused, reset, timeout, DNS: the server or the network may come back.
    return TemporaryDeliveryError(f"could not reach the mail server {host}: {exc or type(exc).__name__}")


class SmtpSender:
    """Sends messages through the configured SMTP server, reusing one connection.

    Thread-safe: `paperbot serve` shares one sender between the scheduled digest jobs, which run in
    threads, so 10,000 digests due at 08:00 need one connection, not 10,000. A connection idle for
    longer than `idle_timeout` is closed before the next send rather than trusted.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 4,
        backoff: float = 2.0,
        timeout: float = 30.0,
        idle_timeout: float = 60.0,
    ) -> None:
        if not settings.smtp_host:
            raise DeliveryError("no SMTP server configured: set PAPERBOT_SMTP_HOST (or use the outbox)")
        self.settings = settings
        self.host = settings.smtp_host
        self._sleep = sleep
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        self._conn: smtplib.SMTP | None = None
        self._used = 0.0  # time.monotonic() of the last send on this connection
        self._lock = threading.RLock()

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.smtp_host is not None
        context = ssl.create_default_context()
        conn: smtplib.SMTP
        if s.smtp_port == 465:
            conn = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=self.timeout, context=context)
        else:
            conn = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout)
        try:
            if s.smtp_port != 465 and s.smtp_starttls:
                conn.starttls(context=context)
            if s.smtp_user:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                conn.login(s.smtp_user, password)
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    def send(self, message: EmailMessage, *, sleep: Callable[[float], None] | None = None) -> str:
        """Deliver `message`; returns its Message-ID. Raises DeliveryError / TemporaryDeliveryError.
        `sleep` waits between retries (default: the sender's own)."""
        with self._lock:
            if self._conn is not None and time.monotonic() - self._used > self.idle_timeout:
                self.close()
            self._send(message, sleep or self._sleep)
            self._used = time.monotonic()
            return str(message["Message-ID"] or "")

    def _send(self, message: EmailMessage, sleep: Callable[[float], None]) -> None:
        sender, recipients = envelope(message)
        # An address beyond ASCII needs SMTPUTF8 and UTF-8 headers: smtplib's own path negotiates both.
        data = wire_bytes(message) if (sender + "".join(recipients)).isascii() else None
        attempt = 0
        while True:
            reused = self._conn is not None
            try:
                if self._conn is None:
                    self._conn = self._connect()
                if data is None:
                    self._conn.send_message(message)
                else:
                    self._conn.sendmail(sender, recipients, data)
                return
            except (smtplib.SMTPException, OSError) as exc:
                self.close()
                error = classify(exc, host=self.host)
                if reused and isinstance(exc, smtplib.SMTPServerDisconnected):
                    continue  # the server closed an idle connection: reopen at once, no attempt spent
                attempt += 1
                if not isinstance(error, TemporaryDeliveryError):
                    raise error from exc
                if attempt >= self.attempts:
                    raise TemporaryDeliveryError(
                        f"{error.message} (gave up after {attempt} attempts)"
                    ) from exc
                delay = self.backoff * 2 ** (attempt - 1)
                log.warning("%s; retrying in %.0f s", error.message, delay)
                sleep(delay)
