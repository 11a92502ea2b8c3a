"""SnowflakeWarehouse: statements, table DDL and the bulk load (stage -> COPY -> dedup -> MERGE).

The load of one table, `merge_files` (or `begin_load`, to stage files while more are being written):
1. `CREATE STAGE IF NOT EXISTS` (one named stage per schema), `PUT` each CSV under `<run_id>/<token>/`.
2. One `COPY INTO` a temporary all-text staging table, of every file under that path.
3. Keep the last row per key (by the CSV row sequence), cast to the target's types, in a second one.
4. In one transaction, `MERGE` it into the target and, for a full run, `DELETE` rows whose key was not
   staged. fakesnow cannot MERGE inside a transaction (its MERGE is several statements, not atomic on
   its own), so there the upsert is `UPDATE ... FROM` + `INSERT ... WHERE NOT EXISTS`, in the transaction.
   A failed transaction is rolled back; if even the ROLLBACK cannot reach the warehouse, it is sent again
   before this process begins its next transaction (which would otherwise conflict with its row locks).
5. Drop the temporary tables and remove the staged files (`REMOVE`, or the embedded warehouse's cleaner).

Identifiers are always quoted; values travel only as bind parameters or inside staged files.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from monday_snowflake.errors import ConfigurationError, MondaySnowflakeError, TransientError
from monday_snowflake.metrics import SNOWFLAKE_ERRORS, SNOWFLAKE_STATEMENTS, count_error, statement_kind
from monday_snowflake.model.warehouse import MergeResult, TableRef, WarehouseColumn
from monday_snowflake.snowflake.classify import classify_error
from monday_snowflake.snowflake.sql import (
    add_column,
    check_path_part,
    columns_query,
    copy_into,
    create_dedup,
    create_namespace,
    create_staging,
    create_table,
    delete_unstaged,
    delete_where_in,
    describe_type,
    insert_missing,
    merge,
    put,
    rename_column,
    require_key,
    soft_delete_unstaged,
    stage_ref,
    staging_counts,
    staging_ref,
    update_from,
    use_schema,
)

log = logging.getLogger(__name__)
Row = tuple[Any, ...]

STAGE_NAME = "MONDAY_SNOWFLAKE_STAGE"
SOFT_DELETE_MARKER = "_DELETED_AT"
DELETE_CHUNK = 1000
"""Keys bound in one DELETE statement."""
_EMBEDDED_UNSAFE_NAME = re.compile(r"'|(?<![$\w])\$(?!\d)\w")
_UNFINISHED: weakref.WeakSet[SnowflakeWarehouse] = weakref.WeakSet()
"""Sessions of this process whose ROLLBACK could not reach the warehouse: their transaction is still open
there, keeping its changes (invisible to others) and its row locks, so a retry of the same rows on another
session would conflict or wait. The next transaction of this process rolls them back first."""
_UNFINISHED_LOCK = threading.Lock()


class DbApiConnection(Protocol):
    """What the warehouse needs of a DB-API connection (the connector's, or a test double)."""

    def cursor(self) -> Any: ...
    def close(self) -> Any: ...


class _StepClock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.laps[step] = round(now - self._last, 4)
        self._last = now


class SnowflakeWarehouse:
    """One warehouse session. `stage_cleaner` replaces `REMOVE` where it is unsupported (embedded)."""

    def __init__(
        self,
        connection: DbApiConnection,
        *,
        stage_cleaner: Callable[[str], None] | None = None,
        merge_in_transaction: bool = True,
        embedded_name_rules: bool = False,
        runs_in_this_process: bool = False,
    ) -> None:
        self._conn = connection
        self._stage_cleaner = stage_cleaner
        self.merge_in_transaction = merge_in_transaction
        """False where MERGE cannot run inside a transaction (embedded): upsert with UPDATE + INSERT."""
        self.embedded_name_rules = embedded_name_rules
        """True on the embedded warehouse, which cannot take every quoted name: fakesnow splices names into
        its own bookkeeping SQL unescaped (a `'` breaks it) and reads `$word` anywhere as a variable."""
        self.stages_alongside_caller = not runs_in_this_process
        """Whether staging files while the caller keeps working is a gain: not when the warehouse is the
        embedded one served by this very process, whose work would compete with the caller's for the GIL."""
        self._ensured_schemas: set[tuple[str, str]] = set()

    def query(self, statement: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[Row]]:
        """Run a statement (`?` placeholders) and return (column names, rows)."""
        cursor = self._conn.cursor()
        SNOWFLAKE_STATEMENTS.labels(statement_kind(statement)).inc()
        try:
            cursor.execute(statement, list(params) if params is not None else None)
            names = [d[0] for d in cursor.description or ()]
            rows = [tuple(row) for row in cursor.fetchall()] if names else []
            return names, rows
        except Exception as exc:
            error = classify_error(exc)
            count_error(SNOWFLAKE_ERRORS, error)
            if error is exc:
                raise
            raise error from exc
        finally:
            cursor.close()

    def execute(self, statement: str, params: Sequence[Any] | None = None) -> None:
        """Run a statement for its effect."""
        self.query(statement, params)

    def close(self) -> None:
        """End the session; safe to call twice."""
        with _UNFINISHED_LOCK:
            _UNFINISHED.discard(self)  # ending the session ends its transaction too
        try:
            self._conn.close()
        except Exception as exc:  # a session that cannot close cleanly is gone anyway
            log.debug("closing the warehouse session failed: %s", type(exc).__name__)

    def table_columns(self, table: TableRef) -> dict[str, str]:
        """The table's columns and types (`NUMBER(38,0)`, `VARCHAR`, ...); empty if there is no table."""
        _, rows = self.query(columns_query(table), [table.schema, table.name])
        return {str(name): describe_type(str(kind), p, s) for name, kind, p, s in rows}

    def ensure_table(
        self, table: TableRef, columns: Sequence[WarehouseColumn], key: str
    ) -> list[WarehouseColumn]:
        """Create the table (and its database and schema where allowed) or add the missing columns.

        Returns the columns that did not exist before: all of them for a new table.
        """
        self._check_names(table, columns, key)
        self._ensure_schema(table)
        existing = self.table_columns(table)
        is_new = not existing
        if is_new:
            self.execute(create_table(table, columns))
            existing = self.table_columns(table)
        missing = [column for column in columns if column.name not in existing]
        for column in missing:
            self.execute(add_column(table, column))
        return list(columns) if is_new else missing

    def rename_column(self, table: TableRef, old: str, new: str) -> None:
        """Rename one column of the table, keeping its data."""
        self._check_names(table, [WarehouseColumn(new, "VARCHAR")], new)
        self.execute(rename_column(table, old, new))

    def merge_files(
        self,
        table: TableRef,
        columns: Sequence[WarehouseColumn],
        key: str,
        files: Sequence[Path],
        *,
        run_id: str,
        delete_missing: bool,
        soft_delete: bool = False,
        upsert: bool = True,
        newer_only: str | None = None,
    ) -> MergeResult:
        """Load CSV files written by `CsvBatchWriter` with these `columns` into `table`, merging on `key`.

        See `TableLoad.merge` for the options. All or nothing: a failure leaves the target as it was.
        Leaves the session's current schema at the table's.
        """
        with self.begin_load(table, columns, key, run_id=run_id) as load:
            for path in files:
                load.add_file(path)
            return load.merge(
                delete_missing=delete_missing, soft_delete=soft_delete, upsert=upsert, newer_only=newer_only
            )

    def begin_load(
        self, table: TableRef, columns: Sequence[WarehouseColumn], key: str, *, run_id: str
    ) -> TableLoad:
        """Start a load whose files can be staged one by one as they are written, then merged once."""
        self._check_names(table, columns, key)
        check_path_part(run_id, "run id")
        return TableLoad(self, table, columns, key, run_id)

    def apply_staged(
        self,
        table: TableRef,
        source: str,
        columns: Sequence[WarehouseColumn],
        key: str,
        *,
        delete_missing: bool,
        soft_delete: bool = False,
        upsert: bool = True,
        newer_only: str | None = None,
    ) -> tuple[int, int, int]:
        """Upsert `source` into `table` (and delete what it lacks) in one transaction: (ins, upd, del).
        With `newer_only` (a timestamp column), a row is only updated from a source row at least as new."""
        _finish_unfinished_transactions()
        self.execute("BEGIN")
        try:
            if not upsert:
                inserted = updated = 0
            elif self.merge_in_transaction:
                names, rows = self.query(merge(table, source, columns, key, newer_only=newer_only))
                counts = dict(zip((n.lower() for n in names), rows[0], strict=False)) if rows else {}
                inserted = int(counts.get("number of rows inserted", 0) or 0)
                updated = int(counts.get("number of rows updated", 0) or 0)
            else:
                update = update_from(table, source, columns, key, newer_only=newer_only)
                updated = self._count(update) if len(columns) > 1 else 0
                inserted = self._count(insert_missing(table, source, columns, key))
            deleted = 0
            if delete_missing and soft_delete:
                stamp = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
                deleted = self._count(soft_delete_unstaged(table, source, key, SOFT_DELETE_MARKER), [stamp])
            elif delete_missing:
                deleted = self._count(delete_unstaged(table, source, key))
            self.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return inserted, updated, deleted

    def delete_rows(
        self, table: TableRef, column: str, values: Sequence[Any], *, soft_delete: bool = False
    ) -> int:
        """Delete (or with `soft_delete`, stamp `_DELETED_AT` on) the rows whose `column` holds one of
        `values`, bound as parameters, in one transaction; returns how many rows it touched."""
        if not values:
            return 0
        stamp = [datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")] if soft_delete else []
        marker = SOFT_DELETE_MARKER if soft_delete else None
        _finish_unfinished_transactions()
        self.execute("BEGIN")
        try:
            touched = 0
            for start in range(0, len(values), DELETE_CHUNK):
                chunk = list(values[start : start + DELETE_CHUNK])
                statement = delete_where_in(table, column, len(chunk), soft_marker=marker)
                touched += self._count(statement, [*stamp, *chunk])
            self.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return touched

    def _count(self, statement: str, params: Sequence[Any] | None = None) -> int:
        """Run DML and return its affected-row count (the first value of its result row)."""
        _, rows = self.query(statement, params)
        return int(rows[0][0] or 0) if rows else 0

    def _check_names(self, table: TableRef, columns: Sequence[WarehouseColumn], key: str) -> None:
        require_key(columns, key)
        if self.embedded_name_rules:
            names = [table.database, table.schema, table.name, *(c.name for c in columns)]
            if unsafe := [name for name in names if _EMBEDDED_UNSAFE_NAME.search(name)]:
                raise ConfigurationError(
                    "the embedded warehouse cannot hold a name with a single quote or a $word", names=unsafe
                )

    def _rollback(self) -> None:
        try:
            self.execute("ROLLBACK")
        except MondaySnowflakeError as exc:
            log.warning("rollback failed; the next transaction retries it first: %s", exc)
            with _UNFINISHED_LOCK:
                _UNFINISHED.add(self)

    def drop_load_leftovers(
        self, tables: tuple[str, ...], stage: str, in_stage: str, staged_files: bool
    ) -> None:
        try:
            for temporary in tables:
                self.execute(f"DROP TABLE IF EXISTS {temporary}")
            if staged_files:
                if self._stage_cleaner is not None:
                    self._stage_cleaner(in_stage)
                else:
                    self.execute(f"REMOVE '@{stage}/{in_stage}/'")
        except Exception as exc:  # cleanup must not hide the load's own outcome or error
            log.warning("cleaning up staged files failed: %s", exc)

    def _ensure_schema(self, table: TableRef) -> None:
        """CREATE DATABASE / SCHEMA IF NOT EXISTS, once per session; lacking the privilege is fine."""
        if (table.database, table.schema) in self._ensured_schemas:
            return
        for statement in create_namespace(table):
            try:
                self.execute(statement)
            except MondaySnowflakeError as exc:
                log.info("could not create %s (it may exist already): %s", statement.split(" IF")[0], exc)
        self._ensured_schemas.add((table.database, table.schema))


def _finish_unfinished_transactions() -> None:
    """Roll back the transactions whose ROLLBACK failed (see `_UNFINISHED`) before starting another;
    raises TransientError while the warehouse still cannot be reached, so the caller retries later.
    The lock is held throughout, so a session is never rolled back once it has begun a new transaction
    (it leaves the set, under the lock, before it may begin one)."""
    with _UNFINISHED_LOCK:
        for warehouse in list(_UNFINISHED):
            try:
                warehouse.execute("ROLLBACK")
            except TransientError as exc:
                raise TransientError(f"an interrupted transaction is not rolled back yet: {exc}") from exc
            except MondaySnowflakeError as exc:  # the session or its transaction is gone already
                log.info("an interrupted transaction needed no rollback: %s", exc)
            _UNFINISHED.discard(warehouse)
            log.info("rolled back a transaction interrupted earlier")


class TableLoad:
    """One load into one table: `add_file` uploads a CSV file (PUT) as soon as it is written; `merge`
    copies them all into an all-text staging table with one COPY, de-duplicates and applies everything
    in one transaction; `close` drops the temporary tables and the staged files. Use it from one
    thread at a time."""

    def __init__(
        self,
        warehouse: SnowflakeWarehouse,
        table: TableRef,
        columns: Sequence[WarehouseColumn],
        key: str,
        run_id: str,
    ) -> None:
        self._warehouse = warehouse
        self._table = table
        self._columns = list(columns)
        self._key = key
        token = secrets.token_hex(6)
        self._in_stage = f"{run_id}/{token}"
        self._stage = stage_ref(table, STAGE_NAME)
        self._staging = staging_ref(token)
        self._dedup = staging_ref(f"{token}_DEDUP")
        self._started = False
        self._staged_files = False
        self.seconds: dict[str, float] = {"put": 0.0}

    def add_file(self, path: Path) -> None:
        """Upload one CSV file written with this load's columns (`merge` copies them all at once)."""
        check_path_part(path.name, "file name")
        if "'" in str(path.resolve()):
            raise ConfigurationError("a staged file path may not contain a single quote", path=str(path))
        self._start()
        began = time.perf_counter()
        self._warehouse.execute(put(path, self._stage, self._in_stage))
        self._staged_files = True
        self.seconds["put"] += round(time.perf_counter() - began, 4)

    def merge(
        self,
        *,
        delete_missing: bool,
        soft_delete: bool = False,
        upsert: bool = True,
        newer_only: str | None = None,
    ) -> MergeResult:
        """Apply the staged rows (the last per key wins) to the target; with `delete_missing`, delete
        target rows whose key was not staged, or with `soft_delete` stamp their `_DELETED_AT` instead.
        `upsert=False` only deletes: the staged rows are a list of the keys that remain. `newer_only`
        names a timestamp column: a target row newer than its staged row is left alone. All or nothing."""
        self._start()
        warehouse, staging, dedup = self._warehouse, self._staging, self._dedup
        clock = _StepClock()
        if self._staged_files:  # every file of the load in one COPY
            warehouse.execute(copy_into(staging, self._stage, f"{self._in_stage}/"))
            clock.lap("copy")
        _, ((staged, keyed),) = warehouse.query(staging_counts(staging, self._key))
        warehouse.execute(create_dedup(dedup, staging, self._columns, self._key))
        _, ((distinct_keys,),) = warehouse.query(f"SELECT COUNT(*) FROM {dedup}")
        clock.lap("dedup")
        inserted, updated, deleted = warehouse.apply_staged(
            self._table, dedup, self._columns, self._key,
            delete_missing=delete_missing, soft_delete=soft_delete, upsert=upsert, newer_only=newer_only,
        )  # fmt: skip
        clock.lap("merge")
        return MergeResult(
            staged_rows=int(staged),
            inserted=inserted,
            updated=updated,
            deleted=deleted,
            duplicates_dropped=int(keyed) - int(distinct_keys),
            null_keys_dropped=int(staged) - int(keyed),
            seconds={**self.seconds, **clock.laps},
        )

    def close(self) -> None:
        """Drop the temporary tables and remove the staged files; never raises."""
        if self._started:
            self._warehouse.drop_load_leftovers(
                (self._dedup, self._staging), self._stage, self._in_stage, self._staged_files
            )

    def __enter__(self) -> TableLoad:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        self._warehouse.execute(f"CREATE STAGE IF NOT EXISTS {self._stage}")
        self._warehouse.execute(use_schema(self._table))
        self._warehouse.execute(create_staging(self._staging, self._columns))
