"""How a board becomes a warehouse table: which columns, with which names and types, in which order,
and how that plan follows the board as it changes (schema evolution).

Columns are tracked by monday column id. Each successful run stores the columns it loaded
(`StoredColumn`: id, title, monday type, warehouse name and type) and the next run plans from them:
- a column new on the board gets a new warehouse column (its name derived from its title);
- a renamed column keeps its warehouse name, or with `on_rename="rename"` the warehouse column is
  renamed after the new title;
- a column gone from the board keeps its warehouse column and data, and is reported (a later column
  with the same name and a compatible type takes it over);
- a column whose new type the warehouse column cannot hold gets a new column `<NAME>_<TYPE>`, and the
  run reads the whole board so the new column is filled;
- two titles that sanitise to one name are told apart deterministically (see `naming.column_names`)
  and reported.

Date columns: monday has no setting that says whether a date column carries times, so the values
decide. Rows are staged with such columns as TIMESTAMP_NTZ (nothing is lost in the CSV), and the
target column is created as TIMESTAMP_NTZ if any value carried a time, DATE otherwise. Once the
column exists its type is kept; a DATE column that later receives times keeps the dates only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.model import BoardSpec, ColumnSpec, Integration, TableRef, WarehouseColumn
from monday_snowflake.monday.codecs import RowDecoder, decode_item_metadata
from monday_snowflake.snowflake.loader import SOFT_DELETE_MARKER
from monday_snowflake.snowflake.naming import (
    COLLISION_SEPARATOR,
    column_names,
    sanitise_identifier,
    table_name_for_board,
)

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
PARENT_COLUMN = WarehouseColumn("PARENT_ITEM_ID", "NUMBER(38,0)")
"""Subitems tables only, right after ITEM_ID: the parent item's id."""
DELETED_COLUMN = WarehouseColumn(SOFT_DELETE_MARKER, "TIMESTAMP_NTZ")
"""With `on_delete="soft_delete"` only: when the item was found gone; NULL while it is on the board."""
SUBITEMS_TABLE_SUFFIX = "_SUBITEMS"

_RESERVED = frozenset(c.name for c in (*METADATA_COLUMNS, PARENT_COLUMN, DELETED_COLUMN))
_TIMESTAMP = "TIMESTAMP_NTZ"
_NUMBER = re.compile(r"^NUMBER\((\d+),(\d+)\)$")


@dataclass(frozen=True)
class StoredColumn:
    """A board column as the last successful run loaded it."""

    column_id: str
    title: str
    type: str
    name: str
    sql_type: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.column_id, "title": self.title, "type": self.type, "name": self.name,
                "sql_type": self.sql_type}  # fmt: skip

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> StoredColumn:
        return cls(str(raw["id"]), str(raw.get("title", "")), str(raw.get("type", "")), str(raw["name"]),
                   str(raw.get("sql_type", "")))  # fmt: skip


@dataclass
class SchemaChanges:
    """How the table's columns differ from the last run's; recorded in the run's history."""

    added: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    """(old, new) warehouse names, renamed with `on_rename="rename"`."""
    retitled: list[str] = field(default_factory=list)
    """Warehouse columns whose monday column was renamed and that kept their name."""
    removed_from_board: list[str] = field(default_factory=list)
    """Warehouse columns whose monday column is gone; they stay, with their data."""
    retyped: list[tuple[str, str]] = field(default_factory=list)
    """(old, new) warehouse names: the monday column changed type and the old column cannot hold it."""
    collisions: dict[str, str] = field(default_factory=dict)
    """Column id -> warehouse name, for new columns whose title's name was already taken."""

    def as_dict(self) -> dict[str, Any]:
        return {name: value for name, value in vars(self).items() if value}

    def __bool__(self) -> bool:
        return bool(self.as_dict())


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
    subitems: bool = False
    soft_delete: bool = False
    changes: SchemaChanges = field(default_factory=SchemaChanges, compare=False)
    metadata: tuple[WarehouseColumn, ...] = field(init=False)
    _date_positions: tuple[int, ...] = field(init=False, repr=False)
    _timed: set[int] = field(init=False, default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.metadata = (
            METADATA_COLUMNS[:1]
            + ((PARENT_COLUMN,) if self.subitems else ())
            + METADATA_COLUMNS[1:]
            + ((DELETED_COLUMN,) if self.soft_delete else ())
        )
        self._date_positions = tuple(
            len(self.metadata) + i for i, m in enumerate(self.mapped) if m.target.sql_type == "DATE"
        )

    @property
    def columns(self) -> list[WarehouseColumn]:
        """The columns rows are written and staged with (date columns as timestamps)."""
        staged = [*self.metadata, *(m.target for m in self.mapped)]
        for position in self._date_positions:
            staged[position] = WarehouseColumn(staged[position].name, _TIMESTAMP)
        return staged

    def target_columns(self, existing: Mapping[str, str]) -> list[WarehouseColumn]:
        """The target table's columns, given the types of the columns it already has."""
        target = [*self.metadata, *(m.target for m in self.mapped)]
        for position in self._date_positions:
            name = target[position].name
            current = existing.get(name, "").upper()
            if current.startswith("TIMESTAMP") or (not current and position in self._timed):
                target[position] = WarehouseColumn(name, _TIMESTAMP)
        return target

    @property
    def column_ids(self) -> list[str]:
        return [m.source.id for m in self.mapped]

    def stored_columns(self) -> list[dict[str, str]]:
        """The mapping to remember for the next run's plan."""
        return [
            StoredColumn(
                m.source.id, m.source.title, m.source.type, m.target.name, m.target.sql_type
            ).to_json()
            for m in self.mapped
        ]

    def row(self, item: Mapping[str, Any], synced_at: datetime, parent_id: Any = None) -> list[Any]:
        """One warehouse row for one monday item, in `columns` order (`parent_id`: subitems only)."""
        item_id, name, group_id, group_title, created_at, updated_at = decode_item_metadata(item)
        decoded = self.decoder.decode(item.get("column_values") or ())
        unparsed = self.decoder.last_unparsed
        if self.subitems:
            row: list[Any] = [item_id, int(parent_id) if parent_id is not None else None, name, group_id,
                              group_title, created_at, updated_at, synced_at, unparsed]  # fmt: skip
        else:
            row = [item_id, name, group_id, group_title, created_at, updated_at, synced_at, unparsed]
        if self.soft_delete:
            row.append(None)
        row.extend(decoded)
        for position in self._date_positions:
            if type(row[position]) is datetime:
                self._timed.add(position)
        return row


def plan_table(
    integration: Integration,
    board: BoardSpec,
    *,
    previous: Iterable[StoredColumn] = (),
    existing: Mapping[str, str] | None = None,
) -> TableLayout:
    """Plan an integration's main table, rejecting mappings that name unknown columns.

    `previous` is the mapping the last successful run stored; `existing` the target table's current
    columns and types (empty if there is no table yet or it could not be read)."""
    known = {c.id: c for c in board.columns}
    errors_column = integration.options.display_errors_column
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
        # with subitems in their own table, the parent's subitems column would only repeat their ids
        # (PARENT_ITEM_ID says it), and go stale when one is deleted without the parent being updated
        subitems_apart = integration.options.include_subitems
        chosen = [
            c
            for c in board.columns
            if not (subitems_apart and c.type == "subtasks") and c.id != errors_column
        ]
        explicit = {}
    table = target_table(integration, board)
    return _plan(integration, table, chosen, explicit, previous, existing or {}, set(known), subitems=False)


def target_table(integration: Integration, board: BoardSpec) -> TableRef:
    """The integration's main table: as configured, or named after the board."""
    name = integration.target_table or table_name_for_board(board.name, board.id)
    return TableRef(integration.target_database, integration.target_schema, name)


def plan_subitems_table(
    integration: Integration,
    parent_table: TableRef,
    subitems_board: BoardSpec,
    *,
    previous: Iterable[StoredColumn] = (),
    existing: Mapping[str, str] | None = None,
) -> TableLayout:
    """Plan `<parent table>_SUBITEMS`: every column of the subitems board, keyed by the subitem id."""
    table = TableRef(parent_table.database, parent_table.schema, parent_table.name + SUBITEMS_TABLE_SUFFIX)
    columns = list(subitems_board.columns)
    on_board = {c.id for c in columns}
    return _plan(integration, table, columns, {}, previous, existing or {}, on_board, subitems=True)


def _plan(
    integration: Integration,
    table: TableRef,
    chosen: Sequence[ColumnSpec],
    explicit: Mapping[str, str | None],
    previous: Iterable[StoredColumn],
    existing: Mapping[str, str],
    on_board: set[str],
    *,
    subitems: bool,
) -> TableLayout:
    options = integration.options
    decoder = RowDecoder(chosen, keep_dropdown_ids=options.keep_dropdown_ids, keep_labels=options.keep_labels)
    before = {p.column_id: p for p in previous}
    changes = SchemaChanges()
    taken = {name.upper() for name in _RESERVED | {n for n in explicit.values() if n}}
    # a column of the table that no stored column claims is adopted by a new column of that name
    taken |= {p.name.upper() for p in before.values()}
    names: dict[str, str] = {}
    fresh: list[tuple[ColumnSpec, str]] = []
    for column, sql_type in decoder.warehouse_columns:
        old = before.get(column.id)
        wanted = explicit.get(column.id)
        if wanted:
            names[column.id] = wanted
            if old is not None and old.name != wanted:
                changes.renamed.append((old.name, wanted))
            continue
        if old is None:
            fresh.append((column, sql_type))
            continue
        current = existing.get(old.name)
        if not _holds(old.sql_type, sql_type) or (current is not None and not _holds(current, sql_type)):
            suffix = "_" + sanitise_identifier(column.type, fallback="TYPE")
            name = _unique(old.name + suffix, taken)
            changes.retyped.append((old.name, name))
            names[column.id] = name
        elif old.title != column.title and options.on_rename == "rename":
            derived = column_names([column], reserved=taken - {old.name.upper()})[column.id]
            taken.add(derived.upper())
            names[column.id] = derived
            if derived != old.name:
                changes.renamed.append((old.name, derived))
        else:
            names[column.id] = old.name
            if old.title != column.title:
                changes.retitled.append(old.name)
    derived_names = column_names([column for column, _ in fresh], reserved=taken)
    for column, sql_type in fresh:
        name = derived_names[column.id]
        current_type = existing.get(name)  # with no record of it, a column of that name may still exist
        if current_type is not None and not _holds(current_type, sql_type):
            name = _unique(name + "_" + sanitise_identifier(column.type, fallback="TYPE"), taken)
        taken.add(name.upper())
        names[column.id] = name
        if before:
            changes.added.append(name)
        if COLLISION_SEPARATOR in name:
            changes.collisions[column.id] = name
    # a column left out of an explicit mapping but still on the board is not "removed"
    changes.removed_from_board = [p.name for p in before.values() if p.column_id not in on_board]
    mapped = tuple(
        MappedColumn(column, WarehouseColumn(names[column.id], sql_type))
        for column, sql_type in decoder.warehouse_columns
    )
    key = "ITEM_ID" if subitems else _key_column(integration.primary_key, mapped)
    return TableLayout(table, mapped, key, decoder, subitems=subitems,
                       soft_delete=options.on_delete == "soft_delete", changes=changes)  # fmt: skip


def _unique(name: str, taken: set[str]) -> str:
    candidate, counter = name, 2
    while candidate.upper() in taken:
        candidate = f"{name}_{counter}"
        counter += 1
    taken.add(candidate.upper())
    return candidate


def _holds(existing: str, needed: str) -> bool:
    """Whether a warehouse column of type `existing` can take values of type `needed`."""
    have, want = existing.upper().replace(" ", ""), needed.upper().replace(" ", "")
    if have == want:
        return True
    dates = ("DATE", "TIMESTAMP_NTZ", "TIMESTAMP")
    if have in dates and want in dates:
        return True  # the values decide a date column's type; a DATE column keeps dates only
    have_number, want_number = _NUMBER.match(have), _NUMBER.match(want)
    if have_number and want_number:
        return int(have_number[2]) >= int(want_number[2]) and (
            int(have_number[1]) - int(have_number[2]) >= int(want_number[1]) - int(want_number[2])
        )
    return have in ("VARCHAR", "TEXT") and want in ("VARCHAR", "TEXT")


def _key_column(primary_key: str, mapped: Sequence[MappedColumn]) -> str:
    if primary_key.lower() in ("item_id", "id"):
        return "ITEM_ID"
    for m in mapped:
        if primary_key in (m.source.id, m.target.name):
            return m.target.name
    raise ConfigurationError(f"primary key {primary_key!r} is not a mapped column", primary_key=primary_key)
