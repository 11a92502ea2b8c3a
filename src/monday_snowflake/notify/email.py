"""Alert emails: written to the outbox first, then sent over SMTP (or, with no SMTP host, logged).

Each attempt is recorded on the outbox row; a failed attempt is retried with exponential backoff up to
`max_attempts`, then the email is marked failed. Sending never raises into its caller: an email
problem never fails a sync. Bodies are redacted before they are stored.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Iterable
from email.message import EmailMessage

from monday_snowflake.metrics import EMAILS
from monday_snowflake.settings import EmailSettings
from monday_snowflake.store.alerts import AlertStore, OutboxRecord

log = logging.getLogger(__name__)

_TOKEN_SHAPES = (
    re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"),  # a JWT (OAuth access tokens, app tokens)
    re.compile(r"(?i)(bearer|token|password|secret)([\s:=\"']+)[^\s\"',;]{8,}"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without the given secret values and without anything shaped like a token."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _TOKEN_SHAPES[0].sub("***", text)
    return _TOKEN_SHAPES[1].sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


class Mailer:
    """Sends what is due in the outbox."""

    def __init__(self, settings: EmailSettings, store: AlertStore) -> None:
        self.settings = settings
        self.store = store

    def deliver_due(self) -> int:
        """Try every due email once; returns how many were sent or logged. Never raises."""
        done = 0
        try:
            due = self.store.due_emails()
        except Exception:
            log.exception("could not read the email outbox")
            return 0
        for email in due:
            try:
                done += self._deliver(email)
            except Exception:
                log.exception("could not record an attempt at email %s", email.id)
        return done

    def _deliver(self, email: OutboxRecord) -> int:
        if not self.store.claim_email(email.id, lease_seconds=self.settings.timeout_seconds * 4):
            return 0  # another process or task is sending it
        if not self.settings.smtp_host or not email.recipients:
            why = "no SMTP host is configured" if not self.settings.smtp_host else "it has no recipient"
            log.warning(
                "alert email kept in the outbox (%s): to=%s subject=%s",
                why,
                ", ".join(email.recipients) or "-",
                email.subject,
            )
            self.store.record_email_attempt(email.id, "logged", error=f"not sent: {why}")
            EMAILS.labels("logged").inc()
            return 1
        try:
            self._send(email)
        except (OSError, smtplib.SMTPException) as exc:
            attempts = email.attempts + 1
            error = f"{type(exc).__name__}: {exc}"
            if attempts >= self.settings.max_attempts:
                log.error("alert email %s failed for good after %d attempts: %s", email.id, attempts, error)
                self.store.record_email_attempt(email.id, "failed", error=error)
                EMAILS.labels("failed").inc()
            else:
                wait = self.settings.backoff_base_seconds * 2 ** (attempts - 1)
                log.warning(
                    "alert email %s attempt %d failed (%s); retrying in %.0fs",
                    email.id,
                    attempts,
                    error,
                    wait,
                )
                self.store.record_email_attempt(email.id, "pending", error=error, retry_in=wait)
                EMAILS.labels("retried").inc()
            return 0
        self.store.record_email_attempt(email.id, "sent")
        EMAILS.labels("sent").inc()
        log.info("alert email sent: to=%s subject=%s", ", ".join(email.recipients), email.subject)
        return 1

    def _send(self, email: OutboxRecord) -> None:
        settings = self.settings
        assert settings.smtp_host is not None
        message = EmailMessage()
        message["From"] = settings.sender
        message["To"] = ", ".join(email.recipients)
        message["Subject"] = email.subject
        message["X-Monday-Snowflake-Email-Id"] = email.id
        message.set_content(email.body)
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds) as smtp:
            smtp.ehlo()
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.user:
                password = settings.password.get_secret_value() if settings.password else ""
                smtp.login(settings.user, password)
            smtp.send_message(message)
