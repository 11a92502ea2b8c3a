"""Integration settings the API changes as a whole: pausing, resuming and duplicating a recipe."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.store.base import StoreBase, find_integration
from monday_snowflake.store.tables import IntegrationRow


class IntegrationSettings(StoreBase):
    """Paused integrations and copies of recipes (a mixin of `Store`)."""

    def set_paused(self, integration_id: str, paused: bool, account_id: str | None = None) -> datetime | None:
        """Pause (keep the first pause time) or resume an integration; returns `paused_at`. Resuming
        restarts the schedule's count from now: the runs missed while paused are not caught up."""
        now = self._clock()
        with self._write() as session:
            row = find_integration(session, integration_id, account_id)
            if paused and row.paused_at is None:
                row.paused_at = now
            elif not paused and row.paused_at is not None:
                row.paused_at = None
                if row.schedule:
                    row.last_scheduled_for = now
            row.updated_at = now
            return row.paused_at

    def paused_integration_ids(self, integration_ids: Iterable[str]) -> set[str]:
        """Those of `integration_ids` that are paused."""
        wanted = list(integration_ids)
        if not wanted:
            return set()
        stmt = select(IntegrationRow.id).where(
            IntegrationRow.id.in_(wanted), IntegrationRow.paused_at.is_not(None)
        )
        with self._read() as session:
            return set(session.scalars(stmt))

    def copy_integration(
        self, integration_id: str, account_id: str, *, name: str, target_table: str | None
    ) -> str:
        """A new integration with the recipe of another (same board, connections, target schema,
        columns, options, schedule, sync mode, reverse recipe) under `name` and `target_table`; not its
        run history, sync state, real-time webhooks or pause. Returns the new id."""
        now = self._clock()
        try:
            with self._write() as session:
                source = find_integration(session, integration_id, account_id)
                copy = IntegrationRow(
                    account_id=source.account_id,
                    name=name,
                    board_id=source.board_id,
                    monday_connection_id=source.monday_connection_id,
                    snowflake_connection_id=source.snowflake_connection_id,
                    target_database=source.target_database,
                    target_schema=source.target_schema,
                    target_table=target_table,
                    primary_key=source.primary_key,
                    column_mapping=list(source.column_mapping or []),
                    options=dict(source.options or {}),
                    schedule=dict(source.schedule) if source.schedule else None,
                    last_scheduled_for=now if source.schedule else None,
                    sync_mode=source.sync_mode,
                    reverse=dict(source.reverse) if source.reverse else None,
                    created_at=now,
                    updated_at=now,
                )
                session.add(copy)
                session.flush()
                return copy.id
        except IntegrityError:
            raise ConfigurationError(
                f"name: an integration named '{name}' already exists", field="name"
            ) from None
