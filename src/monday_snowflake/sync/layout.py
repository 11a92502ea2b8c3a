"""How a board becomes a warehouse table: which columns, with which names and types, in which order,
and how that plan follows the board as it changes (schema evolution).

Columns are tracked by monday column id. Each successful run stores the columns it loaded
(`StoredColumn`: id, title, monday type, warehouse name and type) and the next run plans from them:
- a column new on the board gets a new warehouse column (its name derived from its title);
- a renamed column keeps its warehouse name, or with `on_rename="rename"` the warehouse column is
  renamed after the new title;
- a column gone from the board keeps its warehouse column and data, and is reported; the stored
  mapping keeps that column (marked kept, see `StoredColumn.active`), as it keeps columns left out of
  the mapping and columns a type change moved away from, so a later column with the same name gets
  `<NAME>__<ID>` and never writes into another column's data;
- a column whose new type the warehouse column cannot hold gets a new column `<NAME>_<TYPE>`, and the
  run reads the whole board so the new column is filled (explicit target names too);
- users choose the columns (`Integration.columns`, `IntegrationOptions.exclude_columns`) and may name
  their warehouse columns; `check_mapping` rejects a mapping the board cannot take when it is saved;
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
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.model import (
    BoardSpec,
    ColumnMapping,
    ColumnSpec,
    Integration,
    TableRef,
    WarehouseColumn,
)
from monday_snowflake.monday.codecs import RowDecoder, decode_item_metadata
from monday_snowflake.snowflake.loader import SOFT_DELETE_MARKER
from monday_snowflake.snowflake.naming import (
    COLLISION_SEPARATOR,
    MAX_IDENTIFIER_LENGTH,
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
_KEPT = "kept"  # a stored column whose warehouse column stays but is no longer written


@dataclass(frozen=True)
class StoredColumn:
    """A board column as the last successful run loaded it."""

    column_id: str
    title: str
    type: str
    name: str
    sql_type: str
    active: bool = True
    """False: the warehouse column stays, with its data, but the run no longer writes it (its monday
    column was deleted, left out of the mapping, or moved to a new column by a type change). It stays
    claimed, so no other monday column ever writes into it."""

    def to_json(self) -> dict[str, str]:
        raw = {"id": self.column_id, "title": self.title, "type": self.type, "name": self.name,
               "sql_type": self.sql_type}  # fmt: skip
        if not self.active:
            raw["status"] = _KEPT
        return raw

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> StoredColumn:
        return cls(str(raw["id"]), str(raw.get("title", "")), str(raw.get("type", "")), str(raw["name"]),
                   str(raw.get("sql_type", "")), raw.get("status") != _KEPT)  # fmt: skip


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
    kept: tuple[StoredColumn, ...] = field(default=(), compare=False)
    """Warehouse columns the table keeps but no longer writes (see `StoredColumn.active`)."""
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
        """The mapping to remember for the next run's plan: the columns written, then the ones kept."""
        written = [
            StoredColumn(m.source.id, m.source.title, m.source.type, m.target.name, m.target.sql_type)
            for m in self.mapped
        ]
        return [c.to_json() for c in (*written, *self.kept)]

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
    """Plan an integration's main table, rejecting mappings the board cannot take (a chosen column
    deleted from the board since is left out and reported, not an error).

    `previous` is the mapping the last successful run stored; `existing` the target table's current
    columns and types (empty if there is no table yet or it could not be read)."""
    known = {c.id: c for c in board.columns}
    errors_column = integration.options.display_errors_column
    # a column chosen or excluded and later deleted from the board is no reason to stop: its warehouse
    # column keeps its data and the run reports it removed (the mapping was checked when saved)
    excluded = [c for c in integration.options.exclude_columns if c in known]
    mapped = [m for m in integration.columns if m.column_id in known]
    check_mapping(board, mapped, excluded, primary_key=integration.primary_key)
    if integration.columns:
        chosen = [known[m.column_id] for m in mapped]
        explicit = {m.column_id: m.target for m in mapped if m.target}
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
    chosen = [c for c in chosen if c.id not in excluded]
    table = target_table(integration, board)
    return _plan(integration, table, chosen, explicit, previous, existing or {}, set(known), subitems=False)


def check_mapping(
    board: BoardSpec,
    columns: Sequence[ColumnMapping],
    exclude: Sequence[str] = (),
    *,
    primary_key: str = "item_id",
) -> None:
    """Reject, with one clear message, a column mapping the board cannot take: an unknown or repeated
    column id, a column both included and excluded, a primary key column left out, or a target name
    that is not a usable column name (empty, too long, control characters), is reserved for the
    metadata columns, or is another column's target too. Names compare case-insensitively, as the
    warehouse may."""
    known = {c.id for c in board.columns}
    ids = [m.column_id for m in columns]
    missing = [c for c in dict.fromkeys(ids) if c not in known]
    if missing:
        raise ConfigurationError(
            f"columns: board {board.id} has no column(s) {', '.join(missing)}",
            field="columns",
            board_id=board.id,
            columns=missing,
        )
    repeated = [c for c in dict.fromkeys(ids) if ids.count(c) > 1]
    if repeated:
        raise ConfigurationError(f"columns: {', '.join(repeated)} listed more than once", field="columns")
    unknown = [c for c in dict.fromkeys(exclude) if c not in known]
    if unknown:
        raise ConfigurationError(
            f"exclude_columns: board {board.id} has no column(s) {', '.join(unknown)}",
            field="exclude_columns",
            board_id=board.id,
            columns=unknown,
        )
    both = [c for c in dict.fromkeys(exclude) if c in ids]
    if both:
        raise ConfigurationError(
            f"column(s) {', '.join(both)} both included (columns) and excluded (exclude_columns)",
            field="exclude_columns",
        )
    if primary_key.lower() not in ("item_id", "id") and (
        primary_key in exclude or (ids and primary_key not in ids)
    ):
        raise ConfigurationError(
            f"primary_key: column {primary_key} is the key, so it must be copied", field="primary_key"
        )
    targets: dict[str, str] = {}
    for m in columns:
        if m.target is None:
            continue
        _check_target(m.column_id, m.target)
        if m.target.upper() in _RESERVED:
            raise ConfigurationError(
                f"columns: target {m.target!r} of column {m.column_id} is a metadata column's name"
                f" (reserved: {', '.join(sorted(_RESERVED))})",
                field="columns",
            )
        other = targets.setdefault(m.target.upper(), m.column_id)
        if other != m.column_id:
            raise ConfigurationError(
                f"columns: columns {other} and {m.column_id} both target {m.target!r}", field="columns"
            )


def _check_target(column_id: str, target: str) -> None:
    problem = None
    if not target.strip():
        problem = "is empty"
    elif target != target.strip():
        problem = "starts or ends with a space"
    elif len(target) > MAX_IDENTIFIER_LENGTH:
        problem = f"is longer than {MAX_IDENTIFIER_LENGTH} characters"
    elif any(ord(char) < 32 or ord(char) == 127 for char in target):
        problem = "contains a control character"
    if problem:
        raise ConfigurationError(
            f"columns: the target name of column {column_id} {problem}", field="columns", column=column_id
        )


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
    """Name every chosen column. A column loaded before keeps its warehouse column unless it must move
    (a type the column cannot hold, a rename asked for); a new one takes its explicit target or a name
    from its title. No column ever takes a name another monday column's data is in, even one no longer
    written (deleted, left out, retyped away from): it gets a deterministic `__<ID>` suffix instead."""
    options = integration.options
    decoder = RowDecoder(chosen, keep_dropdown_ids=options.keep_dropdown_ids, keep_labels=options.keep_labels)
    previous = list(previous)
    before: dict[str, StoredColumn] = {}
    for p in previous:  # a column's active entry, else its first kept one (the latest it was written to)
        if p.column_id not in before or (p.active and not before[p.column_id].active):
            before[p.column_id] = p
    changes = SchemaChanges()
    # every name with data in it: the metadata and every column stored, written or kept
    taken = {name.upper() for name in _RESERVED} | {p.name.upper() for p in previous}
    # explicit targets win over names derived from titles
    derived_reserved = taken | {n.upper() for n in explicit.values() if n}
    in_table = {name.upper(): name for name in existing}
    names: dict[str, str] = {}
    fresh: list[tuple[ColumnSpec, str]] = []
    for column, sql_type in decoder.warehouse_columns:
        old = before.get(column.id)
        if old is None:
            fresh.append((column, sql_type))
            continue
        wanted = explicit.get(column.id)
        current = existing.get(old.name)
        fits = _holds(old.sql_type, sql_type) and (current is None or _holds(current, sql_type))
        if wanted and not _follows(old, wanted):  # a new target: move the column there
            moved = _unique(_free_name(wanted, column.id, taken | set(in_table)), taken)
            (changes.renamed if fits else changes.retyped).append((old.name, moved))
            names[column.id] = moved
        elif not fits:
            suffix = "_" + sanitise_identifier(column.type, fallback="TYPE")
            name = _unique(old.name + suffix, taken)
            changes.retyped.append((old.name, name))
            names[column.id] = name
        elif not wanted and old.title != column.title and options.on_rename == "rename":
            reserved = (derived_reserved | taken) - {old.name.upper()}
            derived = column_names([column], reserved=reserved)[column.id]
            taken.add(derived.upper())
            names[column.id] = derived
            if derived != old.name:
                changes.renamed.append((old.name, derived))
        else:
            names[column.id] = old.name
            if old.title != column.title and not wanted:
                changes.retitled.append(old.name)
    wanted_names: dict[str, str] = {}
    for column, _ in fresh:  # explicit targets first, then names from titles
        wanted = explicit.get(column.id)
        if wanted:
            wanted_names[column.id] = _free_name(wanted, column.id, taken)
            taken.add(wanted_names[column.id].upper())
    derived_reserved |= taken
    derived_names = column_names(
        [column for column, _ in fresh if column.id not in wanted_names], reserved=derived_reserved
    )
    for column, sql_type in fresh:
        name = wanted_names.get(column.id) or derived_names[column.id]
        # with no record of it, a column of that name may still exist: taken over if it fits
        current_type = existing.get(in_table.get(name.upper(), name))
        if current_type is not None and not _holds(current_type, sql_type):
            name = _unique(name + "_" + sanitise_identifier(column.type, fallback="TYPE"), taken)
        elif current_type is not None:
            name = in_table[name.upper()]  # the table's own spelling of it
        taken.add(name.upper())
        names[column.id] = name
        if before:
            changes.added.append(name)
        asked = explicit.get(column.id)
        if (name.upper() != asked.upper()) if asked else (COLLISION_SEPARATOR in name):
            changes.collisions[column.id] = name
    mapped = tuple(
        MappedColumn(column, WarehouseColumn(names[column.id], sql_type))
        for column, sql_type in decoder.warehouse_columns
    )
    # a column left out of an explicit mapping but still on the board is not "removed"
    changes.removed_from_board = [p.name for p in before.values() if p.active and p.column_id not in on_board]
    key = "ITEM_ID" if subitems else _key_column(integration.primary_key, mapped)
    kept = _kept(previous, mapped, changes)
    soft_delete = options.on_delete == "soft_delete"
    return TableLayout(table, mapped, key, decoder, subitems=subitems, soft_delete=soft_delete,
                       changes=changes, kept=kept)  # fmt: skip


def _follows(old: StoredColumn, wanted: str) -> bool:
    """Whether a column's stored name is its explicit target, or was derived from it by a type change
    (`<TARGET>_<TYPE>`) or to avoid a taken name (`<TARGET>__<ID>`)."""
    name, target = old.name.upper(), wanted.upper()
    retyped = target + "_" + sanitise_identifier(old.type, fallback="TYPE")
    return name == target or name.startswith((target + COLLISION_SEPARATOR, retyped))


def _free_name(wanted: str, column_id: str, taken: set[str]) -> str:
    """`wanted`, or `<wanted>__<ID>` when that name is taken (see `naming.column_names`)."""
    if wanted.upper() not in taken:
        return wanted
    id_name = sanitise_identifier(column_id, fallback="COLUMN")[:64]
    suffix = COLLISION_SEPARATOR + id_name
    return wanted[: MAX_IDENTIFIER_LENGTH - len(suffix)] + suffix


def _kept(
    previous: Sequence[StoredColumn], mapped: Sequence[MappedColumn], changes: SchemaChanges
) -> tuple[StoredColumn, ...]:
    """The stored columns whose warehouse column stays unwritten: every earlier one whose name no mapped
    column writes now and that was not renamed away."""
    gone = {m.target.name.upper() for m in mapped} | {old.upper() for old, _ in changes.renamed}
    kept: list[StoredColumn] = []
    for p in previous:
        if p.name.upper() not in gone:
            gone.add(p.name.upper())
            kept.append(replace(p, active=False))
    return tuple(kept)


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
