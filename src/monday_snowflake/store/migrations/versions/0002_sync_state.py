"""Per-integration sync state: the column mapping each table was last loaded with, and bookkeeping for
incremental runs and reconciliation. Integrations made before incremental runs existed had no choice
of mode, so they move to the new default, incremental.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    with op.batch_alter_table("integrations") as batch:
        batch.add_column(sa.Column("sync_state", json_type, nullable=True))
    op.execute("UPDATE integrations SET sync_mode = 'incremental' WHERE sync_mode = 'full'")


def downgrade() -> None:
    with op.batch_alter_table("integrations") as batch:
        batch.drop_column("sync_state")
