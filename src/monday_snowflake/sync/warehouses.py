"""The small warehouse port the sync flows use; `snowflake.connection.SnowflakeWarehouse` implements it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from monday_snowflake.model import MergeResult, TableRef, WarehouseColumn


class StagedLoad(Protocol):
    """A load into one table whose files are staged one by one, then merged once."""

    def add_file(self, path: Path) -> None: ...

    def merge(
        self, *, delete_missing: bool, soft_delete: bool = False, upsert: bool = True
    ) -> MergeResult: ...

    def close(self) -> None: ...


class Warehouse(Protocol):
    """A warehouse session: table DDL, loads and queries."""

    stages_alongside_caller: bool
    """Whether files should be staged while the caller still writes more (see `begin_load`)."""

    def ensure_table(self, table: TableRef, columns: Sequence[WarehouseColumn], key: str) -> Any: ...

    def table_columns(self, table: TableRef) -> dict[str, str]: ...

    def rename_column(self, table: TableRef, old: str, new: str) -> None: ...

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
    ) -> MergeResult: ...

    def begin_load(
        self, table: TableRef, columns: Sequence[WarehouseColumn], key: str, *, run_id: str
    ) -> StagedLoad: ...

    def delete_rows(
        self, table: TableRef, column: str, values: Sequence[Any], *, soft_delete: bool = False
    ) -> int: ...

    def query(
        self, sql: str, params: Sequence[Any] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]: ...

    def close(self) -> None: ...


class WarehouseOpener(Protocol):
    def __call__(self, connection_id: str) -> Warehouse: ...
