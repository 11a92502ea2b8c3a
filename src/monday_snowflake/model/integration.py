"""An integration: the recipe that says which board goes to which table, and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.model.reverse import ReverseSpec


@dataclass(frozen=True)
class ColumnMapping:
    """One monday column copied to one warehouse column. An empty mapping list means "every column"."""

    column_id: str
    target: str | None = None  # warehouse column name; default derived from the column title

    @classmethod
    def parse(cls, text: str) -> ColumnMapping:
        """`id` or `id=TARGET` (as the CLI takes them); the target is checked against the board later."""
        column_id, sep, target = text.partition("=")
        if not column_id.strip():
            raise ConfigurationError(f"columns: {text!r} names no column id", field="columns")
        return cls(column_id.strip(), target if sep else None)


SYNC_MODES = ("incremental", "full")
SyncMode = Literal["incremental", "full"]


@dataclass(frozen=True)
class IntegrationOptions:
    """Choices a user makes per integration."""

    include_subitems: bool = False
    keep_dropdown_ids: bool = False
    keep_labels: bool = False  # email and link columns become VARIANT {"email"|"url", "label"}
    on_delete: Literal["delete", "soft_delete"] = "delete"
    """Rows of items deleted or archived on monday: removed, or kept with `_DELETED_AT` set."""
    on_rename: Literal["keep", "rename"] = "keep"
    """A monday column renamed: its warehouse column keeps its name, or is renamed after it."""
    reconcile_every_hours: float = 24.0
    """How often an incremental run also looks for deleted and archived items (full runs always do);
    0 means on every run."""
    display_errors_column: str | None = None
    """A long-text column of the board where real-time sync writes why an item could not be synced
    (cleared once it is); never copied to the warehouse itself."""
    exclude_columns: tuple[str, ...] = ()
    """Column ids never copied, whatever else the mapping says (with no mapping: every other column)."""

    def __post_init__(self) -> None:
        # stored options come back from JSON with lists
        object.__setattr__(self, "exclude_columns", tuple(str(c) for c in self.exclude_columns))

    @classmethod
    def parse(cls, **values: Any) -> IntegrationOptions:
        """Options from user input, with a clear error for a value out of its choices."""
        choices = {"on_delete": ("delete", "soft_delete"), "on_rename": ("keep", "rename")}
        for name, allowed in choices.items():
            if name in values and values[name] not in allowed:
                raise ConfigurationError(f"{name} must be one of {', '.join(allowed)}, not {values[name]!r}")
        if float(values.get("reconcile_every_hours", 0)) < 0:
            raise ConfigurationError("reconcile_every_hours cannot be negative")
        return cls(**values)


@dataclass(frozen=True)
class Integration:
    """The recipe of one board -> table sync, as stored."""

    id: str
    account_id: str
    name: str
    board_id: str
    monday_connection_id: str
    snowflake_connection_id: str
    target_database: str
    target_schema: str
    target_table: str | None = None  # None: derived from the board name
    primary_key: str = "item_id"
    columns: tuple[ColumnMapping, ...] = ()
    options: IntegrationOptions = field(default_factory=IntegrationOptions)
    schedule: dict[str, Any] | None = None
    """When runs start on their own (see `monday_snowflake.schedule`); None: only when asked."""
    sync_mode: SyncMode = "incremental"
    """`incremental`: only items changed since the last successful run, once a full run has succeeded;
    `full`: every run reads the whole board."""
    reverse: ReverseSpec | None = None
    """Set for a reverse sync, which writes Snowflake rows to the board instead."""
    paused_at: datetime | None = None
    """Set while paused: nothing runs (scheduled or asked for) and webhooks wait, stored, until resumed."""
