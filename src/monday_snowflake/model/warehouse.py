"""Warehouse-side names and types."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableRef:
    """A fully named warehouse table. Names are stored unquoted, exactly as they should appear."""

    database: str
    schema: str
    name: str


@dataclass(frozen=True)
class WarehouseColumn:
    """A target column: its exact (case-preserved) name and Snowflake type, e.g. `NUMBER(38,6)`."""

    name: str
    sql_type: str
