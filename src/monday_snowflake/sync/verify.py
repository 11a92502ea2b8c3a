"""Check that a replicated table equals its board, item by item and column by column.

Used by `demo` (its exit code) and by the end-to-end tests. The board is read again through the
monday client and decoded with the table's layout; the warehouse rows are read back through the
warehouse port; both sides are normalised (VARIANT text parsed, numbers compared as decimals).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from monday_snowflake.monday.client import MondayClient
from monday_snowflake.snowflake.naming import quote_identifier
from monday_snowflake.sync.layout import TableLayout
from monday_snowflake.sync.warehouses import Warehouse

_SKIPPED = {"_SYNCED_AT"}


@dataclass
class Comparison:
    """The differences found; empty lists mean the table equals the board."""

    board_items: int = 0
    table_rows: int = 0
    missing: list[int] = field(default_factory=list)
    unexpected: list[int] = field(default_factory=list)
    mismatches: list[tuple[int, str, Any, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatches)


async def compare_board_and_table(
    client: MondayClient, board_id: str, layout: TableLayout, warehouse: Warehouse
) -> Comparison:
    columns = [c for c in layout.columns if c.name not in _SKIPPED]
    names = [c.name for c in columns]
    select = ", ".join(quote_identifier(n) for n in names)
    t = layout.table
    target = ".".join(quote_identifier(p) for p in (t.database, t.schema, t.name))
    _, rows = warehouse.query(f"SELECT {select} FROM {target}")
    table = {int(row[0]): row for row in rows}

    result = Comparison(table_rows=len(table))
    seen: set[int] = set()
    synced = datetime(2000, 1, 1)
    keep = [i for i, c in enumerate(layout.columns) if c.name not in _SKIPPED]
    async for page in client.iter_item_pages(board_id, column_ids=layout.column_ids):
        for item in page:
            full = layout.row(item, synced)
            expected = [full[i] for i in keep]
            item_id = int(expected[0])
            seen.add(item_id)
            result.board_items += 1
            got = table.get(item_id)
            if got is None:
                result.missing.append(item_id)
                continue
            for column, want, have in zip(columns, expected, got, strict=True):
                if _expected(want, column.sql_type) != _stored(have, column.sql_type):
                    result.mismatches.append((item_id, column.name, want, have))
    result.unexpected = sorted(set(table) - seen)
    return result


def _expected(value: Any, sql_type: str) -> Any:
    """A decoded board value, as the warehouse should hold it."""
    if sql_type == "VARIANT" and value is not None:
        return json.loads(json.dumps(value, default=str))
    return _scalar(value, sql_type)


def _stored(value: Any, sql_type: str) -> Any:
    """A value read back from the warehouse (VARIANT arrives as JSON text)."""
    if sql_type == "VARIANT" and isinstance(value, str):
        return json.loads(value)
    return _scalar(value, sql_type)


def _scalar(value: Any, sql_type: str) -> Any:
    if value is None:
        return None
    if sql_type.startswith("NUMBER") or (
        isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    ):
        return Decimal(str(value)).normalize()
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):  # a date-only value in a TIMESTAMP_NTZ column reads back as midnight
        return datetime(value.year, value.month, value.day)
    return value
