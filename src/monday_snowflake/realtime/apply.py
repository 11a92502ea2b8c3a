"""Applying stored webhook events to the warehouse, in micro-batches.

A flush takes an integration's pending events (holding the integration's run lock, so it never
overlaps a sync run or another worker's flush), keeps one entry per item, reads those items from
monday as they are now (`items(ids:)`, 100 per request), and applies them with one staged MERGE per
table and one DELETE for the items that are gone (deleted, archived, or no longer readable).

- Rows always come from monday's current state, and the MERGE never replaces a row with an older
  `UPDATED_AT`, so a late, repeated or reordered event costs at most an extra read, never older data.
- Edits of columns the integration does not copy cause no read at all (unless it copies a "last
  updated" column, which every edit moves); such a row's `UPDATED_AT` stays at its last copied change.
- Creating, deleting or archiving a subitem also re-reads its parent (its `updated_at` and subitems
  column change without an event of its own); deleting an item re-reads the rows whose connect-boards
  or dependency columns pointed at it (monday drops those links silently).
- When the board has a column the table lacks, the flush leaves its events pending and queues a sync
  run, which takes the schema evolution path; the events are applied by the next flush after it.
- With a `display_errors_column`, a failed flush writes its error on the items it could not apply
  (once per message), and the next flush that applies them clears it. That column is never copied,
  and a write happens only when the message shown changes, so our own writes coming back as events
  cannot start a loop.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from monday_snowflake.app.oauth import monday_credentials, token_renewer
from monday_snowflake.errors import (
    AlreadyRunningError,
    ConfigurationError,
    MondaySnowflakeError,
    PermanentError,
)
from monday_snowflake.logs import get_logger
from monday_snowflake.model import BoardSpec, Integration
from monday_snowflake.monday.client import MondayClient
from monday_snowflake.monday.codecs import normalise_type
from monday_snowflake.monday.queries import Shape
from monday_snowflake.runtime import Runtime
from monday_snowflake.snowflake.csvfiles import CsvBatchWriter
from monday_snowflake.snowflake.sql import keys_mentioning
from monday_snowflake.storage.local import LocalBlobStore
from monday_snowflake.store.realtime import PendingEvent
from monday_snowflake.sync.layout import (
    METADATA_COLUMNS,
    PARENT_COLUMN,
    TableLayout,
    plan_subitems_table,
    plan_table,
    target_table,
)
from monday_snowflake.sync.state import SyncState
from monday_snowflake.sync.warehouses import Warehouse

log = get_logger(__name__)

BOARD_CACHE_SECONDS = 60.0
MAX_EVENTS_PER_FLUSH = 20_000
SCHEMA_EVENTS = ("create_column",)
STRUCTURE_EVENTS = frozenset({"create_pulse", "archive_pulse", "delete_pulse", "restore_pulse"})
"""Subitem events after which the parent item's row changes too."""
LINK_TYPES = frozenset({"board_relation", "dependency"})
"""Columns that hold other items' ids, which monday drops silently when those items are deleted."""
ITEM_ID = METADATA_COLUMNS[0].name
UPDATED_AT = "UPDATED_AT"
MAX_DISPLAYED_ERRORS = 100
"""Items one failed flush writes its error on (a whole failed burst would cost thousands of writes)."""
ERROR_TEXT_LIMIT = 2000

EnqueueSync = Callable[[Integration, str], None]
"""Queues a sync run of the integration (with the reason given) unless one is queued or running."""
FlushFailureHook = Callable[[Integration, BaseException, str], Awaitable[None]]
"""Told of a failed flush: the integration, the error, the flush's run id."""


@dataclass
class FlushResult:
    integration_id: str
    events: int = 0
    items: int = 0
    subitems: int = 0
    relinked: int = 0
    """Rows re-read because a connect-boards or dependency column pointed at an item now gone."""
    upserted: int = 0
    deleted: int = 0
    skipped: int = 0
    """Events that needed no read: edits of columns the integration does not copy."""
    deferred: str | None = None
    """Why the events were left pending (a sync run was queued first)."""
    shown_on: list[str] = field(default_factory=list)
    """Items the flush is about (main items, and the parents of subitems): where errors are shown.
    First every item an event names, then, once the tables are planned, those it reads."""
    latency_seconds: list[float] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        latencies = sorted(self.latency_seconds)
        return {
            "events": self.events,
            "items": self.items,
            "subitems": self.subitems,
            "relinked": self.relinked,
            "upserted": self.upserted,
            "deleted": self.deleted,
            "skipped": self.skipped,
            "latency_p50_seconds": _quantile(latencies, 0.5),
            "latency_p95_seconds": _quantile(latencies, 0.95),
            "latency_max_seconds": round(latencies[-1], 3) if latencies else None,
        }


@dataclass
class _Targets:
    items: dict[str, None] = field(default_factory=dict)
    subitems: dict[str, None] = field(default_factory=dict)
    parents: dict[str, None] = field(default_factory=dict)
    """Parents of the subitems: where a subitem's error is shown."""


class RealtimeApplier:
    """Flushes the pending webhook events of integrations that are due."""

    def __init__(
        self, runtime: Runtime, enqueue_sync: EnqueueSync, on_failure: FlushFailureHook | None = None
    ) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.settings = runtime.settings.realtime
        self._enqueue_sync = enqueue_sync
        self._on_failure = on_failure
        """Told of every failed flush (the alerts: an expired token stops webhooks as it stops runs)."""
        self._blobs = LocalBlobStore(runtime.settings.data_dir / "files")
        self._owner = f"realtime:{socket.gethostname()}:{os.getpid()}"
        self._boards: dict[str, tuple[float, BoardSpec, BoardSpec | None]] = {}
        self._not_before: dict[str, tuple[float, int]] = {}
        """integration -> (monotonic time, failures in a row): back off after failed flushes."""

    async def flush_due(self) -> list[FlushResult]:
        """Flush every integration whose oldest pending event waited `flush_seconds`, or that has
        `flush_rows` events waiting."""
        older_than = datetime.now(UTC) - timedelta(seconds=self.settings.flush_seconds)
        due = await asyncio.to_thread(
            self.store.due_event_integrations, older_than=older_than, at_least=self.settings.flush_rows
        )
        paused = await asyncio.to_thread(self.store.paused_integration_ids, due) if due else set()
        results = []
        for integration_id in due:
            if integration_id in paused:  # its events wait, stored, until it is resumed
                continue
            not_before, _ = self._not_before.get(integration_id, (0.0, 0))
            if time.monotonic() < not_before:
                continue
            result = await self.flush(integration_id)
            if result is not None:
                results.append(result)
        return results

    async def flush(self, integration_id: str) -> FlushResult | None:
        """Apply the integration's pending events now; None if a run or another flush holds its lock."""
        ttl = self.runtime.settings.lock_ttl_seconds
        try:
            token = await asyncio.to_thread(self.store.acquire_lock, integration_id, self._owner, ttl)
        except AlreadyRunningError:
            return None
        try:
            return await self._flush_locked(integration_id)
        finally:
            await asyncio.to_thread(self.store.release_lock, integration_id, token)

    async def _flush_locked(self, integration_id: str) -> FlushResult | None:
        store = self.store
        integration = await asyncio.to_thread(store.get_integration, integration_id)
        events = await asyncio.to_thread(store.pending_events, integration_id, MAX_EVENTS_PER_FLUSH)
        if not events:
            return None
        result = FlushResult(integration_id, events=len(events), shown_on=_concerned(events, integration))
        if await asyncio.to_thread(store.last_success, integration_id) is None:
            await asyncio.to_thread(self._enqueue_sync, integration, "realtime-first-load")
            result.deferred = "the table has not been loaded yet: a sync run was queued"
            self._back_off(integration_id)
            return result
        run_id = await asyncio.to_thread(store.start_run, integration_id, "realtime")
        token, api_url = await asyncio.to_thread(
            monday_credentials, self.runtime.settings, store, integration.monday_connection_id
        )
        renew = token_renewer(self.runtime.settings, store, integration.monday_connection_id)
        async with self.runtime.monday_client(token, api_url, renew) as client:
            try:
                await self._apply(client, integration, events, result, run_id)
            except Exception as exc:
                await self._failed(client, integration, run_id, result, exc)
                return result
            if result.deferred is None:
                await self._clear_errors(client, integration, result)
        if result.deferred is None:
            applied_at = datetime.now(UTC)
            await asyncio.to_thread(
                store.mark_events_applied, integration_id, [e.id for e in events], applied_at
            )
            result.latency_seconds = [(applied_at - _aware(e.received_at)).total_seconds() for e in events]
            self._not_before.pop(integration_id, None)
        else:
            self._back_off(integration_id)
        await asyncio.to_thread(
            store.finish_run,
            run_id,
            "COMPLETED",
            rows_processed=result.upserted + result.deleted,
            rows_failed=0,
            metrics={**result.metrics(), **({"deferred": result.deferred} if result.deferred else {})},
        )
        return result

    async def _apply(
        self,
        client: MondayClient,
        integration: Integration,
        events: list[PendingEvent],
        result: FlushResult,
        run_id: str,
    ) -> None:
        refresh = any(e.event_type in SCHEMA_EVENTS for e in events)
        board, sub_board = await self._board(client, integration, refresh=refresh)
        if _unknown_columns(events, board, sub_board):
            board, sub_board = await self._board(client, integration, refresh=True)
        warehouse = await asyncio.to_thread(self.runtime.open_warehouse, integration.snowflake_connection_id)
        try:
            await self._apply_with(client, warehouse, integration, board, sub_board, events, result, run_id)
        finally:
            await asyncio.to_thread(warehouse.close)

    async def _apply_with(
        self,
        client: MondayClient,
        warehouse: Warehouse,
        integration: Integration,
        board: BoardSpec,
        sub_board: BoardSpec | None,
        events: list[PendingEvent],
        result: FlushResult,
        run_id: str,
    ) -> None:
        state = SyncState.from_json(await asyncio.to_thread(self.store.sync_state, integration.id))
        main = await asyncio.to_thread(_plan_main, warehouse, integration, board, state)
        sub = None
        if sub_board is not None:
            sub = await asyncio.to_thread(_plan_sub, warehouse, integration, main, sub_board, state)
        targets = _targets(events, main, sub, result)
        result.items, result.subitems = len(targets.items), len(targets.subitems)
        result.shown_on = list({**targets.items, **targets.parents})
        if main.changes or (sub is not None and sub.changes):
            await asyncio.to_thread(self._enqueue_sync, integration, "realtime-schema")
            result.deferred = "the board's columns changed: a sync run was queued to evolve the table"
            return

        synced_at = datetime.now(UTC).replace(tzinfo=None)
        gone_items: list[int] = []
        if targets.items:
            wanted = list(targets.items)
            rows, gone_items = await _read_rows(client, main, wanted, synced_at)
            # rows that pointed at a deleted item lost that link on monday, silently: read them again
            linked = await asyncio.to_thread(_rows_linking_to, warehouse, main, gone_items)
            relink = [str(i) for i in linked if str(i) not in targets.items]
            if relink:
                more_rows, more_gone = await _read_rows(client, main, relink, synced_at)
                rows.extend(more_rows)
                gone_items.extend(more_gone)
                result.relinked = len(relink)
            result.upserted += await self._upsert(warehouse, main, rows, run_id, "items")
            result.deleted += await asyncio.to_thread(
                warehouse.delete_rows, main.table, ITEM_ID, gone_items, soft_delete=main.soft_delete
            )
        if sub is not None:
            gone_subitems: list[int] = []
            if targets.subitems:
                rows, gone_subitems = await _read_rows(client, sub, list(targets.subitems), synced_at)
                result.upserted += await self._upsert(warehouse, sub, rows, run_id, "subitems")
            result.deleted += await asyncio.to_thread(
                warehouse.delete_rows, sub.table, ITEM_ID, gone_subitems, soft_delete=sub.soft_delete
            )
            # a deleted or archived item takes its subitems with it
            result.deleted += await asyncio.to_thread(
                warehouse.delete_rows, sub.table, PARENT_COLUMN.name, gone_items, soft_delete=sub.soft_delete
            )

    async def _upsert(
        self, warehouse: Warehouse, layout: TableLayout, rows: list[list[Any]], run_id: str, role: str
    ) -> int:
        if not rows:
            return 0
        prefix = f"{run_id}/{role}"
        writer = CsvBatchWriter(self._blobs, prefix, layout.columns, self.runtime.settings.csv_max_bytes)
        try:
            writer.write_rows(rows)
            files = writer.close()
            merged = await asyncio.to_thread(
                warehouse.merge_files, layout.table, layout.columns, layout.key, files,
                run_id=run_id, delete_missing=False, newer_only=UPDATED_AT,
            )  # fmt: skip
        finally:
            self._blobs.delete_prefix(run_id)
        return merged.inserted + merged.updated

    def _back_off(self, integration_id: str, *, at_least: float = 0.0) -> float:
        """Wait before the next flush of an integration whose last one failed or was deferred:
        2, 4, 8 ... seconds, at most a minute."""
        _, times = self._not_before.get(integration_id, (0.0, 0))
        delay = max(min(2.0 ** (times + 1), 60.0), at_least)
        self._not_before[integration_id] = (time.monotonic() + delay, times + 1)
        return delay

    async def _board(
        self, client: MondayClient, integration: Integration, *, refresh: bool
    ) -> tuple[BoardSpec, BoardSpec | None]:
        cached = self._boards.get(integration.id)
        if cached is not None and not refresh and time.monotonic() - cached[0] < BOARD_CACHE_SECONDS:
            return cached[1], cached[2]
        board = await client.get_board(integration.board_id)
        sub_board = None
        if integration.options.include_subitems and board.subitems_board_id:
            sub_board = await client.get_board(board.subitems_board_id)
        self._boards[integration.id] = (time.monotonic(), board, sub_board)
        return board, sub_board

    async def _failed(
        self, client: MondayClient, integration: Integration, run_id: str, result: FlushResult, exc: Exception
    ) -> None:
        """Record the failed flush and show why on its items; its events stay pending and are tried
        again after a back-off."""
        delay = self._back_off(
            integration.id, at_least=60.0 if isinstance(exc, PermanentError | ConfigurationError) else 0.0
        )
        self._boards.pop(integration.id, None)
        message = str(exc) if isinstance(exc, MondaySnowflakeError) else f"{type(exc).__name__}: {exc}"
        log.warning(
            "real-time flush failed; its events stay pending",
            integration_id=integration.id,
            error=message,
            retry_in_seconds=delay,
        )
        await asyncio.to_thread(
            self.store.finish_run,
            run_id,
            "FAILED",
            rows_processed=0,
            rows_failed=result.items + result.subitems,
            error=message,
            error_class=type(exc).__name__,
            metrics=result.metrics(),
        )
        await self._show_errors(client, integration, result.shown_on, message)  # once history has it
        if self._on_failure is not None:  # after the history has it: the alert points at this run
            await self._on_failure(integration, exc, run_id)

    async def _show_errors(
        self, client: MondayClient, integration: Integration, item_ids: Sequence[str], message: str
    ) -> None:
        """Write the error on each item that does not show it already."""
        column = integration.options.display_errors_column
        if column is None or not item_ids:
            return
        text = f"monday-snowflake could not sync this item: {message}"[:ERROR_TEXT_LIMIT]
        shown = await asyncio.to_thread(self.store.displayed_errors, integration.id, item_ids)
        fresh = [i for i in item_ids if shown.get(i) != text][:MAX_DISPLAYED_ERRORS]
        await self._write_errors(client, integration, column, {i: text for i in fresh})

    async def _clear_errors(
        self, client: MondayClient, integration: Integration, result: FlushResult
    ) -> None:
        """Empty the display-errors column of the applied items that show an error."""
        column = integration.options.display_errors_column
        if column is None or not result.shown_on:
            return
        shown = await asyncio.to_thread(self.store.displayed_errors, integration.id, result.shown_on)
        await self._write_errors(client, integration, column, dict.fromkeys(shown, ""))

    async def _write_errors(
        self, client: MondayClient, integration: Integration, column: str, texts: dict[str, str]
    ) -> None:
        if not texts:
            return
        try:
            await client.change_column_values(
                integration.board_id, {i: {column: {"text": text}} for i, text in texts.items()}
            )
        except MondaySnowflakeError as exc:  # showing the error is a courtesy; the run records it anyway
            log.warning(
                "could not write sync errors on the items", integration_id=integration.id, error=str(exc)
            )
            return
        written = {i: text for i, text in texts.items() if text}
        await asyncio.to_thread(self.store.set_displayed_errors, integration.id, written)
        cleared = [i for i, text in texts.items() if not text]
        if cleared:
            await asyncio.to_thread(self.store.clear_displayed_errors, integration.id, cleared)


def _plan_main(
    warehouse: Warehouse, integration: Integration, board: BoardSpec, state: SyncState
) -> TableLayout:
    existing = warehouse.table_columns(target_table(integration, board))
    return plan_table(integration, board, previous=state.columns("items"), existing=existing)


def _plan_sub(
    warehouse: Warehouse, integration: Integration, main: TableLayout, sub_board: BoardSpec, state: SyncState
) -> TableLayout:
    ref = plan_subitems_table(integration, main.table, sub_board).table
    return plan_subitems_table(
        integration, main.table, sub_board, previous=state.columns("subitems"),
        existing=warehouse.table_columns(ref),
    )  # fmt: skip


def _targets(
    events: Iterable[PendingEvent], main: TableLayout, sub: TableLayout | None, result: FlushResult
) -> _Targets:
    """The items and subitems to read again, once each, and how many events needed no read."""
    targets = _Targets()
    main_columns = _columns_an_edit_changes(main)
    sub_columns = _columns_an_edit_changes(sub) if sub is not None else set()
    for event in events:
        if event.item_id is None:
            continue
        if event.subitem and event.parent_item_id is not None:
            if event.event_type in STRUCTURE_EVENTS:
                targets.items[event.parent_item_id] = None
            if sub is None or _edits_other_column(event, sub_columns):
                result.skipped += event.event_type not in STRUCTURE_EVENTS
                continue
            targets.subitems[event.item_id] = None
            targets.parents[event.parent_item_id] = None
        elif _edits_other_column(event, main_columns):
            result.skipped += 1
        else:
            targets.items[event.item_id] = None
    return targets


def _concerned(events: Iterable[PendingEvent], integration: Integration) -> list[str]:
    """Main items the events name (a subitem's parent for a subitem), but for edits of the
    display-errors column, which are our own."""
    errors_column = integration.options.display_errors_column
    concerned: dict[str, None] = {}
    for event in events:
        if event.event_type == "update_column_value" and event.column_id == errors_column:
            continue
        item_id = event.parent_item_id if event.subitem else event.item_id
        if item_id is not None:
            concerned[item_id] = None
    return list(concerned)


def _columns_an_edit_changes(layout: TableLayout) -> set[str] | None:
    """The board columns whose edits change the table's row; None: every column's, because the
    table copies a "last updated" column, which any edit moves."""
    if any(normalise_type(m.source.type) == "last_updated" for m in layout.mapped):
        return None
    return set(layout.column_ids)


def _edits_other_column(event: PendingEvent, copied: set[str] | None) -> bool:
    return event.event_type == "update_column_value" and copied is not None and event.column_id not in copied


async def _read_rows(
    client: MondayClient, layout: TableLayout, wanted: list[str], synced_at: datetime
) -> tuple[list[list[Any]], list[int]]:
    """Rows for the items that are active; the ids of the others (deleted, archived, unreadable)."""
    shape = Shape.SUBITEMS if layout.subitems else Shape.ITEMS
    fetched = await client.get_items(wanted, column_ids=layout.column_ids, shape=shape)
    rows: list[list[Any]] = []
    present: set[str] = set()
    for item in fetched:
        if item.get("state", "active") != "active":
            continue
        present.add(str(item["id"]))
        if layout.subitems:
            parent = item.get("parent_item")
            rows.append(layout.row(item, synced_at, parent.get("id") if isinstance(parent, dict) else None))
        else:
            rows.append(layout.row(item, synced_at))
    gone = [int(i) for i in wanted if i not in present]
    return rows, gone


def _rows_linking_to(warehouse: Warehouse, layout: TableLayout, gone: Sequence[int]) -> list[int]:
    """Item ids of the rows whose connect-boards or dependency columns mention one of `gone`."""
    columns = [m.target.name for m in layout.mapped if normalise_type(m.source.type) in LINK_TYPES]
    if not columns or not gone:
        return []
    found: list[int] = []
    for start in range(0, len(gone), 50):
        chunk = gone[start : start + 50]
        patterns = [f"%{item_id}%" for _ in columns for item_id in chunk]
        _, rows = warehouse.query(keys_mentioning(layout.table, ITEM_ID, columns, len(chunk)), patterns)
        found.extend(int(row[0]) for row in rows if row[0] is not None)
    gone_set = set(gone)
    return [i for i in dict.fromkeys(found) if i not in gone_set]


def _unknown_columns(events: list[PendingEvent], board: BoardSpec, sub_board: BoardSpec | None) -> bool:
    """An edit of a column the cached board structure does not know: a column was added since."""
    known = {c.id for c in board.columns}
    sub_known = {c.id for c in sub_board.columns} if sub_board is not None else set()
    return any(
        e.event_type == "update_column_value"
        and e.column_id is not None
        and (sub_board is not None or not e.subitem)
        and e.column_id not in (sub_known if e.subitem else known)
        for e in events
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)
