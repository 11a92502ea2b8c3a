"""Full board replication, monday -> Snowflake (flow 1 of DESIGN.md).

Lock the integration, page through the board (the client fetches one page ahead), decode each
item into a row, stream rows into CSV files split before `csv_max_bytes`, then stage, COPY and
MERGE them into the target and remove rows whose items left the board. The run and its subtasks
(fetch, load) are recorded whatever happens; the lock is released at the end.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from monday_snowflake.errors import (
    AlreadyRunningError,
    ConfigurationError,
    MondaySnowflakeError,
    PermanentError,
)
from monday_snowflake.logs import bind_correlation_id, get_logger
from monday_snowflake.model import Integration, TableRef
from monday_snowflake.monday.client import MondayClient
from monday_snowflake.retry import RetryPolicy, run_with_retry
from monday_snowflake.settings import Settings
from monday_snowflake.snowflake.csvfiles import CsvBatchWriter
from monday_snowflake.storage.local import LocalBlobStore
from monday_snowflake.store.repository import Store
from monday_snowflake.sync.layout import TableLayout, plan_table
from monday_snowflake.sync.warehouses import Warehouse, WarehouseOpener

log = get_logger(__name__)

Progress = Callable[[int, int | None], None]
"""Called with (items done, items expected or None) as pages arrive."""


class MondayOpener(Protocol):
    def __call__(self, token: str, api_url: str | None) -> MondayClient: ...


@dataclass
class ReplicationResult:
    """What one run did, for the CLI and tests."""

    run_id: str
    integration_id: str
    table: TableRef
    items: int
    inserted: int
    updated: int
    deleted: int
    seconds: float
    warnings: dict[str, int] = field(default_factory=dict)

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0


class BoardReplicator:
    """Runs full replications of integrations, recording each run in the store."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        open_monday: MondayOpener,
        open_warehouse: WarehouseOpener,
    ) -> None:
        self._settings = settings
        self._store = store
        self._open_monday = open_monday
        self._open_warehouse = open_warehouse
        self._blobs = LocalBlobStore(settings.data_dir / "files")
        self._owner = f"{socket.gethostname()}:{os.getpid()}"

    async def replicate(
        self, integration_ref: str, *, account_id: str | None = None, progress: Progress | None = None
    ) -> ReplicationResult:
        """Run one full replication of an integration (by id or name)."""
        integration = self._store.get_integration(integration_ref, account_id=account_id)
        lock_token = self._store.acquire_lock(integration.id, self._owner, self._settings.lock_ttl_seconds)
        try:
            with bind_correlation_id(integration_id=integration.id) as correlation_id:
                run_id = self._store.start_run(integration.id, "full", correlation_id)
                return await self._run(integration, run_id, lock_token, progress)
        finally:
            self._store.release_lock(integration.id, lock_token)

    async def _run(
        self, integration: Integration, run_id: str, lock_token: int, progress: Progress | None
    ) -> ReplicationResult:
        started = time.perf_counter()
        started_at = datetime.now(UTC)
        items = 0
        subtask = self._store.start_subtask(run_id, "fetch")
        log.info("run started", run_id=run_id, kind="full")
        try:
            monday = self._store.connection_secret(integration.monday_connection_id)
            monday_config = self._store.get_connection(integration.monday_connection_id).config
            async with self._open_monday(monday["token"], monday_config.get("api_url")) as client:
                board = await client.get_board(integration.board_id)
                layout = plan_table(integration, board)
                items, files, warnings = await self._fetch(
                    client, integration, layout, run_id, lock_token, progress, board.items_count
                )
            fetched = time.perf_counter()
            self._store.finish_subtask(subtask, "COMPLETED", rows_processed=items)

            subtask = self._store.start_subtask(run_id, "load")
            self._store.check_lock(integration.id, lock_token)
            policy = RetryPolicy(
                self._settings.snowflake.max_attempts, self._settings.snowflake.backoff_base_seconds
            )
            result = await run_with_retry(
                policy,
                lambda: asyncio.to_thread(self._load, integration, layout, files, run_id),
                sleep=asyncio.sleep,
                describe="warehouse load",
            )
            self._store.finish_subtask(subtask, "COMPLETED", rows_processed=result.staged_rows)
        except BaseException as exc:
            self._store.finish_subtask(subtask, "FAILED", error=_describe(exc))
            self._store.finish_run(
                run_id,
                "FAILED",
                rows_processed=items,
                rows_failed=0,
                error=_describe(exc),
                error_class=_error_class(exc),
            )
            log.warning("run failed", run_id=run_id, error=_describe(exc), error_class=_error_class(exc))
            raise
        finally:
            self._blobs.delete_prefix(run_id)

        seconds = time.perf_counter() - started
        outcome = ReplicationResult(
            run_id,
            integration.id,
            layout.table,
            items,
            result.inserted,
            result.updated,
            result.deleted,
            seconds,
            warnings,
        )
        self._store.finish_run(
            run_id,
            "COMPLETED",
            rows_processed=items,
            rows_failed=0,
            metrics={
                "inserted": result.inserted,
                "updated": result.updated,
                "deleted": result.deleted,
                "duplicates_dropped": result.duplicates_dropped,
                "warnings": warnings,
                "phases": {
                    "fetch_decode_write": round(fetched - started, 3),
                    **getattr(result, "seconds", {}),
                },
                "table": f"{layout.table.database}.{layout.table.schema}.{layout.table.name}",
            },
        )
        self._store.set_last_success(integration.id, started_at)
        log.info(
            "run completed",
            run_id=run_id,
            items=items,
            seconds=round(seconds, 3),
            items_per_second=round(outcome.items_per_second),
        )
        return outcome

    async def _fetch(
        self,
        client: MondayClient,
        integration: Integration,
        layout: TableLayout,
        run_id: str,
        lock_token: int,
        progress: Progress | None,
        expected: int | None,
    ) -> tuple[int, list[Any], dict[str, int]]:
        synced_at = datetime.now(UTC).replace(tzinfo=None)
        writer = CsvBatchWriter(self._blobs, run_id, layout.columns, self._settings.csv_max_bytes)
        items = 0
        renew_every = self._settings.lock_ttl_seconds / 3
        last_renewal = time.monotonic()
        try:
            async for page in client.iter_item_pages(integration.board_id, column_ids=layout.column_ids):
                for item in page:
                    writer.write_row(layout.row(item, synced_at))
                items += len(page)
                if progress:
                    progress(items, expected)
                if time.monotonic() - last_renewal > renew_every:
                    self._store.renew_lock(integration.id, lock_token, self._settings.lock_ttl_seconds)
                    last_renewal = time.monotonic()
        finally:
            files = writer.close()
        return items, files, dict(layout.decoder.warnings)

    def _load(self, integration: Integration, layout: TableLayout, files: list[Any], run_id: str) -> Any:
        warehouse: Warehouse = self._open_warehouse(integration.snowflake_connection_id)
        try:
            existing = warehouse.table_columns(layout.table)
            warehouse.ensure_table(layout.table, layout.target_columns(existing), layout.key)
            return warehouse.merge_files(
                layout.table, layout.columns, layout.key, files, run_id=run_id, delete_missing=True
            )
        finally:
            warehouse.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MondaySnowflakeError):
        return str(exc)
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
        return "run was interrupted"
    return f"{type(exc).__name__}: {exc}"


def _error_class(exc: BaseException) -> str:
    if isinstance(exc, PermanentError):
        return "permanent"
    if isinstance(exc, ConfigurationError | AlreadyRunningError):
        return "configuration"
    return "transient"
