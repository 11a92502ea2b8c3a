"""Checking a reverse sync recipe when it is saved, so a bad one is refused with a clear message
rather than failing its first run.

- The source is one read-only SELECT (or a table), the filter one condition (`model/reverse.py`).
- The key and every mapped source column exist in the source: its first rows are read.
- The key target and every mapped target exist on the board, and can be written.
- Those first rows convert to their target columns; a value that cannot (text into a numbers
  column, say) is reported with its column. Later rows are checked at run time, one by one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from monday_snowflake.errors import ConfigurationError, TransientError
from monday_snowflake.model import BoardSpec, ColumnSpec, ReverseSpec
from monday_snowflake.model.reverse import ITEM_ID, ITEM_NAME, check_filter, source_select
from monday_snowflake.monday import queries
from monday_snowflake.monday.codecs import normalise_type
from monday_snowflake.reverse.values import ConversionError, WriteContext, check_writable, to_monday

if TYPE_CHECKING:
    from monday_snowflake.runtime import Runtime

SAMPLE_ROWS = 20


async def check_reverse_recipe(
    runtime: Runtime, token: str, api_url: str | None, board: BoardSpec, spec: ReverseSpec
) -> None:
    source_select(spec.source)
    if spec.filter:
        check_filter(spec.filter)
    if spec.group_id is not None and spec.group_id not in await _group_ids(runtime, token, api_url, board):
        raise ConfigurationError(
            f"group_id: board {board.id} has no group {spec.group_id!r}", field="group_id"
        )
    targets = board_targets(board, spec)
    names, rows = await asyncio.to_thread(_sample, runtime, spec)
    source_index(names, spec.key_column, "key_column")
    context = WriteContext(users_by_email={})
    for source, column in targets.items():
        index = source_index(names, source, "mapping")
        if column.id == ITEM_NAME or normalise_type(column.type) == "people":
            continue  # any text names an item; people by email are looked up at run time
        for row in rows:
            try:
                to_monday(column, row[index], context)
            except ConversionError as exc:
                raise ConfigurationError(
                    f"mapping: {source} -> {column.id}: {exc}", field="mapping"
                ) from None


def board_targets(board: BoardSpec, spec: ReverseSpec) -> dict[str, ColumnSpec]:
    """Source column -> the board column it writes (`name` as a pseudo-column); ConfigurationError for
    a key target or mapped column the board lacks or monday does not let the API write."""
    if spec.key_target not in (ITEM_ID, ITEM_NAME):
        key_column = board.column(spec.key_target)
        if key_column is None:
            raise ConfigurationError(
                f"key_target: board {board.id} has no column {spec.key_target!r}", field="key_target"
            )
        check_writable(key_column)
    if not spec.mapping and not spec.create_columns:
        raise ConfigurationError(
            "mapping: map at least one source column to a monday column", field="mapping"
        )
    targets: dict[str, ColumnSpec] = {}
    for source, column_id in spec.mapping.items():
        if column_id == ITEM_NAME:
            targets[source] = ColumnSpec(ITEM_NAME, "Name", "name")
            continue
        column = board.column(column_id)
        if column is None:
            raise ConfigurationError(
                f"mapping: board {board.id} has no column {column_id!r} (for {source})", field="mapping"
            )
        try:
            check_writable(column)
        except ConfigurationError as exc:
            raise ConfigurationError(f"mapping: {exc}", field="mapping") from None
        targets[source] = column
    return targets


def source_index(names: Sequence[str], wanted: str, what: str) -> int:
    """Where a source column is in a result: its exact name, else case-insensitively (Snowflake
    upper-cases unquoted names)."""
    if wanted in names:
        return names.index(wanted)
    folded = [n.upper() for n in names]
    if wanted.upper() in folded:
        return folded.index(wanted.upper())
    raise ConfigurationError(
        f"{what}: the source has no column {wanted!r} (it has {', '.join(names)})", field=what
    )


def parse_assignments(values: Iterable[str], option: str) -> dict[str, str]:
    """`COLUMN=TARGET` pairs as the command line gives a key or a mapping: the Snowflake column before
    the last `=`, the monday column id (or `name` / `item_id`) after it; each column once."""
    pairs: dict[str, str] = {}
    for value in values:
        column, equals, target = value.rpartition("=")
        column, target = column.strip(), target.strip()
        if not equals or not column or not target:
            raise ConfigurationError(
                f"{option}: give SNOWFLAKE_COLUMN=MONDAY_COLUMN, not {value!r}", field=option.lstrip("-")
            )
        if column.upper() in {c.upper() for c in pairs}:
            raise ConfigurationError(f"{option}: {column} is given twice", field=option.lstrip("-"))
        pairs[column] = target
    return pairs


def _sample(runtime: Runtime, spec: ReverseSpec) -> tuple[list[str], list[tuple[Any, ...]]]:
    warehouse = runtime.open_warehouse()
    try:
        names, rows = warehouse.query(f"SELECT * FROM ({spec.select_statement()}) LIMIT {SAMPLE_ROWS}")
    except (ConfigurationError, TransientError):
        raise
    except Exception as exc:  # the warehouse refused the statement: say what it said
        raise ConfigurationError(f"source: the warehouse could not run it: {exc}", field="source") from None
    finally:
        warehouse.close()
    return names, [tuple(r) for r in rows]


async def _group_ids(runtime: Runtime, token: str, api_url: str | None, board: BoardSpec) -> set[str]:
    async with runtime.monday_client(token, api_url) as client:
        data = await client.execute(queries.BOARD_GROUPS_QUERY, {"boardId": board.id})
    boards = data.get("boards") or []
    return {str(g.get("id")) for b in boards for g in (b or {}).get("groups") or [] if isinstance(g, dict)}
