"""monday app surface: OAuth states, installs, lifecycle events, automation triggers (issue 9).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
TS = sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"], ["accounts.id"], name=f"fk_{table}_account_id_accounts", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "monday_oauth_states",
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("flow", sa.String(16), nullable=False),
        sa.Column("code_verifier", sa.Text(), nullable=True),
        sa.Column("options", _json(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name="pk_monday_oauth_states"),
    )
    op.create_index("ix_monday_oauth_states_expires_at", "monday_oauth_states", ["expires_at"])
    op.create_table(
        "monday_installs",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("monday_account_id", sa.String(64), nullable=False),
        sa.Column("monday_user_id", sa.String(64), nullable=True),
        sa.Column("drop_tables_on_uninstall", sa.Boolean(), nullable=False),
        sa.Column("subscription", _json(), nullable=True),
        sa.Column("installed_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_monday_installs"),
        sa.UniqueConstraint("monday_account_id", name="uq_monday_installs_monday_account_id"),
        _account_fk("monday_installs"),
    )
    op.create_table(
        "monday_app_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monday_app_events"),
        _account_fk("monday_app_events"),
    )
    op.create_index("ix_monday_app_events_account_id", "monday_app_events", ["account_id"])
    op.create_table(
        "monday_triggers",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=False),
        sa.Column("integration_id", ID, nullable=True),
        sa.Column("input_fields", _json(), nullable=False),
        sa.Column("state", _json(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("checked_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_monday_triggers"),
        sa.UniqueConstraint(
            "account_id", "subscription_id", name="uq_monday_triggers_account_id_subscription_id"
        ),
        _account_fk("monday_triggers"),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_monday_triggers_integration_id_integrations",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_monday_triggers_account_id", "monday_triggers", ["account_id"])


def downgrade() -> None:
    op.drop_table("monday_triggers")
    op.drop_table("monday_app_events")
    op.drop_table("monday_installs")
    op.drop_table("monday_oauth_states")
