"""Real-time sync: the webhook events inbox, errors shown on items, and each integration's webhook
registration and URL secret.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
TS = sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("integration_id", ID, nullable=False),
        sa.Column("trigger_uuid", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=True),
        sa.Column("parent_item_id", sa.String(64), nullable=True),
        sa.Column("column_id", sa.String(255), nullable=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("applied_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_events"),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_webhook_events_integration_id_integrations",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "integration_id", "trigger_uuid", name="uq_webhook_events_integration_id_trigger_uuid"
        ),
    )
    op.create_index(
        "ix_webhook_events_applied_at_integration_id", "webhook_events", ["applied_at", "integration_id"]
    )
    op.create_table(
        "displayed_errors",
        sa.Column("integration_id", ID, nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("written_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("integration_id", "item_id", name="pk_displayed_errors"),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_displayed_errors_integration_id_integrations",
            ondelete="CASCADE",
        ),
    )
    with op.batch_alter_table("integrations") as batch:
        batch.add_column(sa.Column("realtime", _json(), nullable=True))
        batch.add_column(sa.Column("webhook_secret", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("integrations") as batch:
        batch.drop_column("webhook_secret")
        batch.drop_column("realtime")
    op.drop_table("displayed_errors")
    op.drop_table("webhook_events")
