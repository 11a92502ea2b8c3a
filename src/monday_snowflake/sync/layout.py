"""How a board becomes a warehouse table: which columns, with which names and types, in which order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.model import BoardSpec, ColumnSpec, Integration, TableRef, WarehouseColumn
from monday_snowflake.monday.codecs import ColumnCodec, codec_for, decode_item_metadata
from monday_snowflake.snowflake.naming import column_names, table_name_for_board

# Metadata columns every replicated table carries, ahead of the board's own columns.
METADATA_COLUMNS: tuple[WarehouseColumn, ...] = (
    WarehouseColumn("ITEM_ID", "NUMBER(38,0)"),
    WarehouseColumn("NAME", "VARCHAR"),
    WarehouseColumn("GROUP_ID", "VARCHAR"),
    WarehouseColumn("GROUP_TITLE", "VARCHAR"),
    WarehouseColumn("CREATED_AT", "TIMESTAMP_NTZ"),
    WarehouseColumn("UPDATED_AT", "TIMESTAMP_NTZ"),
    WarehouseColumn("_SYNCED_AT", "TIMESTAMP_NTZ"),
)
_RESERVED = frozenset(c.name for c in METADATA_COLUMNS)


@dataclass(frozen=True)
class MappedColumn:
    """A board column that is copied: where it comes from, where it goes, and how it is decoded."""

    source: ColumnSpec
    target: WarehouseColumn
    codec: ColumnCodec


@dataclass(frozen=True)
class TableLayout:
    """The full plan for one table: its name, its columns in order, and its key."""

    table: TableRef
    mapped: tuple[MappedColumn, ...]
    key: str

    @property
    def columns(self) -> list[WarehouseColumn]:
        return [*METADATA_COLUMNS, *(m.target for m in self.mapped)]

    @property
    def column_ids(self) -> list[str]:
        return [m.source.id for m in self.mapped]

    def row(self, item: dict[str, Any], synced_at: datetime) -> list[Any]:
        """One warehouse row for one monday item, in `columns` order."""
        item_id, name, group_id, group_title, created_at, updated_at = decode_item_metadata(item)
        by_id = {cv["id"]: cv for cv in item.get("column_values") or ()}
        row: list[Any] = [item_id, name, group_id, group_title, created_at, updated_at, synced_at]
        for mapped in self.mapped:
            cv = by_id.get(mapped.source.id)
            row.append(None if cv is None else mapped.codec.decode(cv))
        return row


def plan_table(integration: Integration, board: BoardSpec) -> TableLayout:
    """Decide the table for an integration's board, rejecting mappings that name unknown columns."""
    known = {c.id: c for c in board.columns}
    if integration.columns:
        missing = [m.column_id for m in integration.columns if m.column_id not in known]
        if missing:
            raise ConfigurationError(
                f"board {board.id} has no column(s) {', '.join(sorted(missing))}",
                board_id=board.id,
                columns=missing,
            )
        chosen = [known[m.column_id] for m in integration.columns]
        explicit = {m.column_id: m.target for m in integration.columns if m.target}
    else:
        chosen = list(board.columns)
        explicit = {}
    options = integration.options
    with_codec = [
        (col, codec)
        for col in chosen
        if (codec := codec_for(col, keep_dropdown_ids=options.keep_dropdown_ids)) is not None
    ]
    derived = column_names([col for col, _ in with_codec], reserved=_RESERVED | set(explicit.values()))
    mapped = tuple(
        MappedColumn(col, WarehouseColumn(explicit.get(col.id) or derived[col.id], codec.sql_type), codec)
        for col, codec in with_codec
    )
    key = _key_column(integration.primary_key, mapped)
    table = TableRef(
        integration.target_database,
        integration.target_schema,
        integration.target_table or table_name_for_board(board.name, board.id),
    )
    return TableLayout(table, mapped, key)


def _key_column(primary_key: str, mapped: Sequence[MappedColumn]) -> str:
    if primary_key.lower() in ("item_id", "id"):
        return "ITEM_ID"
    for m in mapped:
        if primary_key in (m.source.id, m.target.name):
            return m.target.name
    raise ConfigurationError(f"primary key {primary_key!r} is not a mapped column", primary_key=primary_key)
