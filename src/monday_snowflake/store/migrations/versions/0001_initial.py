"""Initial state store: accounts, users, connections, integrations, runs, flags, locks.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types: migrations must not change when tables.py does.
ID = sa.String(36)
TS = sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("external_id", name="uq_accounts_external_id"),
    )
    op.create_table(
        "users",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("external_id", sa.String(255), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_users_account_id_accounts", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("account_id", "email", name="uq_users_account_id_email"),
    )
    op.create_index("ix_users_account_id", "users", ["account_id"])
    op.create_table(
        "connections",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("config", _json(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_connections"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_connections_account_id_accounts", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("account_id", "kind", "name", name="uq_connections_account_id_kind_name"),
        sa.CheckConstraint("kind IN ('monday', 'snowflake')", name="ck_connections_kind"),
        sa.CheckConstraint("status IN ('connected', 'disconnected')", name="ck_connections_status"),
    )
    op.create_index("ix_connections_account_id", "connections", ["account_id"])
    op.create_table(
        "integrations",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("board_id", sa.String(64), nullable=False),
        sa.Column("monday_connection_id", ID, nullable=False),
        sa.Column("snowflake_connection_id", ID, nullable=False),
        sa.Column("target_database", sa.String(255), nullable=False),
        sa.Column("target_schema", sa.String(255), nullable=False),
        sa.Column("target_table", sa.String(255), nullable=True),
        sa.Column("primary_key", sa.String(255), nullable=False),
        sa.Column("column_mapping", _json(), nullable=False),
        sa.Column("options", _json(), nullable=False),
        sa.Column("schedule", _json(), nullable=True),
        sa.Column("sync_mode", sa.String(32), nullable=False),
        sa.Column("last_success_started_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_integrations"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_integrations_account_id_accounts", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["monday_connection_id"],
            ["connections.id"],
            name="fk_integrations_monday_connection_id_connections",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["snowflake_connection_id"],
            ["connections.id"],
            name="fk_integrations_snowflake_connection_id_connections",
            ondelete="RESTRICT",
        ),
        sa.UniqueConstraint("account_id", "name", name="uq_integrations_account_id_name"),
    )
    op.create_index("ix_integrations_account_id", "integrations", ["account_id"])
    op.create_table(
        "integration_runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("integration_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_class", sa.String(255), nullable=True),
        sa.Column("correlation_id", sa.String(64), nullable=True),
        sa.Column("rows_processed", sa.Integer(), nullable=False),
        sa.Column("rows_failed", sa.Integer(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("throughput", sa.Float(), nullable=True),
        sa.Column("metrics", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_integration_runs"),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_integration_runs_integration_id_integrations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_integration_runs_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("status IN ('RUNNING', 'COMPLETED', 'FAILED')", name="ck_integration_runs_status"),
    )
    op.create_index("ix_integration_runs_account_id", "integration_runs", ["account_id"])
    op.create_index(
        "ix_integration_runs_integration_id_started_at", "integration_runs", ["integration_id", "started_at"]
    )
    op.create_table(
        "run_subtasks",
        sa.Column("id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("rows_processed", sa.Integer(), nullable=False),
        sa.Column("rows_failed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_run_subtasks"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["integration_runs.id"],
            name="fk_run_subtasks_run_id_integration_runs",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("status IN ('RUNNING', 'COMPLETED', 'FAILED')", name="ck_run_subtasks_status"),
    )
    op.create_index("ix_run_subtasks_run_id", "run_subtasks", ["run_id"])
    op.create_table(
        "feature_flags",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("value", _json(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feature_flags"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_feature_flags_account_id_accounts", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("account_id", "name", name="uq_feature_flags_account_id_name"),
    )
    op.create_index(
        "uq_feature_flags_global_name",
        "feature_flags",
        ["name"],
        unique=True,
        sqlite_where=sa.text("account_id IS NULL"),
        postgresql_where=sa.text("account_id IS NULL"),
    )
    op.create_table(
        "integration_locks",
        sa.Column("integration_id", ID, nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("token", sa.Integer(), nullable=False),
        sa.Column("acquired_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("integration_id", name="pk_integration_locks"),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_integration_locks_integration_id_integrations",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    for table in (
        "integration_locks",
        "feature_flags",
        "run_subtasks",
        "integration_runs",
        "integrations",
        "connections",
        "users",
        "accounts",
    ):
        op.drop_table(table)
