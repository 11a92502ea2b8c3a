"""Warehouse-side names and types."""

from __future__ import annotations

from dataclasses import dataclass, field


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
