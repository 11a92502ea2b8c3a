"""Plain typed data shared by every part: boards and columns as monday describes them, warehouse tables,
integration recipes and run records."""

from monday_snowflake.model.board import BoardSpec, ColumnSpec
from monday_snowflake.model.integration import ColumnMapping, Integration, IntegrationOptions
from monday_snowflake.model.reverse import ReverseSpec
from monday_snowflake.model.warehouse import MergeResult, TableRef, WarehouseColumn

__all__ = [
    "BoardSpec",
    "ColumnMapping",
    "ColumnSpec",
    "Integration",
    "IntegrationOptions",
    "MergeResult",
    "ReverseSpec",
    "TableRef",
    "WarehouseColumn",
]
