"""Check that a replicated table equals its board, item by item and column by column.

Used by `demo` (its exit code) and by the end-to-end tests, for the items and the subitems tables.
The board is read again through the monday client and decoded with the table's layout; the warehouse
rows are read back through the warehouse port; both sides are normalised (VARIANT text parsed,
numbers compared as decimals).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from monday_snowflake.model import Integration
from monday_snowflake.monday.client import MondayClient
from monday_snowflake.monday.queries import Shape
from monday_snowflake.snowflake.naming import quote_identifier
from monday_snowflake.store.repository import Store
from monday_snowflake.sync.layout import (
    DELETED_COLUMN,
    TableLayout,
    plan_subitems_table,
    plan_table,
    target_table,
)
from monday_snowflake.sync.state import SyncState
from monday_snowflake.sync.warehouses import Warehouse

_SKIPPED = {"_SYNCED_AT", DELETED_COLUMN.name}


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


async def compare_integration(
    store: Store, integration: Integration, client: MondayClient, warehouse: Warehouse
) -> dict[str, Comparison]:
    """Compare an integration's tables with its board as it is now: `items`, and `subitems` when the
    integration includes them. The tables are planned the way the next run would plan them."""
    state = SyncState.from_json(store.sync_state(integration.id))
    board = await client.get_board(integration.board_id)
    main_ref = target_table(integration, board)
    main = plan_table(
        integration, board, previous=state.columns("items"), existing=warehouse.table_columns(main_ref)
    )
    layouts = {"items": main}
    if integration.options.include_subitems and board.subitems_board_id:
        sub_board = await client.get_board(board.subitems_board_id)
        sub_ref = plan_subitems_table(integration, main_ref, sub_board).table
        layouts["subitems"] = plan_subitems_table(
            integration, main_ref, sub_board, previous=state.columns("subitems"),
            existing=warehouse.table_columns(sub_ref),
        )  # fmt: skip
    expected: dict[str, dict[int, list[Any]]] = {role: {} for role in layouts}
    synced = datetime(2000, 1, 1)
    shape = Shape.WITH_SUBITEMS if "subitems" in layouts else Shape.ITEMS
    sub_columns = layouts["subitems"].column_ids if "subitems" in layouts else None
    pages = client.iter_item_pages(
        board.id, column_ids=main.column_ids, shape=shape, subitem_column_ids=sub_columns
    )
    async for page in pages:
        for item in page:
            expected["items"][int(item["id"])] = main.row(item, synced)
            for sub in item.get("subitems") or () if "subitems" in layouts else ():
                expected["subitems"][int(sub["id"])] = layouts["subitems"].row(sub, synced, item["id"])
    return {role: _compare(layout, expected[role], warehouse) for role, layout in layouts.items()}


async def compare_board_and_table(
    client: MondayClient, board_id: str, layout: TableLayout, warehouse: Warehouse
) -> Comparison:
    """Compare one planned table with the board's items."""
    expected: dict[int, list[Any]] = {}
    synced = datetime(2000, 1, 1)
    async for page in client.iter_item_pages(board_id, column_ids=layout.column_ids):
        for item in page:
            expected[int(item["id"])] = layout.row(item, synced)
    return _compare(layout, expected, warehouse)


def _compare(layout: TableLayout, expected: dict[int, list[Any]], warehouse: Warehouse) -> Comparison:
    """Rows of items on the board against the table's live rows (soft-deleted ones are not live)."""
    columns = [c for c in layout.columns if c.name not in _SKIPPED]
    keep = [i for i, c in enumerate(layout.columns) if c.name not in _SKIPPED]
    select = ", ".join(quote_identifier(c.name) for c in columns)
    live = f" WHERE {quote_identifier(DELETED_COLUMN.name)} IS NULL" if layout.soft_delete else ""
    t = layout.table
    target = ".".join(quote_identifier(p) for p in (t.database, t.schema, t.name))
    _, rows = warehouse.query(f"SELECT {select} FROM {target}{live}")
    table = {int(row[0]): row for row in rows}

    result = Comparison(board_items=len(expected), table_rows=len(table))
    for item_id, full in expected.items():
        got = table.get(item_id)
        if got is None:
            result.missing.append(item_id)
            continue
        want_row = [full[i] for i in keep]
        for column, want, have in zip(columns, want_row, got, strict=True):
            if _expected(want, column.sql_type) != _stored(have, column.sql_type):
                result.mismatches.append((item_id, column.name, want, have))
    result.unexpected = sorted(set(table) - set(expected))
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
