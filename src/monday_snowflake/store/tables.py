"""The state store's tables, as SQLAlchemy 2 declarative models.

These classes stay inside `store/`: the rest of the product sees plain dataclasses. The Alembic
migrations under `migrations/versions/` are the source of truth for the schema; a test checks that
these models and the migrations agree.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUN_STATUSES = ("RUNNING", "COMPLETED", "FAILED")
TASK_STATUSES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
CONNECTION_KINDS = ("monday", "snowflake")
CONNECTION_STATUSES = ("connected", "disconnected")


def new_id() -> str:
    """A fresh primary key: a random UUID as a string, portable across databases."""
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    PostgreSQL keeps `timestamptz`; SQLite has no time zones, so values are converted to UTC and stored
    naive (fixed-width text that sorts and compares correctly), then read back as aware UTC datetimes.
    Naive datetimes are refused on the way in: their meaning would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where a timezone-aware one is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonType}


class AccountRow(Base):
    """A tenant. Every other row belongs to one account."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("account_id", "email"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(255))
    external_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConnectionRow(Base):
    """Credentials for one monday account or Snowflake account. `secret` is a Fernet token."""

    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint("account_id", "kind", "name"),
        CheckConstraint("kind IN ('monday', 'snowflake')", name="kind"),
        CheckConstraint("status IN ('connected', 'disconnected')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secret: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="connected")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntegrationRow(Base):
    """The recipe of one board -> table sync."""

    __tablename__ = "integrations"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    board_id: Mapped[str] = mapped_column(String(64))
    monday_connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="RESTRICT"))
    snowflake_connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="RESTRICT"))
    target_database: Mapped[str] = mapped_column(String(255))
    target_schema: Mapped[str] = mapped_column(String(255))
    target_table: Mapped[str | None] = mapped_column(String(255))
    primary_key: Mapped[str] = mapped_column(String(255), default="item_id")
    column_mapping: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    sync_mode: Mapped[str] = mapped_column(String(32), default="incremental")
    last_success_started_at: Mapped[datetime | None]
    last_scheduled_for: Mapped[datetime | None]
    """The due time of the latest scheduled run the scheduler enqueued (its de-duplication watermark)."""
    sync_state: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    realtime: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    """Real-time sync: `{"enabled", "signed", "webhooks": [{"id", "event"}]}`; None: never switched on."""
    webhook_secret: Mapped[str | None] = mapped_column(Text)
    """The secret in the webhook URL, encrypted like credentials."""
    reverse: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    """Reverse sync (Snowflake rows -> this board's items): the `ReverseSpec`; None for a board -> table
    integration."""
    paused_at: Mapped[datetime | None]
    """When the integration was paused: no scheduled or requested runs, webhooks kept but not applied."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEventRow(Base):
    """One webhook monday delivered, kept until applied. `(integration_id, trigger_uuid)` is unique:
    monday's retries of a delivery are stored once."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("integration_id", "trigger_uuid"),
        Index("ix_webhook_events_applied_at_integration_id", "applied_at", "integration_id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    trigger_uuid: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str | None] = mapped_column(String(64))
    parent_item_id: Mapped[str | None] = mapped_column(String(64))
    """Set for subitem events: the subitem's parent item."""
    column_id: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime]
    applied_at: Mapped[datetime | None]


class DisplayedErrorRow(Base):
    """An error real-time sync wrote on an item (the integration's `display_errors_column`), kept so
    that it is cleared, once, when the item next syncs."""

    __tablename__ = "displayed_errors"

    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime]


class RunRow(Base):
    """One run of an integration, with its outcome and numbers."""

    __tablename__ = "integration_runs"
    __table_args__ = (
        CheckConstraint("status IN ('RUNNING', 'COMPLETED', 'FAILED')", name="status"),
        Index("ix_integration_runs_integration_id_started_at", "integration_id", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="RUNNING")
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    error_class: Mapped[str | None] = mapped_column(String(255))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    rows_processed: Mapped[int] = mapped_column(Integer, default=0)
    rows_failed: Mapped[int] = mapped_column(Integer, default=0)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    throughput: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)

    subtasks: Mapped[list[SubtaskRow]] = relationship(
        back_populates="run", order_by="SubtaskRow.started_at, SubtaskRow.id", passive_deletes=True
    )


class SubtaskRow(Base):
    """One step of a run (fetch, load, merge, ...), with its own status and numbers."""

    __tablename__ = "run_subtasks"
    __table_args__ = (CheckConstraint("status IN ('RUNNING', 'COMPLETED', 'FAILED')", name="status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("integration_runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="RUNNING")
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    rows_processed: Mapped[int] = mapped_column(Integer, default=0)
    rows_failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[float | None] = mapped_column(Float)

    run: Mapped[RunRow] = relationship(back_populates="subtasks")


class FeatureFlagRow(Base):
    """A flag, global (account_id NULL) or per account; a per-account flag overrides the global one."""

    __tablename__ = "feature_flags"
    __table_args__ = (
        UniqueConstraint("account_id", "name"),
        # NULLs are distinct in unique constraints, so global flags need their own partial index.
        Index(
            "uq_feature_flags_global_name",
            "name",
            unique=True,
            sqlite_where=text("account_id IS NULL"),
            postgresql_where=text("account_id IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    value: Mapped[Any] = mapped_column(JsonType, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntegrationLockRow(Base):
    """The run lock of one integration. The row outlives releases so `token` only ever grows."""

    __tablename__ = "integration_locks"

    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True
    )
    owner: Mapped[str | None] = mapped_column(String(255))
    token: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]


class TaskQueueRow(Base):
    """The queue of one account: paused or not, and its running limit. Claimers lock this row on
    PostgreSQL while they count the account's running tasks, so no two can both exceed the limit."""

    __tablename__ = "task_queues"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    max_running: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TaskRow(Base):
    """One unit of queued work. `lease_token` grows with every claim: the fencing token of its holder.

    `(account_id, dedup_key)` is unique over all rows, finished ones included, so a key names one
    piece of work forever (e.g. `scheduled:<integration>:<due time>`). NULL keys never collide.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("account_id", "dedup_key"),
        CheckConstraint("status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')", name="status"),
        Index("ix_tasks_status_priority_run_after", "status", "priority", "run_after"),
        Index("ix_tasks_status_lease_expires_at", "status", "lease_expires_at"),
        Index("ix_tasks_account_id_status_lease_expires_at", "account_id", "status", "lease_expires_at"),
        Index("ix_tasks_account_id_created_at", "account_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="QUEUED")
    run_after: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    dedup_key: Mapped[str | None] = mapped_column(String(255))
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_token: Mapped[int] = mapped_column(Integer, default=0)
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    error_class: Mapped[str | None] = mapped_column(String(255))
    result: Mapped[Any] = mapped_column(JsonType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class ApiKeyRow(Base):
    """A management API key. Only the SHA-256 of the key is kept; `prefix` lets people tell keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


# -- the monday app (issue 9, migration 0007) ------------------------------------------------------


class MondayOAuthStateRow(Base):
    """One authorization request in flight: the SHA-256 of its `state` nonce (the browser holds the
    nonce in a signed cookie), the PKCE verifier (encrypted) and the install choices. Deleted when
    the callback uses it, so a state works once."""

    __tablename__ = "monday_oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow: Mapped[str] = mapped_column(String(16))
    code_verifier: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class MondayInstallRow(Base):
    """An account's install of the monday app: who installed it, its plan, and its uninstall choice."""

    __tablename__ = "monday_installs"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    monday_account_id: Mapped[str] = mapped_column(String(64), unique=True)
    monday_user_id: Mapped[str | None] = mapped_column(String(64))
    drop_tables_on_uninstall: Mapped[bool] = mapped_column(Boolean, default=False)
    """Chosen at install: whether uninstalling also drops the warehouse tables of the integrations."""
    subscription: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    """The latest `subscription` object a lifecycle event carried (plan, trial, renewal date...)."""
    installed_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MondayAppEventRow(Base):
    """A lifecycle event monday sent (install, subscription changes...), kept as history."""

    __tablename__ = "monday_app_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime]


class MondayTriggerRow(Base):
    """A monday automation subscribed to one of the app's triggers: where to post, what it asked for
    (`input_fields`), and for query triggers the keys of the rows already posted."""

    __tablename__ = "monday_triggers"
    __table_args__ = (UniqueConstraint("account_id", "subscription_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    subscription_id: Mapped[str] = mapped_column(String(64))
    webhook_url: Mapped[str] = mapped_column(Text)
    integration_id: Mapped[str | None] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    input_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(Integer, default=0)
    """Grows with every change of `state`: a check saves its new keys only if nobody did meanwhile."""
    created_at: Mapped[datetime]
    checked_at: Mapped[datetime | None]


ALERT_STATUSES = ("open", "resolved")
OUTBOX_STATUSES = ("pending", "sent", "logged", "failed")


class AlertRow(Base):
    """One problem a person must act on (issue 8). `open_key` names the (account, integration or
    connection, cause) while the alert is open and is NULL once resolved, so a repeat bumps
    `occurrences` on the open row instead of adding one."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved')", name="status"),
        Index("ix_alerts_account_id_status", "account_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    integration_id: Mapped[str | None] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    connection_id: Mapped[str | None] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    cause: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    title: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    error_class: Mapped[str | None] = mapped_column(String(255))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    paused_queue: Mapped[bool] = mapped_column(Boolean, default=False)
    """This problem paused the account's queue: resolving the last such alert resumes it."""
    task_ids: Mapped[list[str]] = mapped_column(JsonType, default=list)
    """Tasks that failed for good with this problem: queued again when it is resolved."""
    open_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))


class EmailOutboxRow(Base):
    """An email, written here before it is sent (or, with no SMTP server configured, logged)."""

    __tablename__ = "email_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'logged', 'failed')", name="status"),
        Index("ix_email_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_email_outbox_account_id_created_at", "account_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    alert_id: Mapped[str | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    recipients: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
