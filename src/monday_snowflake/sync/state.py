"""What the sync engine remembers about an integration between runs, stored as JSON with it.

- per table (`items`, `subitems`): the columns it was last loaded with (the mapping schema evolution
  plans from) and when the last run that loaded it started (where the next incremental run picks up);
- when the board was last reconciled (its ids listed to find deleted and archived items).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monday_snowflake.sync.layout import StoredColumn


@dataclass
class SyncState:
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    reconciled_at: datetime | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SyncState:
        tables = raw.get("tables")
        return cls(
            tables=dict(tables) if isinstance(tables, dict) else {},
            reconciled_at=_instant(raw.get("reconciled_at")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "reconciled_at": self.reconciled_at.isoformat() if self.reconciled_at else None,
        }

    def columns(self, role: str) -> list[StoredColumn]:
        raw = self.tables.get(role, {}).get("columns") or []
        return [StoredColumn.from_json(c) for c in raw if isinstance(c, dict) and "id" in c and "name" in c]

    def loaded_from(self, role: str) -> datetime | None:
        """When the last run that loaded this table started; None if it never was."""
        return _instant(self.tables.get(role, {}).get("loaded_from"))

    def loaded(self, role: str, started_at: datetime, columns: list[dict[str, str]]) -> None:
        self.tables[role] = {"loaded_from": started_at.isoformat(), "columns": columns}


def _instant(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None
