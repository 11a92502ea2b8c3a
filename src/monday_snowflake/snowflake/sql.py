"""SQL building for the warehouse: pure functions; every identifier goes through `quote_identifier`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.model.warehouse import TableRef, WarehouseColumn
from monday_snowflake.snowflake.csvfiles import ROW_SEQ_COLUMN, TYPE_GUARD, base_type
from monday_snowflake.snowflake.naming import quote_identifier

SAFE_PATH_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


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


def rename_column(table: TableRef, old: str, new: str) -> str:
    return f"ALTER TABLE {table_ref(table)} RENAME COLUMN {quote_identifier(old)} TO {quote_identifier(new)}"


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


def copy_into(staging: str, stage: str, path_in_stage: str) -> str:
    """COPY every file under a stage path (a path ending in `/`) or one file; FORCE because staging
    tables are fresh. (fakesnow rejects FILES = (...), a path prefix works on both.)"""
    return f"COPY INTO {staging} FROM '@{stage}/{path_in_stage}' {_CSV_FORMAT} FORCE = TRUE"


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


def _not_older(newer_only: str | None) -> str:
    """The condition under which a matched row is updated: always, or with `newer_only` (a timestamp
    column) only when the source row is at least as new as the target's."""
    if newer_only is None:
        return ""
    c = quote_identifier(newer_only)
    return f" AND (t.{c} IS NULL OR s.{c} >= t.{c})"


def merge(
    table: TableRef,
    source: str,
    columns: Sequence[WarehouseColumn],
    key: str,
    *,
    newer_only: str | None = None,
) -> str:
    """MERGE a de-duplicated source; target columns the load does not name are left alone."""
    k = quote_identifier(key)
    names = [quote_identifier(c.name) for c in columns]
    updates = ", ".join(f"{name} = s.{name}" for name in names if name != k)
    matched = f" WHEN MATCHED{_not_older(newer_only)} THEN UPDATE SET {updates}" if updates else ""
    return (
        f"MERGE INTO {table_ref(table)} AS t USING {source} AS s ON t.{k} = s.{k}{matched} "
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES ({', '.join(f's.{n}' for n in names)})"
    )


def update_from(
    table: TableRef,
    source: str,
    columns: Sequence[WarehouseColumn],
    key: str,
    *,
    newer_only: str | None = None,
) -> str:
    """The MERGE's matched half, for warehouses that cannot MERGE inside a transaction."""
    k = quote_identifier(key)
    names = [quote_identifier(c.name) for c in columns if c.name != key]
    updates = ", ".join(f"{name} = s.{name}" for name in names)
    return (
        f"UPDATE {table_ref(table)} AS t SET {updates} FROM {source} AS s "
        f"WHERE t.{k} = s.{k}{_not_older(newer_only)}"
    )


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


def soft_delete_unstaged(table: TableRef, staging: str, key: str, marker: str) -> str:
    """Stamp `marker` (bound as the one parameter) on live target rows whose key was not staged."""
    k = quote_identifier(key)
    m = quote_identifier(marker)
    return (
        f"UPDATE {table_ref(table)} AS t SET {m} = CAST(? AS TIMESTAMP_NTZ) "
        f"WHERE t.{m} IS NULL AND NOT EXISTS (SELECT 1 FROM {staging} AS s WHERE s.{k} = t.{k})"
    )


def delete_where_in(table: TableRef, column: str, count: int, *, soft_marker: str | None = None) -> str:
    """Delete the rows whose `column` is one of `count` bound values; with `soft_marker`, stamp that
    column (bound first) on the live ones instead."""
    c = quote_identifier(column)
    values = ", ".join("?" * count)
    if soft_marker is None:
        return f"DELETE FROM {table_ref(table)} WHERE {c} IN ({values})"
    m = quote_identifier(soft_marker)
    return (
        f"UPDATE {table_ref(table)} SET {m} = CAST(? AS TIMESTAMP_NTZ) "
        f"WHERE {m} IS NULL AND {c} IN ({values})"
    )


def keys_mentioning(table: TableRef, key: str, columns: Sequence[str], count: int) -> str:
    """The `key` of rows where any of `columns` (VARIANT lists of item ids) mentions one of `count`
    bound ids, each bound as `%<id>%` once per column (a near miss only costs a re-read)."""
    k = quote_identifier(key)
    tests = " OR ".join(
        f"CAST({quote_identifier(column)} AS VARCHAR) LIKE ?" for column in columns for _ in range(count)
    )
    return f"SELECT {k} FROM {table_ref(table)} WHERE {tests}"


def check_path_part(value: str, what: str) -> None:
    if not SAFE_PATH_PART.match(value):
        raise ConfigurationError(f"invalid {what} for a stage path", value=value)
