"""The recipe of a reverse sync: which Snowflake rows become which monday items.

The source is a table name or one read-only SELECT, with an optional filter. It is checked on save by
parsing it as Snowflake SQL: a single SELECT (or UNION of SELECTs), nothing that writes, no second
statement. The key matches a Snowflake column to a monday column, to the item name (`name`), or to
the item id (`item_id`, for rows that came from monday, e.g. a replicated table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.snowflake.naming import quote_identifier

ITEM_NAME = "name"
ITEM_ID = "item_id"

_WRITES = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Copy,
    exp.TruncateTable,
)


@dataclass(frozen=True)
class ReverseSpec:
    source: str
    """A table (`T`, `SCHEMA.T` or `DB.SCHEMA.T`) or one SELECT statement."""
    key_column: str
    """The Snowflake column that identifies a row."""
    key_target: str
    """What it matches on the board: a column id, `name` or `item_id`."""
    mapping: dict[str, str] = field(default_factory=dict)
    """Snowflake column -> monday column id (or `name`)."""
    filter: str | None = None
    """A condition on the source's rows (`STATUS = 'open'`), applied as a WHERE around it."""
    group_id: str | None = None
    """Where new items go; None: the board's top group."""
    create_missing: bool = True
    update_existing: bool = True
    archive_missing: bool = False
    create_columns: bool = False
    """Source columns without a monday column get one, created on the board with a fitting type."""

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "key_column": self.key_column,
            "key_target": self.key_target,
            "mapping": dict(self.mapping),
            "filter": self.filter,
            "group_id": self.group_id,
            "create_missing": self.create_missing,
            "update_existing": self.update_existing,
            "archive_missing": self.archive_missing,
            "create_columns": self.create_columns,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ReverseSpec:
        return cls(**{**raw, "mapping": dict(raw.get("mapping") or {})})

    def select_statement(self) -> str:
        """The statement that reads the source rows."""
        base = source_select(self.source)
        if self.filter:
            return f"SELECT * FROM ({base}) AS SOURCE WHERE {self.filter}"
        return base


def source_select(source: str) -> str:
    """`SELECT * FROM <quoted table>` for a table name, or the SELECT itself, checked to be a single
    read-only statement; ConfigurationError otherwise."""
    text = source.strip().rstrip(";").strip()
    if not text:
        raise ConfigurationError("source: give a table name or a SELECT", field="source")
    parts = text.split(".")
    if all(_is_plain_name(p) for p in parts) and len(parts) <= 3:
        return "SELECT * FROM " + ".".join(quote_identifier(_as_stored(p)) for p in parts)
    check_read_only(text, "source")
    return text


def check_read_only(sql: str, what: str) -> None:
    """One SELECT (or set operation of SELECTs) that writes nothing."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="snowflake") if s is not None]
    except sqlglot.errors.ParseError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "it could not be parsed"
        raise ConfigurationError(f"{what}: not valid SQL: {first}", field=what) from None
    if len(statements) != 1:
        raise ConfigurationError(f"{what}: give exactly one statement, not {len(statements)}", field=what)
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise ConfigurationError(f"{what}: only a SELECT is allowed", field=what)
    if any(True for _ in statement.find_all(*_WRITES)) or statement.find(exp.Into) is not None:
        raise ConfigurationError(f"{what}: the SELECT must not write anything", field=what)


def tables_read(sql: str) -> list[tuple[str | None, str | None, str]]:
    """The tables a read-only SELECT reads, as `(database, schema, name)` stored the way Snowflake
    stores names (unquoted upper-cased); a part not written is None. Its own CTEs are not tables."""
    statement = sqlglot.parse_one(sql, read="snowflake")
    ctes = {cte.alias_or_name.upper() for cte in statement.find_all(exp.CTE)}
    found: list[tuple[str | None, str | None, str]] = []
    for table in statement.find_all(exp.Table):
        if not table.name or (not table.db and table.name.upper() in ctes):
            continue
        parts = [table.args.get(k) for k in ("catalog", "db", "this")]
        stored = [None if p is None else (p.name if p.quoted else p.name.upper()) for p in parts]
        found.append((stored[0], stored[1], str(stored[2])))
    return found


def check_filter(condition: str) -> None:
    """A filter is one boolean condition: it is checked inside the SELECT it will run in."""
    check_read_only(f"SELECT * FROM T WHERE {condition}", "filter")
    if ";" in condition:
        raise ConfigurationError("filter: one condition, without ';'", field="filter")


def _as_stored(part: str) -> str:
    """How Snowflake stores a name part: quoted ones as written, the rest upper-cased."""
    name = part.strip()
    return name[1:-1] if name.startswith('"') else name.upper()


def _is_plain_name(part: str) -> bool:
    name = part.strip()
    if name.startswith('"') and name.endswith('"') and len(name) > 2:
        return '"' not in name[1:-1]
    return name.replace("_", "a").replace("$", "a").isalnum() and not name[0].isdigit()
