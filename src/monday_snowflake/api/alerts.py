"""Alerts and the email outbox in the management API. Every route reads and writes only the calling
account's alerts and emails: another account's answer 404 (or are simply not listed)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from monday_snowflake.api.deps import AccountDep, ServiceDep

router = APIRouter(tags=["alerts"])

_ALERT_FIELDS = (
    "id",
    "integration_id",
    "connection_id",
    "cause",
    "kind",
    "status",
    "title",
    "message",
    "action",
    "error_class",
    "correlation_id",
    "occurrences",
    "paused_queue",
    "first_seen",
    "last_seen",
    "resolved_at",
    "resolved_by",
)
_EMAIL_FIELDS = (
    "id",
    "alert_id",
    "recipients",
    "subject",
    "body",
    "status",
    "attempts",
    "last_error",
    "next_attempt_at",
    "created_at",
    "sent_at",
)


@router.get("/alerts")
def list_alerts(
    service: ServiceDep,
    account: AccountDep,
    status: Literal["open", "resolved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """The account's alerts, the most recently seen first; `status=open` for the ones to act on."""
    alerts = service.store.list_alerts(account, status, limit=limit, offset=offset)
    return [as_json(a, _ALERT_FIELDS) for a in alerts]


@router.post("/alerts/{alert_id}/resolve")
def resolve_alert(alert_id: str, service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    """Mark the problem fixed: the work that failed with it is queued again, and the account's queue
    resumes once no open alert holds it paused. Resolving a resolved alert changes nothing."""
    return as_json(service.store.resolve_alert(alert_id, account, by="api"), _ALERT_FIELDS)


@router.get("/outbox")
def list_outbox(
    service: ServiceDep,
    account: AccountDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """The account's alert emails, newest first: sent, logged (no SMTP server configured), waiting
    for another attempt, or failed, with the attempts made."""
    return [as_json(e, _EMAIL_FIELDS) for e in service.store.list_outbox(account, limit=limit, offset=offset)]


def as_json(record: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of a record as JSON values (datetimes as ISO 8601, tuples as lists)."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(record, name)
        out[name] = (
            value.isoformat()
            if isinstance(value, datetime)
            else list(value)
            if isinstance(value, tuple)
            else value
        )
    return out
