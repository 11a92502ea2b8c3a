"""Alerts and the email outbox: the store's half of "tell a person, once, and recover when fixed".

One alert is open per (account, subject, cause), where the subject is the connection for a credential
problem (every integration using it fails the same way) and the integration otherwise. A repeat bumps
`occurrences` and `last_seen` of the open alert; only the call that opened it gets `created=True`, and
only that call writes the alert's email to the outbox, in the same transaction, so one problem sends
one email however many tasks hit it at once.

Resolving an alert (new credentials for its connection, its integration changed, or by hand) queues
again the tasks that failed with it, marks a credential's connection connected again, and resumes the
account's queue once no open alert holds it paused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monday_snowflake.errors import CAUSES, Cause, ConfigurationError, NotFoundError
from monday_snowflake.store.base import StoreBase
from monday_snowflake.store.tables import (
    ALERT_STATUSES,
    AlertRow,
    ConnectionRow,
    EmailOutboxRow,
    TaskQueueRow,
    TaskRow,
    UserRow,
)

MAX_TASK_IDS = 100
"""Failed tasks remembered per alert (the newest); more would only repeat the same work."""
MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class AlertRecord:
    """An alert as the API and emails show it. `message` is redacted before it is stored."""

    id: str
    account_id: str
    integration_id: str | None
    connection_id: str | None
    cause: str
    kind: str
    status: str
    title: str
    message: str
    action: str
    error_class: str | None
    correlation_id: str | None
    occurrences: int
    paused_queue: bool
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    resolved_by: str | None


@dataclass(frozen=True)
class EmailDraft:
    recipients: tuple[str, ...]
    subject: str
    body: str


@dataclass(frozen=True)
class OutboxRecord:
    id: str
    account_id: str
    alert_id: str | None
    recipients: tuple[str, ...]
    subject: str
    body: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None


def alert_subject(cause: Cause, integration_id: str | None, connection_id: str | None) -> str:
    """What an alert is about: the connection for a credential cause, else the integration."""
    if cause.credential and connection_id:
        return f"connection:{connection_id}"
    if integration_id:
        return f"integration:{integration_id}"
    return f"connection:{connection_id or '-'}"


class AlertStore(StoreBase):
    """Alerts and the email outbox."""

    # -- raising ----------------------------------------------------------------------------------

    def raise_alert(
        self,
        account_id: str,
        cause: Cause,
        message: str,
        *,
        integration_id: str | None = None,
        connection_id: str | None = None,
        error_class: str | None = None,
        correlation_id: str | None = None,
        task_id: str | None = None,
        paused_queue: bool = False,
        email: EmailDraft | None = None,
    ) -> tuple[AlertRecord, bool]:
        """Open the alert for (account, subject, cause) or bump the open one; (alert, created).

        `email` is written to the outbox only when the alert is created. With `credential`, the
        connection is marked disconnected."""
        key = f"{account_id}|{alert_subject(cause, integration_id, connection_id)}|{cause.name}"
        message = message[:MAX_MESSAGE_CHARS]
        for _ in range(2):  # a concurrent insert of the same key: the second round bumps it
            try:
                with self._write() as session:
                    row = session.scalars(
                        select(AlertRow).where(AlertRow.open_key == key).with_for_update()
                    ).first()
                    now = self._clock()
                    created = row is None
                    if row is None:
                        row = AlertRow(
                            account_id=account_id,
                            integration_id=integration_id,
                            connection_id=connection_id,
                            cause=cause.name,
                            kind=cause.kind,
                            status="open",
                            title=cause.title,
                            message=message,
                            action=cause.action,
                            error_class=error_class,
                            correlation_id=correlation_id,
                            occurrences=1,
                            paused_queue=paused_queue,
                            task_ids=[task_id] if task_id else [],
                            open_key=key,
                            first_seen=now,
                            last_seen=now,
                        )
                        session.add(row)
                        session.flush()
                        if email is not None:
                            session.add(_outbox_row(account_id, row.id, email, now))
                    else:
                        row.occurrences += 1
                        row.last_seen = now
                        row.message = message
                        row.correlation_id = correlation_id or row.correlation_id
                        row.paused_queue = row.paused_queue or paused_queue
                        if task_id and task_id not in row.task_ids:
                            row.task_ids = [*row.task_ids, task_id][-MAX_TASK_IDS:]
                    if cause.disconnects and connection_id:
                        session.execute(
                            update(ConnectionRow)
                            .where(ConnectionRow.id == connection_id, ConnectionRow.account_id == account_id)
                            .values(status="disconnected", updated_at=now)
                        )
                    session.flush()
                    return _alert(row), created
            except IntegrityError:
                continue
        raise ConfigurationError(f"could not record the alert {cause.name!r}; try again")

    # -- reading ----------------------------------------------------------------------------------

    def get_alert(self, alert_id: str, account_id: str | None = None) -> AlertRecord:
        with self._read() as session:
            return _alert(_one_alert(session, alert_id, account_id))

    def list_alerts(
        self, account_id: str, status: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[AlertRecord]:
        """An account's alerts, the most recently seen first, optionally of one status."""
        stmt = select(AlertRow).where(AlertRow.account_id == account_id)
        if status is not None:
            if status not in ALERT_STATUSES:
                raise ConfigurationError(f"alert status must be one of {', '.join(ALERT_STATUSES)}")
            stmt = stmt.where(AlertRow.status == status)
        stmt = (
            stmt.order_by(AlertRow.last_seen.desc(), AlertRow.id).limit(max(limit, 0)).offset(max(offset, 0))
        )
        with self._read() as session:
            return [_alert(r) for r in session.scalars(stmt)]

    def open_alert_counts(self) -> dict[str, int]:
        """Open alerts by cause, over all accounts (for /metrics)."""
        with self._read() as session:
            rows = session.execute(
                select(AlertRow.cause, func.count()).where(AlertRow.status == "open").group_by(AlertRow.cause)
            ).all()
        return {str(cause): int(count) for cause, count in rows}

    def alert_recipients(self, account_id: str) -> list[str]:
        """The email addresses of the account's users."""
        with self._read() as session:
            return list(
                session.scalars(
                    select(UserRow.email).where(UserRow.account_id == account_id).order_by(UserRow.email)
                )
            )

    # -- resolving --------------------------------------------------------------------------------

    def resolve_alert(self, alert_id: str, account_id: str | None = None, *, by: str = "api") -> AlertRecord:
        """Resolve one alert (already resolved: returned unchanged) and recover from it."""
        with self._write() as session:
            row = _one_alert(session, alert_id, account_id, for_update=True)
            if row.status == "open":
                self._resolve_rows(session, [row], by)
            return _alert(row)

    def resolve_alerts(
        self,
        *,
        account_id: str,
        connection_id: str | None = None,
        integration_id: str | None = None,
        credential: bool | None = None,
        by: str,
        requeue: bool = True,
    ) -> list[AlertRecord]:
        """Resolve the account's open alerts of a connection or an integration; `credential` limits
        them to credential causes (True) or other causes (False). Without `requeue` (the work has just
        succeeded), the tasks that failed with them are not run again."""
        stmt = select(AlertRow).where(AlertRow.account_id == account_id, AlertRow.status == "open")
        if connection_id is not None:
            stmt = stmt.where(AlertRow.connection_id == connection_id)
        if integration_id is not None:
            stmt = stmt.where(AlertRow.integration_id == integration_id)
        credential_causes = sorted(name for name, c in CAUSES.items() if c.credential)
        if credential is True:
            stmt = stmt.where(AlertRow.cause.in_(credential_causes))
        elif credential is False:
            stmt = stmt.where(AlertRow.cause.not_in(credential_causes))
        with self._write() as session:
            rows = list(session.scalars(stmt.with_for_update()))
            if rows:
                self._resolve_rows(session, rows, by, requeue=requeue)
            return [_alert(r) for r in rows]

    def _resolve_rows(
        self, session: Session, rows: Sequence[AlertRow], by: str, *, requeue: bool = True
    ) -> None:
        now = self._clock()
        account_ids = {r.account_id for r in rows}
        for row in rows:
            row.status, row.open_key = "resolved", None
            row.resolved_at, row.resolved_by = now, by
            if row.task_ids and requeue:
                # The work that failed with this problem runs again, with a fresh set of attempts. Its
                # attempt count goes on, so the handler knows an earlier attempt ran (and recorded a run).
                session.execute(
                    update(TaskRow)
                    .where(
                        TaskRow.id.in_(list(row.task_ids)),
                        TaskRow.account_id == row.account_id,
                        TaskRow.status == "FAILED",
                    )
                    .values(
                        status="QUEUED",
                        run_after=now,
                        finished_at=None,
                        lease_expires_at=None,
                        max_attempts=TaskRow.attempts + TaskRow.max_attempts,
                    )
                )
            cause = CAUSES.get(row.cause)
            if cause is not None and cause.credential and row.connection_id:
                session.execute(
                    update(ConnectionRow)
                    .where(ConnectionRow.id == row.connection_id)
                    .values(status="connected", updated_at=now)
                )
        session.flush()
        for account_id in account_ids:
            still_paused = session.scalars(
                select(AlertRow.id).where(
                    AlertRow.account_id == account_id,
                    AlertRow.status == "open",
                    AlertRow.paused_queue.is_(True),
                )
            ).first()
            if still_paused is None and any(r.paused_queue for r in rows if r.account_id == account_id):
                session.execute(
                    update(TaskQueueRow)
                    .where(TaskQueueRow.account_id == account_id)
                    .values(paused=False, updated_at=now)
                )

    # -- the outbox -------------------------------------------------------------------------------

    def add_email(self, account_id: str, email: EmailDraft, *, alert_id: str | None = None) -> OutboxRecord:
        with self._write() as session:
            row = _outbox_row(account_id, alert_id, email, self._clock())
            session.add(row)
            session.flush()
            return _outbox(row)

    def claim_email(self, email_id: str, *, lease_seconds: float) -> bool:
        """Take a due pending email for one sending attempt: its next attempt moves `lease_seconds`
        ahead, so a concurrent sender skips it. False if someone else took it (or it is not due)."""
        now = self._clock()
        with self._write() as session:
            result = session.execute(
                update(EmailOutboxRow)
                .where(
                    EmailOutboxRow.id == email_id,
                    EmailOutboxRow.status == "pending",
                    EmailOutboxRow.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + timedelta(seconds=lease_seconds))
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def due_emails(self, *, limit: int = 50) -> list[OutboxRecord]:
        """Pending emails whose next attempt is due, oldest first."""
        stmt = (
            select(EmailOutboxRow)
            .where(EmailOutboxRow.status == "pending", EmailOutboxRow.next_attempt_at <= self._clock())
            .order_by(EmailOutboxRow.created_at, EmailOutboxRow.id)
            .limit(limit)
        )
        with self._read() as session:
            return [_outbox(r) for r in session.scalars(stmt)]

    def record_email_attempt(
        self, email_id: str, status: str, *, error: str | None = None, retry_in: float | None = None
    ) -> OutboxRecord:
        """Count an attempt at a pending email: `sent`, `logged`, `failed`, or `pending` again after
        `retry_in` seconds. An email that is no longer pending is returned unchanged (sent elsewhere)."""
        with self._write() as session:
            row = session.scalars(
                select(EmailOutboxRow).where(EmailOutboxRow.id == email_id).with_for_update()
            ).one_or_none()
            if row is None:
                raise NotFoundError(f"email '{email_id}' not found", email_id=email_id)
            if row.status != "pending":
                return _outbox(row)
            now = self._clock()
            row.attempts += 1
            row.status = status
            row.last_error = error[:MAX_MESSAGE_CHARS] if error else None
            if status in ("sent", "logged"):
                row.sent_at = now
            if status == "pending":
                row.next_attempt_at = now + timedelta(seconds=retry_in or 0.0)
            return _outbox(row)

    def list_outbox(self, account_id: str, *, limit: int = 100, offset: int = 0) -> list[OutboxRecord]:
        stmt = (
            select(EmailOutboxRow)
            .where(EmailOutboxRow.account_id == account_id)
            .order_by(EmailOutboxRow.created_at.desc(), EmailOutboxRow.id)
            .limit(max(limit, 0))
            .offset(max(offset, 0))
        )
        with self._read() as session:
            return [_outbox(r) for r in session.scalars(stmt)]


def _one_alert(
    session: Session, alert_id: str, account_id: str | None, *, for_update: bool = False
) -> AlertRow:
    stmt = select(AlertRow).where(AlertRow.id == alert_id)
    if account_id is not None:
        stmt = stmt.where(AlertRow.account_id == account_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFoundError(f"alert '{alert_id}' not found", alert_id=alert_id)
    return row


def _outbox_row(account_id: str, alert_id: str | None, email: EmailDraft, now: datetime) -> EmailOutboxRow:
    return EmailOutboxRow(
        account_id=account_id,
        alert_id=alert_id,
        recipients=", ".join(email.recipients),
        subject=email.subject[:255],
        body=email.body,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


def _alert(row: AlertRow) -> AlertRecord:
    return AlertRecord(
        id=row.id,
        account_id=row.account_id,
        integration_id=row.integration_id,
        connection_id=row.connection_id,
        cause=row.cause,
        kind=row.kind,
        status=row.status,
        title=row.title,
        message=row.message,
        action=row.action,
        error_class=row.error_class,
        correlation_id=row.correlation_id,
        occurrences=row.occurrences,
        paused_queue=row.paused_queue,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
    )


def _outbox(row: EmailOutboxRow) -> OutboxRecord:
    return OutboxRecord(
        id=row.id,
        account_id=row.account_id,
        alert_id=row.alert_id,
        recipients=_split(row.recipients),
        subject=row.subject,
        body=row.body,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


def _split(recipients: str) -> tuple[str, ...]:
    return tuple(r.strip() for r in recipients.split(",") if r.strip())
