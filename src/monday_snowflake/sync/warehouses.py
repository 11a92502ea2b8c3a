"""The small warehouse port the sync flows use; `snowflake.connection.SnowflakeWarehouse` implements it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from monday_snowflake.model import TableRef, WarehouseColumn


class Warehouse(Protocol):
    def ensure_table(self, table: TableRef, columns: Sequence[WarehouseColumn], key: str) -> Any: ...

    def table_columns(self, table: TableRef) -> dict[str, str]: ...

    def merge_files(
        self,
        table: TableRef,
        columns: Sequence[WarehouseColumn],
        key: str,
        files: Sequence[Path],
        *,
        run_id: str,
        delete_missing: bool,
    ) -> Any: ...

    def query(
        self, sql: str, params: Sequence[Any] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]: ...

    def close(self) -> None: ...


class WarehouseOpener(Protocol):
    def __call__(self, connection_id: str) -> Warehouse: ...
