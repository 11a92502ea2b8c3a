"""One reverse sync run: read the source rows and the board once, send only what differs.

- The board is read once per run (paged, only the mapped columns) and indexed by key. A row whose key
  is not on the board is created (`create_missing`); an item whose mapped values differ from the row
  gets those columns and no others (`update_existing`); an item whose key left the source is archived
  (`archive_missing`). An unchanged table costs no mutation at all.
- A key found twice in the source, or on two items of the board, is reported and skipped, never
  guessed.
- Writes go in batches of aliased mutations (`w0`, `w1`, ...), sized from the complexity budget the
  last response reported. Each request carries an `Idempotency-Key` that its retries reuse, so a
  retried request is replayed by monday, not applied twice; a run that dies re-reads the board on the
  next run, finds what it created by key, and creates nothing twice.
- A row monday refuses (a bad label, an unknown user) or that cannot be converted fails alone: it is
  recorded with its key and the message, written to the item's display-errors column when the
  integration has one (and cleared once the row goes through), and the run goes on.
- Only one reverse sync writes to a board at a time (the run locks of every reverse integration on
  the board are held); different boards run in parallel.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

import orjson

from monday_snowflake.app.oauth import monday_credentials, token_renewer
from monday_snowflake.errors import AlreadyRunningError, ConfigurationError, MondaySnowflakeError
from monday_snowflake.logs import bind_correlation_id, get_logger
from monday_snowflake.model import BoardSpec, ColumnSpec, Integration
from monday_snowflake.model.reverse import ITEM_ID, ITEM_NAME, ReverseSpec
from monday_snowflake.monday import queries
from monday_snowflake.monday.client import MondayClient
from monday_snowflake.monday.codecs import normalise_type
from monday_snowflake.monday.queries import Shape
from monday_snowflake.reverse.recipe import board_targets, source_index
from monday_snowflake.reverse.values import (
    ConversionError,
    WriteContext,
    from_board,
    to_monday,
)
from monday_snowflake.settings import Settings
from monday_snowflake.store import Store
from monday_snowflake.sync.replicate import MondayOpener, describe_error, error_class
from monday_snowflake.sync.warehouses import WarehouseOpener

log = get_logger(__name__)

MAX_WRITES_PER_REQUEST = 50
"""monday advises against large mutation batches; 50 keeps a request well inside its timeout."""
WRITE_COST_GUESS = 30_000
"""Complexity of one write before a response has told us: high on purpose (monday's docs say about
10,000 for create_item), since a batch that costs more than a whole budget could never be sent."""
USERS_PAGE = 1_000
MAX_NAME_LENGTH = 255
MAX_ERRORS_KEPT = 200
"""Failed rows listed in a run's metrics (all are counted)."""
ERROR_TEXT_LIMIT = 1_900


@dataclass
class ReverseResult:
    """What one reverse run did."""

    run_id: str
    integration_id: str
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0
    failed: int = 0
    duplicate_keys: int = 0
    mutations: int = 0
    requests: int = 0
    seconds: float = 0.0
    columns_created: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.archived

    @property
    def items_per_second(self) -> float:
        return self.changed / self.seconds if self.seconds > 0 else 0.0

    def metrics(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read, "created": self.created, "updated": self.updated,
            "unchanged": self.unchanged, "archived": self.archived, "failed": self.failed,
            "duplicate_keys": self.duplicate_keys, "mutations": self.mutations, "requests": self.requests,
            "items_per_second": round(self.items_per_second, 1),
            "mutations_per_changed_item": round(self.mutations / self.changed, 3) if self.changed else 0,
            "columns_created": self.columns_created, "errors": self.errors[:MAX_ERRORS_KEPT],
            "warnings": self.warnings[:MAX_ERRORS_KEPT],
        }  # fmt: skip


@dataclass
class _Write:
    kind: str  # create / change / archive
    key: str
    item_id: str | None = None
    name: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    shows_error: bool = False
    """A write of the display-errors column only: its failure is not a row failure."""


@dataclass
class _Item:
    id: str
    name: str
    cells: dict[str, dict[str, Any]]


class ReverseSyncer:
    """Runs reverse syncs of integrations, recording each run in the store."""

    def __init__(
        self, settings: Settings, store: Store, open_monday: MondayOpener, open_warehouse: WarehouseOpener
    ) -> None:
        self._settings = settings
        self._store = store
        self._open_monday = open_monday
        self._open_warehouse = open_warehouse
        self._owner = f"reverse:{socket.gethostname()}:{os.getpid()}"

    async def run(
        self, integration_ref: str, *, account_id: str | None = None, run_id: str | None = None
    ) -> ReverseResult:
        integration = self._store.get_integration(integration_ref, account_id=account_id)
        if integration.reverse is None:
            raise ConfigurationError(f"integration '{integration.name}' is not a reverse sync")
        held = self._lock_board(integration)
        try:
            with bind_correlation_id(integration_id=integration.id) as correlation_id:
                run_id = self._store.start_run(integration.id, "reverse", correlation_id, run_id=run_id)
                run = _ReverseRun(self, integration, integration.reverse, run_id, held)
                return await run.execute()
        finally:
            for lock_id, token in reversed(held):
                self._store.release_lock(lock_id, token)

    def _lock_board(self, integration: Integration) -> list[tuple[str, int]]:
        """The run locks of every reverse integration on this board, in id order: one writer per
        board at a time, across processes. AlreadyRunningError (retried by the queue) if one is held."""
        same_board = sorted(
            i.id
            for i in self._store.list_integrations(account_id=integration.account_id)
            if i.reverse is not None and i.board_id == integration.board_id
        )
        held: list[tuple[str, int]] = []
        ttl = self._settings.lock_ttl_seconds
        try:
            for lock_id in same_board or [integration.id]:
                held.append((lock_id, self._store.acquire_lock(lock_id, self._owner, ttl)))
        except AlreadyRunningError:
            for lock_id, token in reversed(held):
                self._store.release_lock(lock_id, token)
            raise
        return held


class _ReverseRun:
    def __init__(
        self,
        syncer: ReverseSyncer,
        integration: Integration,
        spec: ReverseSpec,
        run_id: str,
        locks: list[tuple[str, int]],
    ) -> None:
        self.store = syncer._store
        self.settings = syncer._settings
        self.locks = locks
        self.lock_ttl = syncer._settings.lock_ttl_seconds
        self.last_renewal = time.monotonic()
        self.open_monday = syncer._open_monday
        self.open_warehouse = syncer._open_warehouse
        self.integration = integration
        self.spec = spec
        self.run_id = run_id
        self.result = ReverseResult(run_id, integration.id)
        self.subtask: str | None = None
        self.batch_size = MAX_WRITES_PER_REQUEST
        self.batches_sent = 0

    async def execute(self) -> ReverseResult:
        started = time.perf_counter()
        log.info("reverse run started", run_id=self.run_id)
        try:
            async with AsyncExitStack() as stack:
                await self._run(stack)
        except BaseException as exc:
            self._fail(exc)
            raise
        result = self.result
        result.seconds = round(time.perf_counter() - started, 3)
        self.store.finish_run(
            self.run_id, "COMPLETED", rows_processed=result.changed + result.unchanged,
            rows_failed=result.failed, metrics=result.metrics(),
            error=f"{result.failed} row(s) failed; see metrics.errors" if result.failed else None,
            error_class="partial" if result.failed else None,
        )  # fmt: skip
        log.info("reverse run completed", run_id=self.run_id, **{k: v for k, v in result.metrics().items()
                                                                 if isinstance(v, int | float)})  # fmt: skip
        return result

    async def _run(self, stack: AsyncExitStack) -> None:
        integration, spec = self.integration, self.spec
        token, api_url = await asyncio.to_thread(
            monday_credentials, self.settings, self.store, integration.monday_connection_id
        )
        renew = token_renewer(self.settings, self.store, integration.monday_connection_id)
        client = await stack.enter_async_context(self.open_monday(token, api_url, renew))

        self._begin("source")
        board = await client.get_board(integration.board_id)
        names, rows = await asyncio.to_thread(self._read_source)
        self.result.rows_read = len(rows)
        if spec.create_columns:
            board = await self._create_missing_columns(client, board, names, rows)
        targets = self._targets(board, names)
        self._finish(len(rows))

        self._begin("board")
        key_column = board.column(spec.key_target) if spec.key_target not in (ITEM_ID, ITEM_NAME) else None
        errors_column = board.column(integration.options.display_errors_column or "")
        read_ids = [c.id for c in (*targets.values(), key_column, errors_column) if c is not None]
        items = await self._read_board(client, board, list(dict.fromkeys(read_ids)))
        context = WriteContext(users_by_email=await self._users(client, targets.values()))
        self._finish(len(items))

        self._begin("write")
        self._size_next_batch(client.last_complexity, 0)
        writes = self._plan(names, rows, items, targets, key_column, errors_column, context)
        await self._send(client, writes, errors_column, items)
        self._finish(self.result.changed)

    # -- reading ---------------------------------------------------------------------------------------

    def _read_source(self) -> tuple[list[str], list[tuple[Any, ...]]]:
        warehouse = self.open_warehouse(self.integration.snowflake_connection_id)
        try:
            names, rows = warehouse.query(self.spec.select_statement())
        finally:
            warehouse.close()
        return names, [tuple(r) for r in rows]

    def _targets(self, board: BoardSpec, names: Sequence[str]) -> dict[str, ColumnSpec]:
        """Source column (as the query named it) -> the board column it writes; checked again at run
        time, since either side may have changed since the recipe was saved."""
        source_index(names, self.spec.key_column, "key_column")
        return {
            names[source_index(names, source, "mapping")]: column
            for source, column in board_targets(board, self.spec).items()
        }

    async def _read_board(self, client: MondayClient, board: BoardSpec, column_ids: list[str]) -> list[_Item]:
        items: list[_Item] = []
        async for page in client.iter_item_pages(board.id, column_ids=column_ids, shape=Shape.ITEMS):
            for raw in page:
                cells = {str(c.get("id")): c for c in raw.get("column_values") or [] if isinstance(c, dict)}
                items.append(_Item(str(raw["id"]), str(raw.get("name") or ""), cells))
        return items

    async def _users(self, client: MondayClient, columns: Iterable[ColumnSpec]) -> dict[str, int]:
        """Every user's id by email (lower-cased), read once per run, when a people column is mapped."""
        if not any(normalise_type(c.type) == "people" for c in columns):
            return {}
        found: dict[str, int] = {}
        page = 1
        while True:
            data = await client.execute(queries.USERS_QUERY, {"limit": USERS_PAGE, "page": page})
            users = [u for u in data.get("users") or [] if isinstance(u, dict)]
            for user in users:
                if user.get("email") and user.get("id") is not None:
                    found[str(user["email"]).strip().lower()] = int(user["id"])
            if len(users) < USERS_PAGE:
                return found
            page += 1

    # -- new columns -----------------------------------------------------------------------------------

    async def _create_missing_columns(
        self, client: MondayClient, board: BoardSpec, names: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> BoardSpec:
        """Give source columns that have no monday column one (reusing a column of the same title, say
        one a killed run made), and store the mapping so the next run writes them too."""
        spec = self.spec
        mapped = {n.upper() for n in (*spec.mapping, spec.key_column)}
        by_title = {c.title.strip().lower(): c for c in board.columns}
        mapping = dict(spec.mapping)
        columns = list(board.columns)
        for index, name in enumerate(names):
            if name.upper() in mapped:
                continue
            column = by_title.get(name.strip().lower())
            if column is None:
                kind = _column_type_for(row[index] for row in rows)
                data = await client.execute(
                    queries.CREATE_COLUMN, {"boardId": board.id, "title": name, "type": kind}
                )
                made = data.get("create_column") or {}
                column = ColumnSpec(
                    str(made["id"]), str(made.get("title") or name), str(made.get("type") or kind)
                )
                columns.append(column)
                self.result.columns_created.append(f"{name} -> {column.id} ({column.type})")
            mapping[name] = column.id
        if mapping != spec.mapping:
            self.spec = replace(spec, mapping=mapping)
            self.store.update_integration(self.integration.id, reverse=self.spec)
        return replace(board, columns=tuple(columns))

    # -- diffing ---------------------------------------------------------------------------------------

    def _plan(
        self,
        names: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        items: Sequence[_Item],
        targets: dict[str, ColumnSpec],
        key_column: ColumnSpec | None,
        errors_column: ColumnSpec | None,
        context: WriteContext,
    ) -> list[_Write]:
        spec, result = self.spec, self.result
        key_index = source_index(names, spec.key_column, "key_column")
        positions = {name: names.index(name) for name in targets}

        source_keys = Counter(k for row in rows if (k := self._source_key(row[key_index], key_column)))
        board_keys: dict[str, list[_Item]] = {}
        for item in items:
            key = self._board_key(item, key_column)
            if key:
                board_keys.setdefault(key, []).append(item)
        for key, count in source_keys.items():
            if count > 1:
                self._row_failed(key, f"the key appears {count} times in the source; skipped")
                result.duplicate_keys += 1
        for key, found in board_keys.items():
            if len(found) > 1:
                ids = ", ".join(i.id for i in found)
                self._row_failed(key, f"the key is on {len(found)} items of the board ({ids}); skipped")
                result.duplicate_keys += 1

        writes: list[_Write] = []
        for row in rows:
            key = self._source_key(row[key_index], key_column)
            if not key:
                self._row_failed("", "a row without a key; skipped")
                continue
            if source_keys[key] > 1 or len(board_keys.get(key, ())) > 1:
                continue
            on_board = board_keys.get(key, [None])[0]
            try:
                desired = self._desired(row, positions, targets, context)
            except ConversionError as exc:
                self._row_failed(key, str(exc))
                if on_board is not None and errors_column is not None:
                    writes.append(self._show_error(key, on_board, errors_column, str(exc)))
                continue
            if on_board is None:
                if spec.create_missing:
                    writes.append(self._create(key, row[key_index], desired, key_column))
                continue
            if not spec.update_existing:
                result.unchanged += 1
                continue
            changes = self._changes(on_board, desired, targets)
            if errors_column is not None and _cell_text(on_board.cells.get(errors_column.id)):
                changes[errors_column.id] = None  # the row goes through now: clear its error
            if changes:
                writes.append(_Write("change", key, item_id=on_board.id, values=changes))
            else:
                result.unchanged += 1
        if spec.archive_missing:
            for key, found in board_keys.items():
                if key not in source_keys and len(found) == 1:
                    writes.append(_Write("archive", key, item_id=found[0].id))
        return writes

    def _desired(
        self,
        row: tuple[Any, ...],
        positions: dict[str, int],
        targets: dict[str, ColumnSpec],
        context: WriteContext,
    ) -> dict[str, Any]:
        desired: dict[str, Any] = {}
        for name, column in targets.items():
            raw = row[positions[name]]
            if column.id == ITEM_NAME:
                desired[ITEM_NAME] = _item_name(raw)
                continue
            value, warnings = to_monday(column, raw, context)
            self.result.warnings.extend(warnings)
            desired[column.id] = value
        return desired

    def _changes(
        self, item: _Item, desired: dict[str, Any], targets: dict[str, ColumnSpec]
    ) -> dict[str, Any]:
        columns = {c.id: c for c in targets.values()}
        changes: dict[str, Any] = {}
        for column_id, value in desired.items():
            if column_id == ITEM_NAME:
                if value and value != item.name:
                    changes[ITEM_NAME] = value
            elif value != from_board(columns[column_id], item.cells.get(column_id)):
                changes[column_id] = value
        return changes

    def _create(
        self, key: str, raw_key: Any, desired: dict[str, Any], key_column: ColumnSpec | None
    ) -> _Write:
        values = {k: v for k, v in desired.items() if v is not None and k != ITEM_NAME}
        name = desired.get(ITEM_NAME) or _item_name(raw_key)
        if key_column is not None:
            values.setdefault(key_column.id, to_monday(key_column, raw_key, WriteContext())[0])
        return _Write("create", key, name=name, values=values)

    def _show_error(self, key: str, item: _Item, column: ColumnSpec, message: str) -> _Write:
        text = f"monday-snowflake could not sync this row: {message}"[:ERROR_TEXT_LIMIT]
        return _Write("change", key, item_id=item.id, values={column.id: {"text": text}}, shows_error=True)

    def _source_key(self, raw: Any, key_column: ColumnSpec | None) -> str:
        if raw is None:
            return ""
        if self.spec.key_target == ITEM_ID:
            return _id_text(raw)
        if key_column is None:
            return _item_name(raw)
        try:
            return _key_text(to_monday(key_column, raw, WriteContext())[0])
        except ConversionError:
            return ""

    def _board_key(self, item: _Item, key_column: ColumnSpec | None) -> str:
        if self.spec.key_target == ITEM_ID:
            return item.id
        if key_column is None:
            return item.name.strip()
        return _key_text(from_board(key_column, item.cells.get(key_column.id)))

    # -- writing ---------------------------------------------------------------------------------------

    async def _send(
        self, client: MondayClient, writes: list[_Write], errors_column: ColumnSpec | None, items: list[_Item]
    ) -> None:
        board_id = self.integration.board_id
        by_id = {item.id: item for item in items}
        shown: list[_Write] = []
        pending = list(writes)
        while pending:
            self._renew_locks()
            batch, pending = pending[: self.batch_size], pending[self.batch_size :]
            rejected = await self._send_batch(client, board_id, batch)
            for n, write in enumerate(batch):
                message = rejected.get(f"w{n}")
                if message is None:
                    self._count(write)
                    continue
                if write.shows_error:
                    continue
                self._row_failed(write.key, message)
                if errors_column is not None and write.item_id in by_id:
                    shown.append(self._show_error(write.key, by_id[write.item_id], errors_column, message))
            if not pending and shown:
                pending, shown = shown, []

    async def _send_batch(self, client: MondayClient, board_id: str, batch: list[_Write]) -> dict[str, str]:
        variables: dict[str, Any] = {}
        if any(w.kind != "archive" for w in batch):
            variables["boardId"] = str(board_id)
        for n, write in enumerate(batch):
            if write.kind == "create":
                variables[f"n{n}"] = write.name
                variables[f"g{n}"] = self.spec.group_id
                variables[f"v{n}"] = orjson.dumps(write.values).decode()
            elif write.kind == "change":
                variables[f"i{n}"] = write.item_id
                variables[f"v{n}"] = orjson.dumps(write.values).decode()
            else:
                variables[f"i{n}"] = write.item_id
        self.batches_sent += 1
        document = queries.write_batch_mutation([w.kind for w in batch])
        key = f"{self.run_id}:{self.batches_sent}"
        data, rejected = await client.mutate_each(document, variables, idempotency_key=key)
        self.result.requests += 1
        self.result.mutations += len(batch)
        self._size_next_batch(data.get("complexity"), len(batch))
        return rejected

    def _size_next_batch(self, complexity: Any, sent: int) -> None:
        """As many writes as the budget left can pay for, at the cost per write monday just charged."""
        if not isinstance(complexity, dict):
            return
        after, cost = complexity.get("after"), complexity.get("query")
        if not isinstance(after, int | float) or not isinstance(cost, int | float):
            return
        per_write = max(cost / sent, 1.0) if cost and sent else WRITE_COST_GUESS
        self.batch_size = max(1, min(MAX_WRITES_PER_REQUEST, int(after // per_write)))

    def _count(self, write: _Write) -> None:
        if write.shows_error:
            return
        if write.kind == "create":
            self.result.created += 1
        elif write.kind == "change":
            self.result.updated += 1
        else:
            self.result.archived += 1

    # -- bookkeeping -----------------------------------------------------------------------------------

    def _renew_locks(self) -> None:
        """A long run (budget waits included) keeps its board: renew before a third of the TTL passes;
        a run whose lock was taken over (LockLostError) stops before writing more."""
        if time.monotonic() - self.last_renewal > self.lock_ttl / 3:
            for lock_id, token in self.locks:
                self.store.renew_lock(lock_id, token, self.lock_ttl)
            self.last_renewal = time.monotonic()

    def _row_failed(self, key: str, message: str) -> None:
        self.result.failed += 1
        if len(self.result.errors) < MAX_ERRORS_KEPT:
            self.result.errors.append({"key": key, "error": message})
        log.warning("reverse row failed", key=key, error=message)

    def _begin(self, name: str) -> None:
        self.subtask = self.store.start_subtask(self.run_id, name)

    def _finish(self, rows: int) -> None:
        if self.subtask is not None:
            self.store.finish_subtask(self.subtask, "COMPLETED", rows_processed=rows)
            self.subtask = None

    def _fail(self, exc: BaseException) -> None:
        error = describe_error(exc)
        if self.subtask is not None:
            self.store.finish_subtask(self.subtask, "FAILED", error=error)
        result = self.result
        self.store.finish_run(
            self.run_id, "FAILED", rows_processed=result.changed, rows_failed=result.failed, error=error,
            error_class=error_class(exc), metrics=result.metrics(),
        )  # fmt: skip
        level = log.warning if isinstance(exc, MondaySnowflakeError) else log.error
        level("reverse run failed", run_id=self.run_id, error=error)


def _item_name(raw: Any) -> str:
    return ("" if raw is None else str(raw)).strip()[:MAX_NAME_LENGTH]


def _id_text(raw: Any) -> str:
    try:
        return str(int(Decimal(str(raw).strip())))
    except (ArithmeticError, ValueError):
        return ""


def _key_text(normal: Any) -> str:
    """A key value in a form both sides share: the address of an email or link, else its text."""
    if normal is None:
        return ""
    if isinstance(normal, dict):
        for part in ("email", "url", "phone", "text", "label"):
            if normal.get(part):
                return str(normal[part]).strip()
        return orjson.dumps(normal, option=orjson.OPT_SORT_KEYS).decode()
    return str(normal).strip()


def _cell_text(cell: dict[str, Any] | None) -> str:
    return str((cell or {}).get("text") or "").strip()


def _column_type_for(values: Iterable[Any]) -> str:
    """A monday column type that holds every value of a source column."""
    kinds = {type(v) for v in values if v is not None}
    if kinds and kinds <= {bool}:
        return "checkbox"
    if kinds and kinds <= {int, float, Decimal}:
        return "numbers"
    if kinds and all(issubclass(k, date) for k in kinds):  # datetimes are dates too
        return "date"
    return "text"
