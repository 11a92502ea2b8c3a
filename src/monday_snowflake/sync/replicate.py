"""Full board replication, monday -> Snowflake (flow 1 of DESIGN.md).

Lock the integration, page through the board (the client fetches one page ahead), decode each
item into a row and stream rows into CSV files. Each finished file is staged (PUT, COPY into a
staging table) on a second thread while later pages are still being read, so a remote warehouse
works while we decode (not the embedded one served by this process: it would only compete for
the GIL, so there the files are staged after the fetch). Then one transaction de-duplicates,
MERGEs and deletes rows whose items left the board. If staging hits a transient error, the whole
load is retried from the files on disk with backoff. The run and its subtasks (fetch, load,
merge) are recorded whatever happens.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from monday_snowflake.errors import (
    AlreadyRunningError,
    ConfigurationError,
    MondaySnowflakeError,
    PermanentError,
    TransientError,
)
from monday_snowflake.logs import bind_correlation_id, get_logger
from monday_snowflake.model import Integration, MergeResult, TableRef
from monday_snowflake.monday.client import MondayClient
from monday_snowflake.retry import RetryPolicy, run_with_retry
from monday_snowflake.settings import Settings
from monday_snowflake.snowflake.csvfiles import CsvBatchWriter
from monday_snowflake.storage.local import LocalBlobStore
from monday_snowflake.store.repository import Store
from monday_snowflake.sync.layout import TableLayout, plan_table
from monday_snowflake.sync.warehouses import StagedLoad, Warehouse, WarehouseOpener

log = get_logger(__name__)

T = TypeVar("T")
Progress = Callable[[int, int | None], None]
"""Called with (items done, items expected or None) as pages arrive."""

# Staged files are kept small: a remote warehouse can start on them while the board is still being
# read, and a PUT holds a file in memory, so memory stays flat however big the board is.
STAGED_FILE_BYTES = 16_000_000


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
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds per step: fetch_decode_write, then the load's put, copy, dedup, merge."""

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
                run = _Run(self, integration, run_id, lock_token, progress)
                return await run.execute()
        finally:
            self._store.release_lock(integration.id, lock_token)


class _Run:
    """One replication run: its state and its steps."""

    def __init__(
        self,
        replicator: BoardReplicator,
        integration: Integration,
        run_id: str,
        lock_token: int,
        progress: Progress | None,
    ) -> None:
        self.settings = replicator._settings
        self.store = replicator._store
        self.open_monday = replicator._open_monday
        self.open_warehouse = replicator._open_warehouse
        self.blobs = replicator._blobs
        self.integration = integration
        self.run_id = run_id
        self.lock_token = lock_token
        self.progress = progress
        self.items = 0
        self.subtask: str | None = None
        self.files: list[Path] = []
        self.phases: dict[str, float] = {}
        # one thread owns the warehouse session for the whole run
        self.warehouse_thread = ThreadPoolExecutor(1, thread_name_prefix="warehouse")

    async def execute(self) -> ReplicationResult:
        started = time.perf_counter()
        started_at = datetime.now(UTC)
        log.info("run started", run_id=self.run_id, kind="full")
        try:
            async with AsyncExitStack() as stack:
                stack.callback(self.warehouse_thread.shutdown)
                stack.callback(self.blobs.delete_prefix, self.run_id)
                layout, result = await self._replicate(stack)
        except BaseException as exc:
            self._fail(exc)
            raise
        seconds = time.perf_counter() - started
        warnings = dict(layout.decoder.warnings)
        phases = {**self.phases, **result.seconds}
        self.store.finish_run(
            self.run_id, "COMPLETED", rows_processed=self.items, rows_failed=0,
            metrics={"inserted": result.inserted, "updated": result.updated, "deleted": result.deleted,
                     "duplicates_dropped": result.duplicates_dropped, "warnings": warnings,
                     "table": f"{layout.table.database}.{layout.table.schema}.{layout.table.name}",
                     "phases": phases},
        )  # fmt: skip
        self.store.set_last_success(self.integration.id, started_at)
        outcome = ReplicationResult(
            self.run_id, self.integration.id, layout.table, self.items, result.inserted, result.updated,
            result.deleted, seconds, warnings, phases,
        )  # fmt: skip
        log.info("run completed", run_id=self.run_id, items=self.items, seconds=round(seconds, 3),
                 items_per_second=round(outcome.items_per_second))  # fmt: skip
        return outcome

    async def _replicate(self, stack: AsyncExitStack) -> tuple[TableLayout, MergeResult]:
        integration = self.integration
        self._begin("fetch")
        secret = self.store.connection_secret(integration.monday_connection_id)
        api_url = self.store.get_connection(integration.monday_connection_id).config.get("api_url")
        client = await stack.enter_async_context(self.open_monday(secret["token"], api_url))
        board = await client.get_board(integration.board_id)
        layout = plan_table(integration, board)

        staging: _Staging | None = None
        try:
            warehouse = await self._in_warehouse_thread(lambda: self.open_warehouse(
                integration.snowflake_connection_id))  # fmt: skip
            stack.callback(lambda: self.warehouse_thread.submit(warehouse.close).result())
            load = warehouse.begin_load(layout.table, layout.columns, layout.key, run_id=self.run_id)
            stack.callback(lambda: self.warehouse_thread.submit(load.close).result())
            staging = _Staging(self, load, alongside=warehouse.stages_alongside_caller)
        except TransientError as exc:  # the warehouse is not reachable yet: stage after the fetch
            log.warning("warehouse not reachable, loading after the fetch", error=str(exc))

        fetch_started = time.perf_counter()
        await self._fetch(client, layout, board.items_count, staging)
        self.phases["fetch_decode_write"] = round(time.perf_counter() - fetch_started, 3)
        self._finish(rows=self.items)

        self._begin("load")
        self.store.check_lock(integration.id, self.lock_token)
        if staging is None:
            return layout, await self._load_from_files(layout)
        try:
            await staging.drain()
            result = await self._in_warehouse_thread(lambda: self._merge(warehouse, load, layout))
        except TransientError as exc:
            log.warning("staged load failed; loading again from the files", error=str(exc))
            result = await self._load_from_files(layout)
        return layout, result

    async def _fetch(
        self, client: MondayClient, layout: TableLayout, expected: int | None, staging: _Staging | None
    ) -> None:
        synced_at = datetime.now(UTC).replace(tzinfo=None)
        max_bytes = min(self.settings.csv_max_bytes, STAGED_FILE_BYTES)
        writer = CsvBatchWriter(self.blobs, self.run_id, layout.columns, max_bytes)
        renew_every = self.settings.lock_ttl_seconds / 3
        last_renewal = time.monotonic()
        try:
            async for page in client.iter_item_pages(self.integration.board_id, column_ids=layout.column_ids):
                for item in page:
                    writer.write_row(layout.row(item, synced_at))
                self.items += len(page)
                if staging is not None and staging.alongside:
                    staging.submit(writer.take_finished())
                if self.progress:
                    self.progress(self.items, expected)
                if time.monotonic() - last_renewal > renew_every:
                    self.store.renew_lock(
                        self.integration.id, self.lock_token, self.settings.lock_ttl_seconds
                    )
                    last_renewal = time.monotonic()
        finally:
            self.files = writer.close()
        if staging is not None:
            staging.submit(writer.take_finished())

    def _merge(self, warehouse: Warehouse, load: StagedLoad, layout: TableLayout) -> MergeResult:
        """In the warehouse thread: settle the target table's columns, then merge what was staged."""
        self._finish(rows=self.items)
        self._begin("merge")
        _settle_table(warehouse, layout)
        result = load.merge(delete_missing=True)
        self._finish(rows=result.inserted + result.updated + result.deleted)
        return result

    async def _load_from_files(self, layout: TableLayout) -> MergeResult:
        """Load every file again on a fresh session, retrying transient errors with backoff."""
        policy = RetryPolicy(
            self.settings.snowflake.max_attempts, self.settings.snowflake.backoff_base_seconds
        )

        def load_all() -> MergeResult:
            warehouse = self.open_warehouse(self.integration.snowflake_connection_id)
            try:
                _settle_table(warehouse, layout)
                return warehouse.merge_files(layout.table, layout.columns, layout.key, self.files,
                                             run_id=self.run_id, delete_missing=True)  # fmt: skip
            finally:
                warehouse.close()

        result = await run_with_retry(
            policy,
            lambda: self._in_warehouse_thread(load_all),
            sleep=asyncio.sleep,
            describe="warehouse load",
        )
        self._finish(rows=result.staged_rows)
        return result

    # -- bookkeeping ------------------------------------------------------------------------------------

    def _begin(self, name: str) -> None:
        self.subtask = self.store.start_subtask(self.run_id, name)

    def _finish(self, *, rows: int) -> None:
        if self.subtask is not None:
            self.store.finish_subtask(self.subtask, "COMPLETED", rows_processed=rows)
            self.subtask = None

    def _fail(self, exc: BaseException) -> None:
        error = _describe(exc)
        if self.subtask is not None:
            self.store.finish_subtask(self.subtask, "FAILED", error=error)
        self.store.finish_run(self.run_id, "FAILED", rows_processed=self.items, rows_failed=0, error=error,
                              error_class=_error_class(exc))  # fmt: skip
        log.warning("run failed", run_id=self.run_id, error=error, error_class=_error_class(exc))

    def _in_warehouse_thread(self, work: Callable[[], T]) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self.warehouse_thread, work)


class _Staging:
    """Stages finished CSV files on the warehouse thread, while the fetch goes on when `alongside`."""

    def __init__(self, run: _Run, load: StagedLoad, *, alongside: bool) -> None:
        self._run = run
        self._load = load
        self.alongside = alongside
        self._pending: list[Awaitable[Any]] = []

    def submit(self, files: list[Path]) -> None:
        for path in files:
            self._pending.append(self._run._in_warehouse_thread(partial(self._load.add_file, path)))

    async def drain(self) -> None:
        """Wait for every submitted file; the first failure is raised."""
        pending, self._pending = self._pending, []
        results = await asyncio.gather(*pending, return_exceptions=True)
        for outcome in results:
            if isinstance(outcome, BaseException):
                raise outcome


def _settle_table(warehouse: Warehouse, layout: TableLayout) -> None:
    """Create the target table, or add the columns it lacks; existing columns keep their types."""
    existing = warehouse.table_columns(layout.table)
    warehouse.ensure_table(layout.table, layout.target_columns(existing), layout.key)


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
