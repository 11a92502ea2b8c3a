"""SnowflakeWarehouse: statements, table DDL and the bulk load (stage -> COPY -> dedup -> MERGE).

The load of one table, `merge_files`:
1. `CREATE STAGE IF NOT EXISTS` (one named stage per schema), `PUT` each CSV under `<run_id>/<token>/`.
2. `COPY INTO` a temporary all-text staging table, file by file.
3. Keep the last row per key (by the CSV row sequence), cast to the target's types, in a second one.
4. In one transaction, `MERGE` it into the target and, for a full run, `DELETE` rows whose key was not
   staged. fakesnow cannot MERGE inside a transaction (its MERGE is several statements, not atomic on
   its own), so there the upsert is `UPDATE ... FROM` + `INSERT ... WHERE NOT EXISTS`, in the transaction.
5. Drop the temporary tables and remove the staged files (`REMOVE`, or the embedded warehouse's cleaner).

Identifiers are always quoted; values travel only as bind parameters or inside staged files.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from monday_snowflake.errors import ConfigurationError, MondaySnowflakeError
from monday_snowflake.model.warehouse import TableRef, WarehouseColumn
from monday_snowflake.snowflake.classify import classify_error
from monday_snowflake.snowflake.csvfiles import ROW_SEQ_COLUMN, TYPE_GUARD, base_type
from monday_snowflake.snowflake.naming import quote_identifier

log = logging.getLogger(__name__)
Row = tuple[Any, ...]

STAGE_NAME = "MONDAY_SNOWFLAKE_STAGE"
_EMBEDDED_UNSAFE_NAME = re.compile(r"'|(?<![$\w])\$(?!\d)\w")
_SAFE_PATH_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class DbApiConnection(Protocol):
    """What the warehouse needs of a DB-API connection (the connector's, or a test double)."""

    def cursor(self) -> Any: ...
    def close(self) -> Any: ...


@dataclass(frozen=True)
class MergeResult:
    """What one load did to its target table."""

    staged_rows: int
    inserted: int
    updated: int
    deleted: int
    duplicates_dropped: int
    null_keys_dropped: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time per step: put, copy, dedup, merge, cleanup."""


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
    ) -> None:
        self._conn = connection
        self._stage_cleaner = stage_cleaner
        self.merge_in_transaction = merge_in_transaction
        """False where MERGE cannot run inside a transaction (embedded): upsert with UPDATE + INSERT."""
        self.embedded_name_rules = embedded_name_rules
        """True on the embedded warehouse, which cannot take every quoted name: fakesnow splices names into
        its own bookkeeping SQL unescaped (a `'` breaks it) and reads `$word` anywhere as a variable."""
        self._ensured_schemas: set[tuple[str, str]] = set()

    @property
    def supports_remove(self) -> bool:
        """Whether staged files are removed with `REMOVE` (real Snowflake) rather than a cleaner."""
        return self._stage_cleaner is None

    def query(self, statement: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[Row]]:
        """Run a statement (`?` placeholders) and return (column names, rows)."""
        cursor = self._conn.cursor()
        try:
            cursor.execute(statement, list(params) if params is not None else None)
            names = [d[0] for d in cursor.description or ()]
            rows = [tuple(row) for row in cursor.fetchall()] if names else []
            return names, rows
        except MondaySnowflakeError:
            raise
        except Exception as exc:
            raise classify_error(exc) from exc
        finally:
            cursor.close()

    def execute(self, statement: str, params: Sequence[Any] | None = None) -> None:
        """Run a statement for its effect."""
        self.query(statement, params)

    def close(self) -> None:
        """End the session; safe to call twice."""
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

    def merge_files(
        self,
        table: TableRef,
        columns: Sequence[WarehouseColumn],
        key: str,
        files: Sequence[Path],
        *,
        run_id: str,
        delete_missing: bool,
    ) -> MergeResult:
        """Load CSV files written by `CsvBatchWriter` with these `columns` into `table`, merging on `key`.

        With `delete_missing`, rows whose key is in no file are deleted (a full run). All or nothing:
        a failure leaves the target as it was. Leaves the session's current schema at the table's.
        """
        self._check_names(table, columns, key)
        _check_path_part(run_id, "run id")
        for path in files:
            _check_path_part(path.name, "file name")
            if "'" in str(path.resolve()):
                raise ConfigurationError("a staged file path may not contain a single quote", path=str(path))
        token = secrets.token_hex(6)
        in_stage = f"{run_id}/{token}"
        stage = stage_ref(table, STAGE_NAME)
        staging = staging_ref(token)
        dedup = staging_ref(f"{token}_DEDUP")
        clock = _StepClock()
        try:
            if files:
                self.execute(f"CREATE STAGE IF NOT EXISTS {stage}")
                for path in files:
                    self.execute(put(path, stage, in_stage))
            clock.lap("put")
            self.execute(use_schema(table))
            self.execute(create_staging(staging, columns))
            for path in files:
                self.execute(copy_into(staging, stage, f"{in_stage}/{path.name}"))
            _, ((staged, keyed),) = self.query(staging_counts(staging, key))
            clock.lap("copy")
            self.execute(create_dedup(dedup, staging, columns, key))
            _, ((distinct_keys,),) = self.query(f"SELECT COUNT(*) FROM {dedup}")
            clock.lap("dedup")
            inserted, updated, deleted = self._apply(table, dedup, columns, key, delete_missing)
            clock.lap("merge")
        finally:
            self._cleanup((dedup, staging), stage, in_stage, bool(files))
            clock.lap("cleanup")
        return MergeResult(
            staged_rows=int(staged),
            inserted=inserted,
            updated=updated,
            deleted=deleted,
            duplicates_dropped=int(keyed) - int(distinct_keys),
            null_keys_dropped=int(staged) - int(keyed),
            seconds=clock.laps,
        )

    def _apply(
        self,
        table: TableRef,
        source: str,
        columns: Sequence[WarehouseColumn],
        key: str,
        delete_missing: bool,
    ) -> tuple[int, int, int]:
        """Upsert `source` into `table` (and delete what it lacks) in one transaction: (ins, upd, del)."""
        self.execute("BEGIN")
        try:
            if self.merge_in_transaction:
                names, rows = self.query(merge(table, source, columns, key))
                counts = dict(zip((n.lower() for n in names), rows[0], strict=False)) if rows else {}
                inserted = int(counts.get("number of rows inserted", 0) or 0)
                updated = int(counts.get("number of rows updated", 0) or 0)
            else:
                updated = self._count(update_from(table, source, columns, key)) if len(columns) > 1 else 0
                inserted = self._count(insert_missing(table, source, columns, key))
            deleted = self._count(delete_unstaged(table, source, key)) if delete_missing else 0
            self.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return inserted, updated, deleted

    def _count(self, statement: str) -> int:
        """Run DML and return its affected-row count (the first value of its result row)."""
        _, rows = self.query(statement)
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
            log.warning("rollback failed: %s", exc)

    def _cleanup(self, tables: tuple[str, ...], stage: str, in_stage: str, staged_files: bool) -> None:
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


# --- SQL building: pure functions; every identifier goes through quote_identifier ---------------------

_SQL_TYPE = re.compile(r"^[A-Za-z_]+( ?\( ?\d{1,3} ?(, ?\d{1,3} ?)?\))?$")
_CSV_FORMAT = (
    "FILE_FORMAT = (TYPE = CSV FIELD_OPTIONALLY_ENCLOSED_BY = '\"' SKIP_HEADER = 1 "
    "NULL_IF = ('\\\\N') EMPTY_FIELD_AS_NULL = FALSE)"
)


def table_ref(table: TableRef) -> str:
    """`"db"."schema"."name"`."""
    return ".".join(quote_identifier(part) for part in (table.database, table.schema, table.name))


def stage_ref(table: TableRef, stage_name: str) -> str:
    """The named stage in the table's schema."""
    return ".".join(quote_identifier(part) for part in (table.database, table.schema, stage_name))


def staging_ref(token: str) -> str:
    """A temporary staging table, unique per load, in the session's current schema: fakesnow rejects
    qualified names for temporary tables, so the loader first switches to the target's schema."""
    return quote_identifier(f"_MS_STAGING_{token}")


def use_schema(table: TableRef) -> str:
    return f"USE SCHEMA {quote_identifier(table.database)}.{quote_identifier(table.schema)}"


def check_sql_type(sql_type: str) -> str:
    """Column types go into DDL verbatim, so only plain `NAME` or `NAME(p[,s])` is accepted."""
    if not _SQL_TYPE.match(sql_type.strip()):
        raise ConfigurationError("invalid column type", sql_type=sql_type)
    return sql_type.strip()


def require_key(columns: Sequence[WarehouseColumn], key: str) -> None:
    names = [column.name for column in columns]
    if key not in names:
        raise ConfigurationError("the key column is not among the columns", key=key)
    if len(set(names)) != len(names):
        raise ConfigurationError("duplicate column names", columns=names)


def create_namespace(table: TableRef) -> list[str]:
    database = quote_identifier(table.database)
    return [
        f"CREATE DATABASE IF NOT EXISTS {database}",
        f"CREATE SCHEMA IF NOT EXISTS {database}.{quote_identifier(table.schema)}",
    ]


def create_table(table: TableRef, columns: Sequence[WarehouseColumn]) -> str:
    body = ", ".join(f"{quote_identifier(c.name)} {check_sql_type(c.sql_type)}" for c in columns)
    return f"CREATE TABLE IF NOT EXISTS {table_ref(table)} ({body})"


def add_column(table: TableRef, column: WarehouseColumn) -> str:
    return (
        f"ALTER TABLE {table_ref(table)} ADD COLUMN IF NOT EXISTS "
        f"{quote_identifier(column.name)} {check_sql_type(column.sql_type)}"
    )


def columns_query(table: TableRef) -> str:
    """Columns of one table; binds (schema, table name)."""
    return (
        "SELECT column_name, data_type, numeric_precision, numeric_scale "
        f"FROM {quote_identifier(table.database)}.information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position"
    )


def describe_type(data_type: str, precision: Any, scale: Any) -> str:
    """information_schema's type as DDL would spell it: TEXT -> VARCHAR, NUMBER -> NUMBER(p,s)."""
    kind = data_type.upper()
    if kind == "TEXT":
        return "VARCHAR"
    if kind == "NUMBER" and precision is not None:
        return f"NUMBER({int(precision)},{int(scale or 0)})"
    return kind


def create_staging(staging: str, columns: Sequence[WarehouseColumn]) -> str:
    """Every column staged as text: fakesnow's CSV reader guesses column types (see csvfiles.TYPE_GUARD),
    so values are cast to the target types in `create_dedup`, where both warehouses cast the same way."""
    body = ", ".join(f"{quote_identifier(c.name)} VARCHAR" for c in columns)
    return f"CREATE TEMPORARY TABLE {staging} ({body}, {quote_identifier(ROW_SEQ_COLUMN)} VARCHAR)"


def put(path: Path, stage: str, in_stage: str) -> str:
    """Upload one local file; the caller has rejected paths containing a single quote."""
    source = f"file://{path.resolve().as_posix()}"
    return f"PUT '{source}' @{stage}/{in_stage}/ AUTO_COMPRESS = FALSE OVERWRITE = TRUE"


def copy_into(staging: str, stage: str, file_in_stage: str) -> str:
    """One file per COPY (fakesnow rejects FILES = (...)); FORCE because staging tables are fresh."""
    return f"COPY INTO {staging} FROM '@{stage}/{file_in_stage}' {_CSV_FORMAT} FORCE = TRUE"


_DATA_ROWS = f"{quote_identifier(ROW_SEQ_COLUMN)} <> '{TYPE_GUARD}'"


def staging_counts(staging: str, key: str) -> str:
    """(data rows, rows with a key) in the staging table."""
    return f"SELECT COUNT(*), COUNT({quote_identifier(key)}) FROM {staging} WHERE {_DATA_ROWS}"


def _typed(column: WarehouseColumn) -> str:
    name = quote_identifier(column.name)
    kind = base_type(column.sql_type)
    if kind in ("VARIANT", "OBJECT", "ARRAY"):
        return f"PARSE_JSON({name}) AS {name}"
    if kind in ("VARCHAR", "TEXT", "STRING", "CHAR", "CHARACTER"):
        return name
    return f"CAST({name} AS {check_sql_type(column.sql_type)}) AS {name}"


def create_dedup(dedup: str, staging: str, columns: Sequence[WarehouseColumn], key: str) -> str:
    """The last staged row per non-NULL key, cast to the target's types."""
    k = quote_identifier(key)
    seq = quote_identifier(ROW_SEQ_COLUMN)
    return (
        f"CREATE TEMPORARY TABLE {dedup} AS SELECT {', '.join(_typed(c) for c in columns)} FROM {staging} "
        f"WHERE {_DATA_ROWS} AND {k} IS NOT NULL "
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {k} ORDER BY CAST({seq} AS NUMBER(38,0)) DESC) = 1"
    )


def merge(table: TableRef, source: str, columns: Sequence[WarehouseColumn], key: str) -> str:
    """MERGE a de-duplicated source; target columns the load does not name are left alone."""
    k = quote_identifier(key)
    names = [quote_identifier(c.name) for c in columns]
    updates = ", ".join(f"{name} = s.{name}" for name in names if name != k)
    matched = f" WHEN MATCHED THEN UPDATE SET {updates}" if updates else ""
    return (
        f"MERGE INTO {table_ref(table)} AS t USING {source} AS s ON t.{k} = s.{k}{matched} "
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES ({', '.join(f's.{n}' for n in names)})"
    )


def update_from(table: TableRef, source: str, columns: Sequence[WarehouseColumn], key: str) -> str:
    """The MERGE's matched half, for warehouses that cannot MERGE inside a transaction."""
    k = quote_identifier(key)
    names = [quote_identifier(c.name) for c in columns if c.name != key]
    updates = ", ".join(f"{name} = s.{name}" for name in names)
    return f"UPDATE {table_ref(table)} AS t SET {updates} FROM {source} AS s WHERE t.{k} = s.{k}"


def insert_missing(table: TableRef, source: str, columns: Sequence[WarehouseColumn], key: str) -> str:
    """The MERGE's not-matched half."""
    k = quote_identifier(key)
    names = [quote_identifier(c.name) for c in columns]
    return (
        f"INSERT INTO {table_ref(table)} ({', '.join(names)}) SELECT {', '.join(f's.{n}' for n in names)} "
        f"FROM {source} AS s WHERE NOT EXISTS (SELECT 1 FROM {table_ref(table)} AS t WHERE t.{k} = s.{k})"
    )


def delete_unstaged(table: TableRef, staging: str, key: str) -> str:
    """Delete target rows whose key was not staged (NOT EXISTS, so NULL keys cannot empty the table)."""
    k = quote_identifier(key)
    return (
        f"DELETE FROM {table_ref(table)} AS t "
        f"WHERE NOT EXISTS (SELECT 1 FROM {staging} AS s WHERE s.{k} = t.{k})"
    )


def _check_path_part(value: str, what: str) -> None:
    if not _SAFE_PATH_PART.match(value):
        raise ConfigurationError(f"invalid {what} for a stage path", value=value)
