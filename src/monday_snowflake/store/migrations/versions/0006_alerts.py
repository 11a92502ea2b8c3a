"""Alerts and the email outbox (issue 8).

An alert is one open problem per (account, integration or connection, cause): `open_key` is unique while
the alert is open and NULL once it is resolved, so repeats of a failure bump one row. Every email is
written to `email_outbox` first and sent from there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types: migrations must not change when tables.py does.
ID = sa.String(36)
TS = sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("integration_id", ID, nullable=True),
        sa.Column("connection_id", ID, nullable=True),
        sa.Column("cause", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("error_class", sa.String(255), nullable=True),
        sa.Column("correlation_id", sa.String(64), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("paused_queue", sa.Boolean(), nullable=False),
        sa.Column("task_ids", _json(), nullable=False),
        sa.Column("open_key", sa.String(255), nullable=True),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_alerts_account_id_accounts", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_alerts_integration_id_integrations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name="fk_alerts_connection_id_connections",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("open_key", name="uq_alerts_open_key"),
        sa.CheckConstraint("status IN ('open', 'resolved')", name="ck_alerts_status"),
    )
    op.create_index("ix_alerts_account_id_status", "alerts", ["account_id", "status"])
    op.create_table(
        "email_outbox",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("alert_id", ID, nullable=True),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_email_outbox"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_email_outbox_account_id_accounts", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_email_outbox_alert_id_alerts", ondelete="SET NULL"
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'logged', 'failed')", name="ck_email_outbox_status"
        ),
    )
    op.create_index("ix_email_outbox_status_next_attempt_at", "email_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_email_outbox_account_id_created_at", "email_outbox", ["account_id", "created_at"])


def downgrade() -> None:
    op.drop_table("email_outbox")
    op.drop_table("alerts")
