"""What the state store hands out: plain frozen dataclasses, never ORM objects, never secrets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

RunStatus = Literal["RUNNING", "COMPLETED", "FAILED"]
FinishedStatus = Literal["COMPLETED", "FAILED"]
ConnectionKind = Literal["monday", "snowflake"]
ConnectionStatus = Literal["connected", "disconnected"]


@dataclass(frozen=True)
class AccountRecord:
    id: str
    name: str
    external_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class UserRecord:
    id: str
    account_id: str
    email: str
    name: str | None
    external_id: str | None
    created_at: datetime


OWNED_BY_INTEGRATION = "integration"
"""`config["owner"]` of a connection made for one integration from the credentials it was given (or
the server's): it goes when that integration goes."""
OWNED_BY_ACCOUNT = "account"
"""`config["owner"]` of a connection an account stored itself (`POST /connections/snowflake`): shared by
its integrations, outliving them, and the account's own credentials rather than the server's."""


@dataclass(frozen=True)
class ConnectionPublic:
    """A connection as anyone may see it: its non-secret config only. The secret has no field here."""

    id: str
    account_id: str
    kind: str
    name: str
    config: dict[str, Any]
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SubtaskRecord:
    id: str
    run_id: str
    name: str
    status: str
    started_at: datetime
    completed_at: datetime | None
    rows_processed: int
    rows_failed: int
    error: str | None
    duration_seconds: float | None


@dataclass(frozen=True)
class RunRecord:
    """One run of an integration; `throughput` is rows processed per second."""

    id: str
    integration_id: str
    account_id: str
    kind: str
    status: str
    started_at: datetime
    completed_at: datetime | None
    error: str | None
    error_class: str | None
    correlation_id: str | None
    rows_processed: int
    rows_failed: int
    duration_seconds: float | None
    throughput: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    subtasks: tuple[SubtaskRecord, ...] = ()


@dataclass(frozen=True)
class FeatureFlag:
    name: str
    enabled: bool
    value: Any
    account_id: str | None
