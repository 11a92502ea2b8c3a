"""How a board becomes a warehouse table: which columns, with which names and types, in which order.

Date columns: monday has no setting that says whether a date column carries times, so the values
decide. Rows are staged with such columns as TIMESTAMP_NTZ (nothing is lost in the CSV), and the
target column is created as TIMESTAMP_NTZ if any value carried a time, DATE otherwise. Once the
column exists its type is kept; a DATE column that later receives times keeps the dates only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.model import BoardSpec, ColumnSpec, Integration, TableRef, WarehouseColumn
from monday_snowflake.monday.codecs import RowDecoder, decode_item_metadata
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
    WarehouseColumn("_UNPARSED", "VARIANT"),  # raw cells whose shape the decoders did not expect
)
_RESERVED = frozenset(c.name for c in METADATA_COLUMNS)
_TIMESTAMP = "TIMESTAMP_NTZ"


@dataclass(frozen=True)
class MappedColumn:
    """A board column that is copied: where it comes from and where it goes."""

    source: ColumnSpec
    target: WarehouseColumn


@dataclass
class TableLayout:
    """The plan for one table: its name, its columns in order, its key, and the row decoder.

    The decoder counts values of unexpected shape per column id in `decoder.warnings`; `row` notes
    which date columns carried times."""

    table: TableRef
    mapped: tuple[MappedColumn, ...]
    key: str
    decoder: RowDecoder = field(compare=False)
    _date_positions: tuple[int, ...] = field(init=False, repr=False)
    _timed: set[int] = field(init=False, default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self._date_positions = tuple(
            len(METADATA_COLUMNS) + i for i, m in enumerate(self.mapped) if m.target.sql_type == "DATE"
        )

    @property
    def columns(self) -> list[WarehouseColumn]:
        """The columns rows are written and staged with (date columns as timestamps)."""
        staged = [*METADATA_COLUMNS, *(m.target for m in self.mapped)]
        for position in self._date_positions:
            staged[position] = WarehouseColumn(staged[position].name, _TIMESTAMP)
        return staged

    def target_columns(self, existing: Mapping[str, str]) -> list[WarehouseColumn]:
        """The target table's columns, given the types of the columns it already has."""
        target = [*METADATA_COLUMNS, *(m.target for m in self.mapped)]
        for position in self._date_positions:
            name = target[position].name
            current = existing.get(name, "").upper()
            if current.startswith("TIMESTAMP") or (not current and position in self._timed):
                target[position] = WarehouseColumn(name, _TIMESTAMP)
        return target

    @property
    def column_ids(self) -> list[str]:
        return [m.source.id for m in self.mapped]

    def row(self, item: Mapping[str, Any], synced_at: datetime) -> list[Any]:
        """One warehouse row for one monday item, in `columns` order."""
        item_id, name, group_id, group_title, created_at, updated_at = decode_item_metadata(item)
        decoded = self.decoder.decode(item.get("column_values") or ())
        unparsed = self.decoder.last_unparsed
        row: list[Any] = [item_id, name, group_id, group_title, created_at, updated_at, synced_at, unparsed]
        row.extend(decoded)
        for position in self._date_positions:
            if type(row[position]) is datetime:
                self._timed.add(position)
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
    decoder = RowDecoder(chosen, keep_dropdown_ids=options.keep_dropdown_ids, keep_labels=options.keep_labels)
    kept = [col for col, _ in decoder.warehouse_columns]
    derived = column_names(kept, reserved=_RESERVED | set(explicit.values()))
    mapped = tuple(
        MappedColumn(col, WarehouseColumn(explicit.get(col.id) or derived[col.id], sql_type))
        for col, sql_type in decoder.warehouse_columns
    )
    key = _key_column(integration.primary_key, mapped)
    table = TableRef(
        integration.target_database,
        integration.target_schema,
        integration.target_table or table_name_for_board(board.name, board.id),
    )
    return TableLayout(table, mapped, key, decoder)


def _key_column(primary_key: str, mapped: Sequence[MappedColumn]) -> str:
    if primary_key.lower() in ("item_id", "id"):
        return "ITEM_ID"
    for m in mapped:
        if primary_key in (m.source.id, m.target.name):
            return m.target.name
    raise ConfigurationError(f"primary key {primary_key!r} is not a mapped column", primary_key=primary_key)
