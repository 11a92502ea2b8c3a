"""Typed settings: one object, built from the environment (prefix MONDAY_SNOWFLAKE_) and `.env`, passed in.

Nested parts use a double underscore, e.g. `MONDAY_SNOWFLAKE_SNOWFLAKE__ACCOUNT=xy12345`.
Nothing here is read at import time: commands and tests build their own `Settings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SnowflakeAuth = Literal["password", "programmatic_access_token", "key_pair", "oauth"]


class MondaySettings(BaseModel):
    """How to reach monday.com's GraphQL API."""

    api_url: str = "https://api.monday.com/v2"
    """GraphQL endpoint; point it at the sandbox for demos and tests."""
    api_version: str = "2026-10"
    """Sent as the API-Version header on every request."""
    token: SecretStr | None = None
    """Default monday token for `integrations add` (personal or OAuth); stored encrypted per connection."""
    timeout_seconds: float = 60.0
    """Per-request timeout; monday itself gives up after 60 s."""
    page_size: int = Field(default=500, ge=1, le=500)
    """Items per `items_page` / `next_items_page` request (monday's maximum is 500)."""
    max_attempts: int = Field(default=6, ge=1)
    """Attempts per request before a transient error is given up on."""
    backoff_base_seconds: float = 0.5
    """First retry delay; doubles each attempt, with full jitter."""
    backoff_max_seconds: float = 60.0
    """Ceiling for one retry delay."""
    signing_secret: SecretStr | None = None
    """The monday app's signing secret: verifies the JWT on webhooks registered with an app's token."""


class SnowflakeSettings(BaseModel):
    """Which warehouse to load into: the embedded one (default) or a real Snowflake account."""

    mode: Literal["embedded", "snowflake"] = "embedded"
    """`embedded` runs a local Snowflake-compatible warehouse (fakesnow) in the data directory."""
    account: str | None = None
    """Snowflake account identifier, e.g. `myorg-myaccount`."""
    user: str | None = None
    """Login name."""
    authenticator: SnowflakeAuth = "programmatic_access_token"
    """How to authenticate."""
    password: SecretStr | None = None
    """Password (authenticator=password)."""
    token: SecretStr | None = None
    """Programmatic access token or OAuth access token."""
    private_key_path: Path | None = None
    """PEM private key file (authenticator=key_pair)."""
    private_key_passphrase: SecretStr | None = None
    """Passphrase of the private key, if it is encrypted."""
    database: str = "MONDAY"
    """Target database."""
    schema_name: str = "PUBLIC"
    """Target schema."""
    warehouse: str | None = None
    """Virtual warehouse to run statements on."""
    role: str | None = None
    """Role to assume."""
    login_timeout_seconds: int = 60
    """How long a connection attempt may take."""
    max_attempts: int = Field(default=3, ge=1)
    """Attempts at a table load before a transient error (network, timeout) is given up on."""
    backoff_base_seconds: float = 2.0
    """First retry delay of a load; doubles each attempt, with full jitter."""


class QueueSettings(BaseModel):
    """The durable task queue: per-account limits, retries and worker leases."""

    max_running_per_account: int = Field(default=50, ge=1)
    """Tasks of one account that may run at once, across all workers; a queue may override it."""
    max_attempts: int = Field(default=5, ge=1)
    """Attempts per task (unless the task says otherwise) before a retryable failure becomes final."""
    backoff_base_seconds: float = Field(default=5.0, ge=0)
    """Delay before the first retry; doubles each attempt, with full jitter."""
    backoff_max_seconds: float = Field(default=600.0, ge=0)
    """Ceiling for one retry delay."""
    lease_seconds: float = Field(default=1800.0, gt=0)
    """How long a claimed task stays a worker's without a heartbeat; then another worker takes it."""
    poll_interval_seconds: float = Field(default=0.5, gt=0)
    """How long an idle worker waits before asking the queue again."""
    worker_concurrency: int = Field(default=4, ge=1)
    """Tasks one worker process runs at once."""


class RealtimeSettings(BaseModel):
    """Applying webhook events: how often, and in what batches."""

    flush_seconds: float = Field(default=1.0, gt=0)
    """The longest an event waits before its integration's pending events are applied."""
    flush_rows: int = Field(default=500, ge=1)
    """Apply at once when this many events of one integration are waiting."""
    poll_seconds: float = Field(default=0.1, gt=0)
    """How often a worker looks for events to apply."""
    keep_applied_hours: float = Field(default=24.0, gt=0)
    """Applied events are kept this long, so monday's retries (for 30 minutes) are recognised."""


class MondayAppSettings(BaseModel):
    """The monday app: OAuth install, lifecycle events, automation actions and triggers."""

    client_id: str | None = None
    """The app's OAuth client id (Developer Center -> Basic information)."""
    app_id: str | None = None
    """The app's id, put in the JWT of trigger invocations (`{appId}`)."""
    client_secret: SecretStr | None = None
    """The app's client secret: exchanges OAuth codes and verifies lifecycle-event JWTs."""
    signing_secret: SecretStr | None = None
    """The app's signing secret: verifies action/trigger JWTs and signs trigger invocations."""
    redirect_url: str | None = None
    """Where monday sends the browser back after authorizing: this service's `/oauth/monday/callback`."""
    flow: Literal["classic", "oauth21"] = "classic"
    """`classic`: tokens that never expire; `oauth21`: PKCE (S256) and rotating refresh tokens."""
    scopes: str = "me:read boards:read boards:write webhooks:read webhooks:write users:read account:read"
    """Space-separated scopes asked for at install."""
    auth_url: str = "https://auth.monday.com"
    """monday's OAuth server (`/oauth2/authorize`, `/oauth2/token`, `/oauth_ms/oauth/token`)."""
    state_ttl_seconds: int = Field(default=600, ge=30)
    """How long an authorization request (its `state`) may take before the callback is refused."""
    trigger_check_seconds: float = Field(default=60.0, gt=0)
    """How often the scheduler runs the SELECTs of "query returns new rows" triggers."""


class EmailSettings(BaseModel):
    """Alert emails (issue 8). Without `smtp_host` nothing is sent: each email is kept in the outbox
    (`GET /outbox`) and written to the log instead."""

    smtp_host: str | None = None
    """SMTP server; unset: the embedded default (outbox and log only)."""
    smtp_port: int = 587
    """SMTP port (587 for STARTTLS, 25 for plain relays)."""
    starttls: bool = True
    """Upgrade the connection with STARTTLS before logging in."""
    user: str | None = None
    """SMTP login, if the server wants one."""
    password: SecretStr | None = None
    """SMTP password."""
    sender: str = "monday-snowflake@localhost"
    """The From address."""
    to: list[str] = Field(default_factory=list)
    """Always sent to these addresses, besides the users of the account."""
    timeout_seconds: float = Field(default=30.0, gt=0)
    """How long one SMTP conversation may take."""
    max_attempts: int = Field(default=5, ge=1)
    """Attempts per email before it is marked failed (each attempt is recorded)."""
    backoff_base_seconds: float = Field(default=30.0, ge=0)
    """Delay before the second attempt; doubles each time."""


class AlertSettings(BaseModel):
    """Alerts raised ahead of trouble."""

    expiry_warning_days: float = Field(default=7.0, ge=0)
    """Alert this many days before a credential with a known expiry (PAT, OAuth token) runs out."""
    check_every_seconds: float = Field(default=3600.0, gt=0)
    """How often the scheduler looks for credentials about to expire and sends pending emails."""


class Settings(BaseSettings):
    """Everything the product can be told, in one place."""

    model_config = SettingsConfigDict(
        env_prefix="MONDAY_SNOWFLAKE_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    data_dir: Path = Path(".monday-snowflake")
    """Where the state database, embedded warehouse, staged files and keys live."""
    database_url: str | None = None
    """State store URL; default `sqlite:///<data_dir>/state.db`. PostgreSQL: `postgresql+psycopg://...`."""
    secret_key: SecretStr | None = None
    """Fernet key that encrypts credentials at rest; default: generated once into `<data_dir>/secret.key`."""
    log_json: bool = False
    """Log one JSON object per line instead of human-readable lines."""
    log_level: str = "INFO"
    """Minimum level that is logged."""
    csv_max_bytes: int = 100_000_000
    """Staged CSV files are split before they reach this size."""
    lock_ttl_seconds: int = 30 * 60
    """How long an integration's run lock lasts without being renewed."""
    min_schedule_interval_hours: float = 1.0
    """The shortest interval a schedule may have."""
    scheduler_secret: SecretStr | None = None
    """Bearer secret of `POST /triggers/scheduled/{id}`, for an external scheduler; unset: refused."""
    incremental_overlap_seconds: int = 300
    """An incremental run also rewrites items updated this long before the last run started, so clock
    skew between monday and this machine cannot lose an edit."""
    public_url: str | None = None
    """The address monday reaches this service at (e.g. `https://sync.example.com`); webhooks for
    real-time sync are registered under it."""
    monday: MondaySettings = Field(default_factory=MondaySettings)
    snowflake: SnowflakeSettings = Field(default_factory=SnowflakeSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    realtime: RealtimeSettings = Field(default_factory=RealtimeSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    monday_app: MondayAppSettings = Field(default_factory=MondayAppSettings)

    def resolved_database_url(self) -> str:
        """The state store URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'state.db').resolve()}"
