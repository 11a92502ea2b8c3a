"""The app's custom automation actions (integration recipes, API-FACTS 9.4).

Each reads `payload.inboundFieldValues` and acts for the account the JWT names (its install); the
item is read from monday with the request's `shortLivedToken`, which also proves the user can see it.
A board counts as the account's when one of its integrations syncs it; anything else is refused
without touching a thing.

- `sync_item`: the item is read again and MERGEd into its integration's table now, through the same
  path as a webhook event (`realtime/apply.py`); while a run holds the integration, the event waits
  in the inbox and the real-time loop applies it after.
- `run_integration`: a run of the integration is queued (once per `actionUuid`, so monday's retries
  queue nothing more).
- `write_item`: the item's columns become one row of the table named in `tableName` (created, and
  widened with new columns, as needed), in the database and schema of the board's integration; the
  row is MERGEd on `ITEM_ID`, so running the action again rewrites the same row.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from monday_snowflake.app.tokens import AutomationClaims
from monday_snowflake.errors import ConfigurationError, NotFoundError
from monday_snowflake.model import Integration, TableRef, WarehouseColumn
from monday_snowflake.model.events import WebhookEvent
from monday_snowflake.realtime.apply import RealtimeApplier
from monday_snowflake.snowflake.naming import quote_identifier, sanitise_identifier
from monday_snowflake.snowflake.sql import table_ref
from monday_snowflake.sync.layout import SUBITEMS_TABLE_SUFFIX

if TYPE_CHECKING:
    from monday_snowflake.service import Service

ITEM_QUERY = """query AutomationItem($ids: [ID!]!) {
  items(ids: $ids, limit: 1) { id name state updated_at board { id } column_values { id text } }
}"""
KEY = "ITEM_ID"
FIXED_COLUMNS = (
    WarehouseColumn(KEY, "VARCHAR"),
    WarehouseColumn("ITEM_NAME", "VARCHAR"),
    WarehouseColumn("BOARD_ID", "VARCHAR"),
    WarehouseColumn("WRITTEN_AT", "TIMESTAMP_NTZ"),
)


@dataclass(frozen=True)
class ActionRequest:
    account_id: str
    claims: AutomationClaims
    inbound: dict[str, Any]
    action_uuid: str | None

    def field(self, name: str, *, required: bool = True) -> str | None:
        value = self.inbound.get(name)
        if value is None or str(value).strip() == "":
            if required:
                raise ConfigurationError(f"the action needs {name} in inboundFieldValues", field=name)
            return None
        return str(value).strip()

    def numeric(self, name: str) -> str:
        value = self.field(name)
        assert value is not None
        if not value.isdigit():
            raise ConfigurationError(f"{name} must be a monday id, not {value!r}", field=name)
        return value


def read_request(account_id: str, claims: AutomationClaims, body: Any) -> ActionRequest:
    payload = body.get("payload") if isinstance(body, dict) else None
    if not isinstance(payload, dict):
        raise ConfigurationError("the body is not {payload: {...}}")
    inbound = payload.get("inboundFieldValues") or payload.get("inputFields") or {}
    if not isinstance(inbound, dict):
        raise ConfigurationError("inboundFieldValues must be an object", field="inboundFieldValues")
    metadata = body.get("runtimeMetadata") if isinstance(body.get("runtimeMetadata"), dict) else {}
    action_uuid = metadata.get("actionUuid") if isinstance(metadata, dict) else None
    return ActionRequest(account_id, claims, inbound, str(action_uuid) if action_uuid else None)


def board_integration(service: Service, request: ActionRequest, board_id: str) -> Integration:
    """The account's board -> table integration of the board (the one named, if one is)."""
    wanted = request.field("integrationId", required=False)
    store = service.store
    if wanted is not None:
        integration = store.get_integration(wanted, account_id=request.account_id)
        if integration.board_id != board_id or integration.reverse is not None:
            raise NotFoundError(f"integration '{wanted}' does not sync board {board_id}", board_id=board_id)
        return integration
    for integration in store.list_integrations(account_id=request.account_id):
        if integration.board_id == board_id and integration.reverse is None:
            return integration
    raise NotFoundError(
        f"board {board_id} is not synced by any integration of this account", board_id=board_id
    )


async def _read_item(
    service: Service, request: ActionRequest, integration: Integration, item_id: str
) -> dict[str, Any]:
    """The item as monday shows it to the automation's user; NotFoundError unless it is on the board."""
    token = request.claims.short_lived_token
    if not token:
        raise ConfigurationError("the request's JWT has no shortLivedToken to read the item with")
    api_url = service.store.get_connection(integration.monday_connection_id).config.get("api_url")
    async with service.runtime.monday_client(token, api_url) as client:
        data = await client.execute(ITEM_QUERY, {"ids": [item_id]})
    items = [i for i in data.get("items") or [] if isinstance(i, dict)]
    item = items[0] if items else None
    if item is None or str((item.get("board") or {}).get("id")) != integration.board_id:
        raise NotFoundError(f"item {item_id} is not on board {integration.board_id}", item_id=item_id)
    return item


def sync_item(service: Service, request: ActionRequest) -> dict[str, Any]:
    board_id, item_id = request.numeric("boardId"), request.numeric("itemId")
    integration = board_integration(service, request, board_id)
    asyncio.run(_read_item(service, request, integration, item_id))
    trigger = f"action:{request.action_uuid or uuid.uuid4().hex}"
    event = WebhookEvent(trigger, "update_name", board_id, item_id, None, None, None)
    service.store.add_events([(integration.id, event)])
    applier = RealtimeApplier(service.runtime, service.enqueue_realtime_sync)
    result = asyncio.run(applier.flush(integration.id))
    if result is None:
        return {"status": "queued", "integration_id": integration.id}
    if result.deferred:
        return {"status": "queued", "integration_id": integration.id, "reason": result.deferred}
    return {"status": "synced", "integration_id": integration.id, "rows": result.upserted + result.deleted}


def run_integration(service: Service, request: ActionRequest) -> dict[str, Any]:
    integration_id = request.field("integrationId")
    assert integration_id is not None
    integration = service.store.get_integration(integration_id, account_id=request.account_id)
    board_id = request.field("boardId", required=False)
    if board_id is not None and board_id != integration.board_id:
        raise NotFoundError(
            f"integration '{integration_id}' does not sync board {board_id}", board_id=board_id
        )
    key = f"automation:{integration.id}:{request.action_uuid}" if request.action_uuid else None
    queued = service.enqueue_run(integration, reason="automation", dedup_key=key, refuse_if_busy=False)
    return {"status": "queued", "run_id": queued.run_id}


def write_item(service: Service, request: ActionRequest) -> dict[str, Any]:
    board_id, item_id = request.numeric("boardId"), request.numeric("itemId")
    table_name = request.field("tableName")
    assert table_name is not None
    name = sanitise_identifier(table_name, fallback="")
    if not name or name != table_name.strip().upper():
        raise ConfigurationError(
            f"tableName {table_name!r} is not a plain table name (letters, digits and _)", field="tableName"
        )
    integration = board_integration(service, request, board_id)
    item = asyncio.run(_read_item(service, request, integration, item_id))
    values: dict[str, Any] = {
        KEY: str(item["id"]),
        "ITEM_NAME": item.get("name"),
        "BOARD_ID": board_id,
        "WRITTEN_AT": datetime.now(UTC).replace(tzinfo=None),
    }
    for cell in item.get("column_values") or []:
        column = sanitise_identifier(str(cell.get("id") or ""), fallback="")
        if column and column not in values:
            values[column] = cell.get("text")
    columns = [*FIXED_COLUMNS, *(WarehouseColumn(c, "VARCHAR") for c in values if c not in _FIXED_NAMES)]
    table = TableRef(integration.target_database, integration.target_schema, name)
    _refuse_replicated_table(service, table)
    warehouse = service.runtime.open_warehouse(integration.snowflake_connection_id)
    try:
        warehouse.ensure_table(table, columns, KEY)
        warehouse.query(_merge_one(table, [c.name for c in columns]), [values[c.name] for c in columns])
    finally:
        warehouse.close()
    return {"status": "written", "table": f"{table.database}.{table.schema}.{table.name}", "item_id": item_id}


_FIXED_NAMES = frozenset(c.name for c in FIXED_COLUMNS)


def _refuse_replicated_table(service: Service, table: TableRef) -> None:
    """An integration's table (any account's) holds a board as replication keeps it: a row written
    into it by an action would be wrong there, and on a shared warehouse it may be another account's."""
    wanted = (table.database.upper(), table.schema.upper(), table.name.upper())
    for other in service.store.list_integrations():
        if other.reverse is not None or not other.target_table:
            continue
        for name in (other.target_table, other.target_table + SUBITEMS_TABLE_SUFFIX):
            if (other.target_database.upper(), other.target_schema.upper(), name.upper()) == wanted:
                raise ConfigurationError(
                    f"tableName {table.name!r} is a replicated board's table; choose another name",
                    field="tableName",
                )


def _merge_one(table: TableRef, names: list[str]) -> str:
    """MERGE one row, its values bound in `names` order, keyed by ITEM_ID."""
    quoted = [quote_identifier(n) for n in names]
    source = ", ".join(f"? AS {q}" for q in quoted)
    key = quote_identifier(KEY)
    updates = ", ".join(f"T.{q} = S.{q}" for q in quoted if q != key)
    return (
        f"MERGE INTO {table_ref(table)} AS T USING (SELECT {source}) AS S ON T.{key} = S.{key} "
        f"WHEN MATCHED THEN UPDATE SET {updates} "
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(quoted)}) VALUES ({', '.join('S.' + q for q in quoted)})"
    )
