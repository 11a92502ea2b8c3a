"""What a permanent failure, or a credential about to expire, turns into: an alert, at most one email,
a disconnected connection and a paused queue where the cause calls for them.

`Alerter.on_task_failure` is the worker's failure hook: a task that failed for good with a permanent or
configuration cause opens (or bumps) the alert of its integration or connection. A credential cause
marks the connection disconnected; an account-wide cause (an expired token, a revoked app) pauses the
account's queue. Saving new credentials or changing the integration resolves the alert in the store
(see `store.alerts`), which queues the failed work again and resumes the queue.

`Alerter.check_expiring_credentials` looks at every connection whose credential has a known expiry (a
`token_expires_at` in its config or secret, or the `exp` claim of a JWT token) and alerts
`expiry_warning_days` ahead. Nothing here raises into a sync: problems are logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from monday_snowflake.errors import CAUSES, Cause, NotFoundError, cause_of
from monday_snowflake.metrics import ALERTS
from monday_snowflake.model import Integration
from monday_snowflake.notify.email import Mailer, redact
from monday_snowflake.queue.handlers import Outcome
from monday_snowflake.queue.records import ClaimedTask
from monday_snowflake.queue.tasks import TaskQueue
from monday_snowflake.settings import Settings
from monday_snowflake.store.alerts import AlertRecord, EmailDraft
from monday_snowflake.store.records import ConnectionPublic
from monday_snowflake.store.repository import Store

log = logging.getLogger(__name__)

EXPIRY_KEYS = ("token_expires_at", "expires_at")
TOKEN_KEYS = ("token", "access_token")


class Alerter:
    """Raises alerts and sends their emails for one store and queue."""

    def __init__(self, store: Store, queue: TaskQueue, settings: Settings) -> None:
        self.store = store
        self.queue = queue
        self.settings = settings
        self.mailer = Mailer(settings.email, store)

    # -- failed tasks -----------------------------------------------------------------------------

    async def on_task_failure(self, task: ClaimedTask, outcome: Outcome, correlation_id: str) -> None:
        """The worker's hook for a task that failed for good. Never raises."""
        if outcome.error is None:
            return
        try:
            created = await asyncio.to_thread(self.record_failure, task, outcome, correlation_id)
            if created is not None:
                await asyncio.to_thread(self.mailer.deliver_due)
        except Exception:
            log.exception("could not raise the alert for task %s", task.id)

    def record_failure(self, task: ClaimedTask, outcome: Outcome, correlation_id: str) -> AlertRecord | None:
        """Open or bump the alert for a task that failed for good; the alert if it was just opened."""
        assert outcome.error is not None
        return self.record_error(
            task.account_id,
            str(task.payload.get("integration_id") or "") or None,
            outcome.error,
            correlation_id,
            task_id=task.id,
            queue_paused=outcome.pause_queue,
        )

    async def on_realtime_failure(self, integration: Integration, error: BaseException, run_id: str) -> None:
        """The real-time applier's hook for a flush that failed: webhooks are not queue tasks, but an
        expired token or a revoked permission stops them just the same. Never raises."""
        try:
            created = await asyncio.to_thread(
                self.record_error, integration.account_id, integration.id, error, run_id
            )
            if created is not None:
                await asyncio.to_thread(self.mailer.deliver_due)
        except Exception:
            log.exception("could not raise the alert for real-time flush %s", run_id)

    def record_error(
        self,
        account_id: str,
        integration_id: str | None,
        error: BaseException,
        correlation_id: str,
        *,
        task_id: str | None = None,
        queue_paused: bool = False,
    ) -> AlertRecord | None:
        """Open or bump the alert for a permanent or configuration error of an integration's work; the
        alert if it was just opened. Transient errors open none: they are retried, and the run history
        shows them."""
        cause = cause_of(error)
        if cause.kind == "transient":
            return None
        names: dict[str, str] = {}
        connection: ConnectionPublic | None = None
        secrets: list[str] = []
        if integration_id is not None:
            try:
                integration = self.store.get_integration(integration_id, account_id=account_id)
            except NotFoundError:
                integration_id = None
            else:
                names["integration"] = integration.name
                names["board"] = integration.board_id
                if integration.target_table:
                    names["table"] = ".".join(
                        (integration.target_database, integration.target_schema, integration.target_table)
                    )
                for connection_id in (integration.monday_connection_id, integration.snowflake_connection_id):
                    secrets.extend(_secret_values(self.store, connection_id))
                wanted = {
                    "snowflake": integration.snowflake_connection_id,
                    "monday": integration.monday_connection_id,
                }
                if cause.source in wanted:
                    connection = self.store.get_connection(wanted[cause.source], account_id)
        message = redact(str(error) or type(error).__name__, secrets)
        pause = queue_paused or cause.account_wide
        if cause.account_wide and not queue_paused:
            self.queue.pause(account_id)
            log.error("pausing the queue of account %s until %s is fixed", account_id, cause.name)
        draft = self._draft(account_id, cause, message, names, connection, correlation_id)
        alert, created = self.store.raise_alert(
            account_id,
            cause,
            message,
            integration_id=integration_id,
            connection_id=connection.id if connection else None,
            error_class=type(error).__name__,
            correlation_id=correlation_id,
            task_id=task_id,
            paused_queue=pause,
            email=draft,
        )
        if created:
            ALERTS.labels(cause.name).inc()
            log.error(
                "alert opened: %s (%s) for account %s, alert %s, correlation id %s",
                cause.title,
                cause.name,
                account_id,
                alert.id,
                correlation_id,
            )
            return alert
        log.warning("alert %s seen again (%d times): %s", alert.id, alert.occurrences, cause.name)
        return None

    # -- credentials about to expire --------------------------------------------------------------

    def check_expiring_credentials(self, now: datetime | None = None) -> list[AlertRecord]:
        """Open an alert for every connection whose credential expires within the warning window;
        returns the alerts opened now. Never raises."""
        now = now or datetime.now(UTC)
        window = timedelta(days=self.settings.alerts.expiry_warning_days)
        opened: list[AlertRecord] = []
        cause = CAUSES["credential_expiring"]
        try:
            account_ids = self.store.account_ids()
        except Exception:
            log.exception("could not list accounts for the credential expiry check")
            return opened
        for account_id in account_ids:
            for connection in self.store.list_connections(account_id):
                try:
                    secret = self.store.connection_secret(connection.id, account_id)
                    expires = credential_expiry(connection.config, secret)
                    if expires is None or expires - now > window:
                        continue
                    days = (expires - now).total_seconds() / 86400
                    when = expires.strftime("%Y-%m-%d %H:%M UTC")
                    subject = f"The credential of the {connection.kind} connection '{connection.name}'"
                    message = (
                        f"{subject} expired on {when}."
                        if days <= 0
                        else f"{subject} expires on {when} (in {days:.1f} days)."
                    )
                    draft = self._draft(account_id, cause, message, {}, connection, None)
                    alert, created = self.store.raise_alert(
                        account_id, cause, message, connection_id=connection.id, email=draft
                    )
                    if created:
                        ALERTS.labels(cause.name).inc()
                        log.warning(
                            "credential expiry alert %s opened for connection %s", alert.id, connection.id
                        )
                        opened.append(alert)
                except Exception:
                    log.exception("could not check the expiry of connection %s", connection.id)
        return opened

    def periodic(self, *, check_expiry: bool) -> None:
        """One round of the scheduler's chores: the expiry check when asked, then due emails."""
        if check_expiry:
            self.check_expiring_credentials()
        self.mailer.deliver_due()

    # -- the email --------------------------------------------------------------------------------

    def _draft(
        self,
        account_id: str,
        cause: Cause,
        message: str,
        names: dict[str, str],
        connection: ConnectionPublic | None,
        correlation_id: str | None,
    ) -> EmailDraft:
        recipients = tuple(dict.fromkeys([*self.settings.email.to, *self.store.alert_recipients(account_id)]))
        # a credential problem is the connection's, whichever of its integrations met it first
        about = (connection.name if connection and cause.credential else None) or names.get("integration")
        about = about or (connection.name if connection else "monday-snowflake")
        what = []
        if "integration" in names:
            target = f" into {names['table']}" if "table" in names else ""
            what.append(f"The integration '{names['integration']}' (board {names['board']}{target}) failed.")
        if connection is not None:
            what.append(f"Connection: '{connection.name}' ({connection.kind}).")
        lines = [
            f"What failed: {' '.join(what) or cause.title}",
            f"Why: {cause.title}. {message}",
            f"What to do: {cause.action}",
            "",
            "Until then the work waits; nothing is lost. Saving new credentials for the connection (or "
            "fixing the integration) resolves this alert and the waiting work runs. You can also resolve "
            "it with POST /alerts/{id}/resolve.",
            "",
            f"Cause: {cause.name}",
        ]
        if correlation_id:
            lines.append(f"Correlation id: {correlation_id}")
        return EmailDraft(recipients, f"[monday-snowflake] {cause.title}: {about}", "\n".join(lines) + "\n")


def credential_expiry(config: dict[str, Any], secret: dict[str, Any]) -> datetime | None:
    """When a connection's credential expires, if it says: a `token_expires_at` (ISO 8601) in its
    config or secret, else the `exp` claim of a JWT token. None for a credential that renews itself
    (an OAuth token with a refresh token): its access token's expiry is no one's task."""
    if secret.get("refresh_token"):
        return None
    for source in (config, secret):
        for key in EXPIRY_KEYS:
            value = source.get(key)
            if isinstance(value, str) and value:
                try:
                    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                except ValueError:
                    continue
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    for key in TOKEN_KEYS:
        token = secret.get(key)
        if isinstance(token, str):
            exp = jwt_expiry(token)
            if exp is not None:
                return exp
    return None


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT, read without verifying it (only to warn ahead of time)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return None
    return datetime.fromtimestamp(exp, UTC)


def _secret_values(store: Store, connection_id: str) -> list[str]:
    try:
        secret = store.connection_secret(connection_id)
    except Exception:
        return []
    return [v for v in secret.values() if isinstance(v, str)]
