"""An integration: the recipe that says which board goes to which table, and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class ColumnMapping:
    """One monday column copied to one warehouse column. An empty mapping list means "every column"."""

    column_id: str
    target: str | None = None  # warehouse column name; default derived from the column title


@dataclass(frozen=True)
class IntegrationOptions:
    """Choices a user makes per integration."""

    include_subitems: bool = False
    keep_dropdown_ids: bool = False
    keep_labels: bool = False  # email and link columns become VARIANT {"email"|"url", "label"}
    on_delete: Literal["delete", "soft_delete"] = "delete"


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
