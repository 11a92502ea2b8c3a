"""Board replication, monday -> Snowflake (flow 1 of DESIGN.md): full and incremental runs.

A run locks the integration, reads the board's structure (and its subitems board's), plans each
table from the columns the last run stored (`layout`: schema evolution), and decides its mode:
- **full**: every item, with its subitems nested in the same pages. Rows whose item is no longer on
  the board are deleted (or stamped `_DELETED_AT`). Chosen when forced, when the integration says so,
  before the first success, when a table was never loaded, and when a column changed type.
- **incremental**: only items updated since the last successful run started (monday filters by whole
  days, so the request asks from the day before, and rows are kept when `updated_at` is within the
  overlap window of that start); subitems likewise, from the subitems board. Every
  `reconcile_every_hours` the run also lists the ids on the board (the cheapest query) and removes
  rows whose item is gone: deleted and archived items never show up in `items_page`.

Rows stream into CSV files; for a remote warehouse each finished file is staged (PUT, COPY into a
staging table) on a second thread while later pages are still being read (not for the embedded one
served by this process: it would only compete for the GIL). Then each table is settled (renames,
new columns) and one transaction per table de-duplicates and MERGEs (and deletes). If staging hits a
transient error, the load is retried from the files on disk with backoff. The subitems table is a
step of its own: if it fails (say the subitems board cannot be read), the items table still loads.
The run and its steps are recorded whatever happens.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from monday_snowflake.app.oauth import monday_credentials, token_renewer
from monday_snowflake.errors import (
    AlreadyRunningError,
    ConfigurationError,
    MondaySnowflakeError,
    PermanentError,
    TransientError,
)
from monday_snowflake.logs import bind_correlation_id, get_logger
from monday_snowflake.model import BoardSpec, Integration, MergeResult, TableRef, WarehouseColumn
from monday_snowflake.monday.client import MondayClient
from monday_snowflake.monday.queries import Shape
from monday_snowflake.retry import RetryPolicy, run_with_retry
from monday_snowflake.settings import Settings
from monday_snowflake.snowflake.csvfiles import CsvBatchWriter
from monday_snowflake.storage.local import LocalBlobStore
from monday_snowflake.store.repository import Store
from monday_snowflake.sync.layout import TableLayout, plan_subitems_table, plan_table, target_table
from monday_snowflake.sync.state import SyncState
from monday_snowflake.sync.warehouses import StagedLoad, Warehouse, WarehouseOpener

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
"""Writing a run's CSV files failed for want of space (or a file size limit)."""

log = get_logger(__name__)

T = TypeVar("T")
Progress = Callable[[int, int | None], None]
"""Called with (items done, items expected or None) as pages arrive."""

# Staged files are kept small: a remote warehouse can start on them while the board is still being
# read, and a PUT briefly holds a file in memory a few times over (an 8 MB file: ~20 MB with the
# embedded warehouse in the process; 16 MB files peaked at 45-51 MB). That stays under parsing one
# 500-item page (~25 MB with orjson's working buffer), which sets the run's peak whatever the board's size.
STAGED_FILE_BYTES = 8_000_000
ITEMS, SUBITEMS = "items", "subitems"
_ID_COLUMN = WarehouseColumn("ITEM_ID", "NUMBER(38,0)")


class MondayOpener(Protocol):
    def __call__(
        self, token: str, api_url: str | None, renew_token: Callable[[], Awaitable[str]] | None = None
    ) -> MondayClient: ...


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
    kind: str = "full"
    read: int = 0
    """Items (and subitems) monday returned; `items` of them were written, the rest skipped."""
    reconciled: bool = False
    subitems: MergeResult | None = None
    subitems_error: str | None = None
    schema_changes: dict[str, Any] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds per step: fetch_decode_write, then the load's put, copy, dedup, merge."""

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0


class BoardReplicator:
    """Runs replications of integrations, recording each run in the store."""

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
        self,
        integration_ref: str,
        *,
        account_id: str | None = None,
        progress: Progress | None = None,
        full: bool = False,
        run_id: str | None = None,
    ) -> ReplicationResult:
        """Run one replication of an integration (by id or name); `full` forces a full run; `run_id`
        is the id to record the run under (one promised to whoever asked for it)."""
        integration = self._store.get_integration(integration_ref, account_id=account_id)
        lock_token = self._store.acquire_lock(integration.id, self._owner, self._settings.lock_ttl_seconds)
        try:
            self._fail_interrupted_runs(integration.id)
            with bind_correlation_id(integration_id=integration.id) as correlation_id:
                requested = "full" if full or integration.sync_mode == "full" else "incremental"
                run_id = self._store.start_run(integration.id, requested, correlation_id, run_id=run_id)
                run = _Run(self, integration, run_id, lock_token, progress, force_full=full)
                return await run.execute()
        finally:
            self._store.release_lock(integration.id, lock_token)

    def _fail_interrupted_runs(self, integration_id: str) -> None:
        """With the integration's lock held, a run of it still marked RUNNING was interrupted: its process
        died (kill -9, a crash, a lost machine) and its lock expired. Record it as failed, not running."""
        for earlier in self._store.list_runs(integration_id):
            if earlier.status == "RUNNING":
                error = "interrupted: the process running it stopped before it finished"
                self._store.finish_run(earlier.id, "FAILED", rows_processed=earlier.rows_processed or 0,
                                       rows_failed=0, error=error, error_class="transient")  # fmt: skip
                log.warning("an interrupted run was marked failed", run_id=earlier.id)


@dataclass
class _Plan:
    kind: str
    reason: str
    since: datetime | None = None
    """Incremental runs: rows updated at or after this instant are written."""
    reconcile: bool = False
    """Incremental runs: also list the board's ids and remove rows whose item is gone."""


@dataclass
class _Table:
    """One target table of a run and what the run does to it."""

    role: str
    layout: TableLayout
    writer: CsvBatchWriter
    staging: _Staging | None = None
    keys: CsvBatchWriter | None = None
    files: list[Path] = field(default_factory=list)
    key_files: list[Path] = field(default_factory=list)
    written: int = 0
    read: int = 0
    result: MergeResult | None = None
    pruned: int = 0
    error: str | None = None


class _Run:
    """One replication run: its state and its steps."""

    def __init__(
        self,
        replicator: BoardReplicator,
        integration: Integration,
        run_id: str,
        lock_token: int,
        progress: Progress | None,
        *,
        force_full: bool,
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
        self.force_full = force_full
        self.subtask: str | None = None
        self.phases: dict[str, float] = {}
        self.tables: dict[str, _Table] = {}
        self.warehouse: Warehouse | None = None
        self.synced_at = datetime.now(UTC).replace(tzinfo=None)
        self.subitems_error: str | None = None
        self.last_renewal = time.monotonic()
        # one thread owns the warehouse session for the whole run
        self.warehouse_thread = ThreadPoolExecutor(1, thread_name_prefix="warehouse")

    # -- the run ----------------------------------------------------------------------------------------

    async def execute(self) -> ReplicationResult:
        started = time.perf_counter()
        started_at = datetime.now(UTC)
        log.info("run started", run_id=self.run_id)
        plan: _Plan | None = None
        try:
            async with AsyncExitStack() as stack:
                stack.callback(self.warehouse_thread.shutdown)
                stack.callback(self.blobs.delete_prefix, self.run_id)
                state = SyncState.from_json(self.store.sync_state(self.integration.id))
                plan = await self._replicate(stack, state)
        except OSError as exc:
            if exc.errno not in _DISK_FULL:
                self._fail(exc, plan)
                raise
            # expected, not a bug: a readable error (no stack trace), retried once space is freed
            where = self.settings.data_dir
            error = TransientError(f"disk full: cannot write the run's files in {where}: {exc.strerror}")
            self._fail(error, plan)
            raise error from exc
        except BaseException as exc:
            self._fail(exc, plan)
            raise
        return self._complete(plan, state, started_at, time.perf_counter() - started)

    async def _replicate(self, stack: AsyncExitStack, state: SyncState) -> _Plan:
        integration = self.integration
        self._begin("fetch")
        token, api_url = await asyncio.to_thread(
            monday_credentials, self.settings, self.store, integration.monday_connection_id
        )
        renew = token_renewer(self.settings, self.store, integration.monday_connection_id)
        client = await stack.enter_async_context(self.open_monday(token, api_url, renew))
        board = await client.get_board(integration.board_id)
        subitems_board = await self._subitems_board(client, board)

        try:
            self.warehouse = await self._in_warehouse_thread(
                lambda: self.open_warehouse(integration.snowflake_connection_id)
            )
            warehouse = self.warehouse
            stack.callback(lambda: self.warehouse_thread.submit(warehouse.close).result())
        except TransientError as exc:  # the warehouse is not reachable yet: load after the fetch
            log.warning("warehouse not reachable, loading after the fetch", error=str(exc))
        await self._plan_tables(board, subitems_board, state)
        plan = self._decide(state)
        log.info("run mode decided", kind=plan.kind, reason=plan.reason, reconcile=plan.reconcile)
        for table in self.tables.values():
            await self._begin_staging(stack, table)

        fetch_started = time.perf_counter()
        if plan.kind == "full":
            await self._fetch_full(client, board)
        else:
            await self._fetch_changes(client, board, subitems_board, plan)
        if plan.reconcile and plan.kind == "incremental":
            await self._list_ids(client, board)
        for table in self.tables.values():
            table.files = table.writer.close()
            if table.staging is not None:
                table.staging.submit(table.writer.take_finished())
            if table.keys is not None:
                table.key_files = table.keys.close()
        self.phases["fetch_decode_write"] = round(time.perf_counter() - fetch_started, 3)
        self._finish(rows=sum(t.read for t in self.tables.values()))

        self.store.check_lock(integration.id, self.lock_token)
        for table in self.tables.values():
            if table.error is None:
                await self._load(table, plan)
            else:
                self._skip(table)
        return plan

    async def _subitems_board(self, client: MondayClient, board: BoardSpec) -> BoardSpec | None:
        """The subitems board's structure, if subitems are wanted; a failure is kept for its step."""
        if not self.integration.options.include_subitems or board.subitems_board_id is None:
            return None
        try:
            return await client.get_board(board.subitems_board_id)
        except (PermanentError, ConfigurationError) as exc:
            self.subitems_error = f"the subitems board {board.subitems_board_id} cannot be read: {exc}"
            log.warning("subitems will not sync", error=self.subitems_error)
            return None

    async def _plan_tables(
        self, board: BoardSpec, subitems_board: BoardSpec | None, state: SyncState
    ) -> None:
        integration = self.integration
        existing = await self._table_columns(target_table(integration, board))
        main = plan_table(integration, board, previous=state.columns(ITEMS), existing=existing)
        self.tables[ITEMS] = self._table(ITEMS, main)
        if subitems_board is not None or self.subitems_error is not None:
            placeholder = subitems_board or BoardSpec(board.subitems_board_id or "", "", ())
            sub_ref = plan_subitems_table(integration, main.table, placeholder).table
            existing = await self._table_columns(sub_ref) if subitems_board is not None else {}
            sub = plan_subitems_table(
                integration, main.table, placeholder, previous=state.columns(SUBITEMS), existing=existing
            )
            self.tables[SUBITEMS] = self._table(SUBITEMS, sub)
            self.tables[SUBITEMS].error = self.subitems_error

    def _table(self, role: str, layout: TableLayout) -> _Table:
        max_bytes = min(self.settings.csv_max_bytes, STAGED_FILE_BYTES)
        writer = CsvBatchWriter(self.blobs, f"{self.run_id}/{role}", layout.columns, max_bytes)
        return _Table(role, layout, writer)

    async def _table_columns(self, table: TableRef) -> dict[str, str]:
        warehouse = self.warehouse
        if warehouse is None:
            return {}
        return await self._in_warehouse_thread(lambda: warehouse.table_columns(table))

    def _decide(self, state: SyncState) -> _Plan:
        integration = self.integration
        now = datetime.now(UTC)
        reasons = [
            (self.force_full, "requested"),
            (integration.sync_mode == "full", "the integration runs full syncs"),
            (any(state.loaded_from(role) is None for role in self.tables if self.tables[role].error is None),
             "first run" if state.loaded_from(ITEMS) is None else "a table was never loaded"),
            (any(t.layout.changes.added or t.layout.changes.retyped for t in self.tables.values()),
             "columns were added or changed type, and every row needs their values"),
        ]  # fmt: skip
        for applies, reason in reasons:
            if applies:
                return _Plan("full", reason)
        since = min(
            loaded
            for role in self.tables
            if self.tables[role].error is None and (loaded := state.loaded_from(role)) is not None
        )
        every = timedelta(hours=integration.options.reconcile_every_hours)
        reconciled = state.reconciled_at
        reconcile = reconciled is None or now - reconciled >= every
        overlap = timedelta(seconds=self.settings.incremental_overlap_seconds)
        return _Plan("incremental", "changes since the last run", since - overlap, reconcile)

    # -- fetching ---------------------------------------------------------------------------------------

    async def _fetch_full(self, client: MondayClient, board: BoardSpec) -> None:
        items = self.tables[ITEMS]
        subitems = self.tables.get(SUBITEMS)
        nested = subitems is not None and subitems.error is None
        layout, write, synced_at = items.layout, items.writer.write_row, self.synced_at
        sub_columns = (subitems.layout.column_ids or None) if subitems is not None and nested else None
        pages = client.iter_item_pages(
            board.id,
            column_ids=layout.column_ids,
            shape=Shape.WITH_SUBITEMS if nested else Shape.ITEMS,
            subitem_column_ids=sub_columns,
            skip_seen=False,
        )
        async for page in pages:
            for item in page:
                write(layout.row(item, synced_at))
                if nested:
                    assert subitems is not None
                    self._write_subitems(subitems, item)
            items.read += len(page)
            items.written += len(page)
            del page  # let it go before the next page is parsed: one page in memory, not two
            self._page_done(items.written, board.items_count)

    def _write_subitems(self, table: _Table, parent: dict[str, Any], since: datetime | None = None) -> None:
        layout, synced_at = table.layout, self.synced_at
        parent_id = parent.get("id")
        for sub in parent.get("subitems") or ():
            table.read += 1
            if since is None or _updated_since(sub, since):
                table.writer.write_row(layout.row(sub, synced_at, parent_id))
                table.written += 1

    async def _fetch_changes(
        self, client: MondayClient, board: BoardSpec, subitems_board: BoardSpec | None, plan: _Plan
    ) -> None:
        assert plan.since is not None
        since = plan.since
        query_params = _updated_since_filter(since)
        items = self.tables[ITEMS]
        layout = items.layout
        async for page in client.iter_item_pages(
            board.id, column_ids=layout.column_ids, query_params=query_params, skip_seen=False
        ):
            for item in page:
                if _updated_since(item, since):
                    items.writer.write_row(layout.row(item, self.synced_at))
                    items.written += 1
            items.read += len(page)
            del page  # as in _fetch_full
            self._page_done(items.written, None)
        subitems = self.tables.get(SUBITEMS)
        if subitems is None or subitems.error is not None or subitems_board is None:
            return
        try:
            async for page in client.iter_item_pages(
                subitems_board.id, query_params=query_params, shape=Shape.SUBITEMS, skip_seen=False
            ):
                for sub in page:
                    subitems.read += 1
                    if _updated_since(sub, since):
                        parent = sub.get("parent_item") or {}
                        subitems.writer.write_row(subitems.layout.row(sub, self.synced_at, parent.get("id")))
                        subitems.written += 1
                del page  # as in _fetch_full
                self._page_done(items.written + subitems.written, None)
        except (PermanentError, ConfigurationError) as exc:
            subitems.error = f"the subitems board {subitems_board.id} cannot be read: {exc}"
            log.warning("subitems will not sync", error=subitems.error)

    async def _list_ids(self, client: MondayClient, board: BoardSpec) -> None:
        """Write every id on the board (and its subitems') to key files, to find rows whose item is gone."""
        items = self.tables[ITEMS]
        subitems = self.tables.get(SUBITEMS)
        nested = subitems is not None and subitems.error is None
        max_bytes = min(self.settings.csv_max_bytes, STAGED_FILE_BYTES)
        for table in (items, subitems) if nested else (items,):
            assert table is not None
            prefix = f"{self.run_id}/{table.role}-ids"
            table.keys = CsvBatchWriter(self.blobs, prefix, [_ID_COLUMN], max_bytes)
        listed = 0
        async for page in client.iter_item_pages(
            board.id, shape=Shape.IDS_WITH_SUBITEMS if nested else Shape.IDS, skip_seen=False
        ):
            assert items.keys is not None
            for item in page:
                items.keys.write_row([int(item["id"])])
                if nested:
                    assert subitems is not None and subitems.keys is not None
                    for sub in item.get("subitems") or ():
                        subitems.keys.write_row([int(sub["id"])])
            listed += len(page)
            del page  # as in _fetch_full
            self._renew_lock()
        log.info("listed the board's ids for reconciliation", items=listed)

    def _page_done(self, done: int, expected: int | None) -> None:
        items = self.tables[ITEMS]
        if items.staging is not None and items.staging.alongside:
            for table in self.tables.values():
                if table.staging is not None:
                    table.staging.submit(table.writer.take_finished())
        if self.progress:
            self.progress(done, expected)
        self._renew_lock()

    def _renew_lock(self) -> None:
        if time.monotonic() - self.last_renewal > self.settings.lock_ttl_seconds / 3:
            self.store.renew_lock(self.integration.id, self.lock_token, self.settings.lock_ttl_seconds)
            self.last_renewal = time.monotonic()

    # -- loading ----------------------------------------------------------------------------------------

    async def _begin_staging(self, stack: AsyncExitStack, table: _Table) -> None:
        warehouse = self.warehouse
        if warehouse is None or table.error is not None:
            return
        layout = table.layout
        load = await self._in_warehouse_thread(
            lambda: warehouse.begin_load(layout.table, layout.columns, layout.key, run_id=self.run_id)
        )
        stack.callback(lambda: self.warehouse_thread.submit(load.close).result())
        table.staging = _Staging(self, load, alongside=warehouse.stages_alongside_caller)

    async def _load(self, table: _Table, plan: _Plan) -> None:
        """Settle and merge one table (then prune it, on a reconciling incremental run)."""
        self._begin("load" if table.role == ITEMS else "subitems")
        full = plan.kind == "full"
        soft = table.layout.soft_delete
        try:
            table.result = await self._merge(table, delete_missing=full, soft_delete=soft)
            if table.key_files:
                pruned = await self._with_retry(lambda warehouse: self._prune(warehouse, table))
                table.pruned = pruned.deleted
        except (PermanentError, ConfigurationError) as exc:
            if table.role == ITEMS:
                raise
            table.error = f"the subitems table could not be loaded: {exc}"
            self._fail_step(table.error)
            return
        result = table.result
        self._finish(rows=result.inserted + result.updated + result.deleted + table.pruned)

    async def _merge(self, table: _Table, *, delete_missing: bool, soft_delete: bool) -> MergeResult:
        staging, warehouse = table.staging, self.warehouse
        if staging is not None and warehouse is not None:
            try:
                await staging.drain()
                load = staging.load
                return await self._in_warehouse_thread(
                    lambda: self._settle_and_merge(warehouse, load, table, delete_missing, soft_delete)
                )
            except TransientError as exc:
                log.warning("staged load failed; loading again from the files", error=str(exc))

        def load_all(warehouse: Warehouse) -> MergeResult:
            _settle_table(warehouse, table.layout)
            layout = table.layout
            return warehouse.merge_files(layout.table, layout.columns, layout.key, table.files,
                                         run_id=self.run_id, delete_missing=delete_missing,
                                         soft_delete=soft_delete)  # fmt: skip

        return await self._with_retry(load_all)

    def _settle_and_merge(
        self, warehouse: Warehouse, load: StagedLoad, table: _Table, delete_missing: bool, soft_delete: bool
    ) -> MergeResult:
        """In the warehouse thread: settle the target table's columns, then merge what was staged."""
        _settle_table(warehouse, table.layout)
        return load.merge(delete_missing=delete_missing, soft_delete=soft_delete)

    def _prune(self, warehouse: Warehouse, table: _Table) -> MergeResult:
        layout = table.layout
        return warehouse.merge_files(layout.table, [_ID_COLUMN], _ID_COLUMN.name, table.key_files,
                                     run_id=self.run_id, delete_missing=True, soft_delete=layout.soft_delete,
                                     upsert=False)  # fmt: skip

    async def _with_retry(self, work: Callable[[Warehouse], T]) -> T:
        """Do warehouse work on a fresh session, retrying transient errors with backoff."""
        policy = RetryPolicy(
            self.settings.snowflake.max_attempts, self.settings.snowflake.backoff_base_seconds
        )

        def attempt() -> T:
            warehouse = self.open_warehouse(self.integration.snowflake_connection_id)
            try:
                return work(warehouse)
            finally:
                warehouse.close()

        return await run_with_retry(
            policy, lambda: self._in_warehouse_thread(attempt), sleep=asyncio.sleep, describe="warehouse load"
        )

    # -- bookkeeping ------------------------------------------------------------------------------------

    def _complete(
        self, plan: _Plan, state: SyncState, started_at: datetime, seconds: float
    ) -> ReplicationResult:
        # a run that outlived its lock must not move where a newer run's incremental runs start
        self.store.check_lock(self.integration.id, self.lock_token)
        items = self.tables[ITEMS]
        subitems = self.tables.get(SUBITEMS)
        assert items.result is not None
        result = items.result
        reconciled = plan.kind == "full" or plan.reconcile
        for table in self.tables.values():
            if table.error is None:
                state.loaded(table.role, started_at, table.layout.stored_columns())
        if reconciled and all(t.error is None for t in self.tables.values()):
            state.reconciled_at = started_at
        self.store.set_sync_state(self.integration.id, state.to_json())
        self.store.set_last_success(self.integration.id, started_at)

        loaded = [t for t in self.tables.values() if t.error is None]
        changes = {t.role: t.layout.changes.as_dict() for t in loaded if t.layout.changes}
        warnings = dict(items.layout.decoder.warnings)
        phases = {**self.phases, **result.seconds}
        tables = {
            t.role: {
                "table": ".".join((t.layout.table.database, t.layout.table.schema, t.layout.table.name)),
                "read": t.read, "written": t.written, "skipped": t.read - t.written,
                **({"inserted": t.result.inserted, "updated": t.result.updated,
                    "deleted": t.result.deleted + t.pruned, "duplicates_dropped": t.result.duplicates_dropped}
                   if t.result else {}),
                **({"error": t.error} if t.error else {}),
            }
            for t in self.tables.values()
        }  # fmt: skip
        error = subitems.error if subitems is not None else None
        written = sum(t.written for t in self.tables.values())
        self.store.finish_run(
            self.run_id, "COMPLETED", rows_processed=written, rows_failed=0, kind=plan.kind, error=error,
            error_class="partial" if error else None,
            metrics={"kind": plan.kind, "reason": plan.reason, "reconciled": reconciled, "tables": tables,
                     "schema_changes": changes, "warnings": warnings, "phases": phases},
        )  # fmt: skip
        outcome = ReplicationResult(
            self.run_id, self.integration.id, items.layout.table, items.written, result.inserted,
            result.updated, result.deleted + items.pruned, seconds, plan.kind,
            read=items.read, reconciled=reconciled,
            subitems=subitems.result if subitems is not None else None, subitems_error=error,
            schema_changes=changes, warnings=warnings, phases=phases,
        )  # fmt: skip
        log.info("run completed", run_id=self.run_id, kind=plan.kind, items=items.written, read=items.read,
                 seconds=round(seconds, 3), items_per_second=round(outcome.items_per_second),
                 schema_changes=changes or None, subitems_error=error)  # fmt: skip
        return outcome

    def _begin(self, name: str) -> None:
        self.subtask = self.store.start_subtask(self.run_id, name)

    def _finish(self, *, rows: int) -> None:
        if self.subtask is not None:
            self.store.finish_subtask(self.subtask, "COMPLETED", rows_processed=rows)
            self.subtask = None

    def _fail_step(self, error: str) -> None:
        if self.subtask is not None:
            self.store.finish_subtask(self.subtask, "FAILED", error=error)
            self.subtask = None
        log.warning("step failed", run_id=self.run_id, error=error)

    def _skip(self, table: _Table) -> None:
        """A table that could not be read: its step is recorded as failed, the run goes on."""
        self._begin(table.role)
        self._fail_step(table.error or "skipped")

    def _fail(self, exc: BaseException, plan: _Plan | None) -> None:
        error = describe_error(exc)
        if self.subtask is not None:
            self.store.finish_subtask(self.subtask, "FAILED", error=error)
        written = sum(t.written for t in self.tables.values())
        self.store.finish_run(self.run_id, "FAILED", rows_processed=written, rows_failed=0, error=error,
                              error_class=error_class(exc), kind=plan.kind if plan else None)  # fmt: skip
        log.warning("run failed", run_id=self.run_id, error=error, error_class=error_class(exc))

    def _in_warehouse_thread(self, work: Callable[[], T]) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self.warehouse_thread, work)


class _Staging:
    """Stages finished CSV files on the warehouse thread, while the fetch goes on when `alongside`."""

    def __init__(self, run: _Run, load: StagedLoad, *, alongside: bool) -> None:
        self._run = run
        self.load = load
        self.alongside = alongside
        self._pending: list[Awaitable[Any]] = []

    def submit(self, files: list[Path]) -> None:
        for path in files:
            self._pending.append(self._run._in_warehouse_thread(partial(self.load.add_file, path)))

    async def drain(self) -> None:
        """Wait for every submitted file; the first failure is raised."""
        pending, self._pending = self._pending, []
        results = await asyncio.gather(*pending, return_exceptions=True)
        for outcome in results:
            if isinstance(outcome, BaseException):
                raise outcome


def _settle_table(warehouse: Warehouse, layout: TableLayout) -> None:
    """Rename columns as planned, then create the table or add the columns it lacks; existing columns
    keep their types."""
    existing = warehouse.table_columns(layout.table)
    for old, new in layout.changes.renamed:
        if old in existing and new not in existing:
            warehouse.rename_column(layout.table, old, new)
            existing[new] = existing.pop(old)
    warehouse.ensure_table(layout.table, layout.target_columns(existing), layout.key)


def _updated_since_filter(since: datetime) -> dict[str, Any]:
    """monday compares `__last_updated__` by whole days in the token user's timezone (anywhere from
    UTC-12 to UTC+14), so ask from the day before; rows are then filtered on `updated_at` exactly."""
    day = (since.astimezone(UTC) - timedelta(days=1)).date().isoformat()
    rule = {"column_id": "__last_updated__", "compare_value": ["EXACT", day],
            "operator": "greater_than_or_equals", "compare_attribute": "UPDATED_AT"}  # fmt: skip
    return {"rules": [rule]}


def _updated_since(item: dict[str, Any], since: datetime) -> bool:
    """Whether monday's `updated_at` is at or after `since`; an unreadable one counts as changed."""
    raw = item.get("updated_at")
    try:
        updated = datetime.fromisoformat(str(raw))
    except ValueError:
        return True
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=UTC)
    return updated >= since


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, MondaySnowflakeError):
        return str(exc)
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
        return "run was interrupted"
    return f"{type(exc).__name__}: {exc}"


def error_class(exc: BaseException) -> str:
    if isinstance(exc, PermanentError):
        return "permanent"
    if isinstance(exc, ConfigurationError | AlreadyRunningError):
        return "configuration"
    return "transient"
