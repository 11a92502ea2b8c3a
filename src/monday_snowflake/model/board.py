"""A monday board and its columns, as read from the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a board. `type` is monday's API type name (legacy names are normalised on read)."""

    id: str
    title: str
    type: str
    settings: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class BoardSpec:
    """A board's identity and structure."""

    id: str
    name: str
    columns: tuple[ColumnSpec, ...]
    type: str = "board"
    subitems_board_id: str | None = None
    items_count: int | None = None

    def column(self, column_id: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.id == column_id), None)
