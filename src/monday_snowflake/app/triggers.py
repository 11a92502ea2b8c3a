"""The app's custom automation triggers (integration recipes, API-FACTS 9.4).

monday subscribes an automation with a `webhookUrl` and its `inputFields`; when the event happens we
`POST <webhookUrl>` with `{"trigger": {"outputFields": {...}}}` and a Bearer JWT signed with the
signing secret. Two triggers:

- `reverse_run_finished` (input `integrationId`, a reverse sync of the account): posted after each
  run of that integration ends, with its id, status and counts.
- `query_new_rows` (inputs `query`, one read-only SELECT, and `integrationId`, whose Snowflake
  connection runs it): the scheduler runs the SELECT every `trigger_check_seconds` and posts each row
  it has not posted before (a row is known by the hash of its values). The first check only notes the
  rows already there. A check saves the rows it posts before posting them, with a compare-and-set on
  the subscription, so two schedulers never post the same row (a crash in between loses a post rather
  than repeating it).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

from monday_snowflake.app.tokens import trigger_jwt
from monday_snowflake.errors import (
    ConfigurationError,
    MondaySnowflakeError,
    NotFoundError,
    PermissionDeniedError,
)
from monday_snowflake.logs import get_logger
from monday_snowflake.model import Integration
from monday_snowflake.model.reverse import check_read_only, tables_read
from monday_snowflake.runtime import Runtime
from monday_snowflake.store.app import TriggerRecord
from monday_snowflake.store.records import OWNED_BY_ACCOUNT
from monday_snowflake.sync.layout import SUBITEMS_TABLE_SUFFIX

log = get_logger(__name__)

REVERSE_RUN_FINISHED = "reverse_run_finished"
QUERY_NEW_ROWS = "query_new_rows"
KINDS = (REVERSE_RUN_FINISHED, QUERY_NEW_ROWS)
MAX_ROWS_READ = 10_000
"""Rows of a trigger's SELECT looked at per check."""
MAX_POSTS_PER_CHECK = 100
"""New rows posted per subscription and check; the rest wait for the next check."""
MAX_KEYS_KEPT = 20_000
POST_TIMEOUT_SECONDS = 10.0


def subscribe(runtime: Runtime, account_id: str, kind: str, body: Any) -> dict[str, Any]:
    """Store a subscription of this account; its integration must be the account's."""
    payload = body.get("payload") if isinstance(body, dict) else None
    if not isinstance(payload, dict):
        raise ConfigurationError("the body is not {payload: {...}}")
    url = str(payload.get("webhookUrl") or "")
    if not url.startswith(("https://", "http://")):
        raise ConfigurationError("webhookUrl must be an http(s) URL", field="webhookUrl")
    subscription_id = payload.get("subscriptionId")
    if subscription_id is None or str(subscription_id) == "":
        raise ConfigurationError("subscriptionId is required", field="subscriptionId")
    fields = payload.get("inputFields") or payload.get("inboundFieldValues") or {}
    if not isinstance(fields, dict):
        raise ConfigurationError("inputFields must be an object", field="inputFields")
    integration_id = str(fields.get("integrationId") or "")
    if not integration_id:
        raise ConfigurationError("inputFields.integrationId is required", field="integrationId")
    integration = runtime.store.get_integration(integration_id, account_id=account_id)
    if kind == REVERSE_RUN_FINISHED and integration.reverse is None:
        raise ConfigurationError(
            f"integration '{integration.name}' is not a reverse sync", field="integrationId"
        )
    if kind == QUERY_NEW_ROWS:
        query = str(fields.get("query") or "").strip().rstrip(";")
        if not query:
            raise ConfigurationError("inputFields.query is required", field="query")
        check_read_only(query, "query")
        check_tables_readable(runtime, integration, query)
        fields = {**fields, "query": query}
    trigger = runtime.store.subscribe_trigger(
        account_id,
        kind=kind,
        subscription_id=str(subscription_id),
        webhook_url=url,
        integration_id=integration.id,
        input_fields=fields,
    )
    log.info("trigger subscribed", account_id=account_id, kind=kind, subscription_id=trigger.subscription_id)
    return {"webhookId": trigger.subscription_id}


def unsubscribe(runtime: Runtime, account_id: str, body: Any) -> dict[str, Any]:
    payload = body.get("payload") if isinstance(body, dict) else None
    webhook_id = payload.get("webhookId") if isinstance(payload, dict) else None
    if webhook_id is None or str(webhook_id) == "":
        raise ConfigurationError("payload.webhookId is required", field="webhookId")
    removed = runtime.store.unsubscribe_trigger(account_id, str(webhook_id))
    return {"status": "unsubscribed" if removed else "unknown"}


def post(runtime: Runtime, trigger: TriggerRecord, output_fields: dict[str, Any]) -> bool:
    """Invoke one trigger on monday; False (logged) if monday did not take it."""
    settings = runtime.settings.monday_app
    try:
        response = httpx.post(
            trigger.webhook_url,
            json={"trigger": {"outputFields": output_fields}},
            headers={"Authorization": f"Bearer {trigger_jwt(settings, settings.app_id)}"},
            timeout=POST_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        log.warning(
            "trigger not delivered", subscription_id=trigger.subscription_id, error=type(exc).__name__
        )
        return False
    if response.status_code >= 300:
        log.warning("trigger refused", subscription_id=trigger.subscription_id, status=response.status_code)
        return False
    return True


def reverse_run_finished(runtime: Runtime, integration_id: str, account_id: str) -> int:
    """Post the integration's latest finished run to its `reverse_run_finished` subscriptions; how
    many took it. Never raises: a trigger must not fail the run."""
    try:
        found = runtime.store.triggers(REVERSE_RUN_FINISHED, integration_id=integration_id)
        subscribed = [t for t in found if t.account_id == account_id]
        if not subscribed:
            return 0
        runs = runtime.store.list_runs(integration_id, limit=1, account_id=account_id)
        if not runs or runs[0].status == "RUNNING":
            return 0
        run = runs[0]
        metrics = run.metrics or {}
        fields = {
            "integrationId": integration_id,
            "runId": run.id,
            "status": run.status,
            "itemsCreated": int(metrics.get("created") or 0),
            "itemsUpdated": int(metrics.get("updated") or 0),
            "itemsArchived": int(metrics.get("archived") or 0),
            "rowsFailed": run.rows_failed,
            "error": run.error or "",
        }
        return sum(post(runtime, trigger, fields) for trigger in subscribed)
    except Exception as exc:  # the run is done whatever happens here
        log.warning("reverse-run trigger failed", integration_id=integration_id, error=str(exc))
        return 0


def check_query_triggers(runtime: Runtime) -> int:
    """One round of the "query returns new rows" triggers; how many rows were posted."""
    posted = 0
    for trigger in runtime.store.triggers(QUERY_NEW_ROWS):
        try:
            posted += _check(runtime, trigger)
        except MondaySnowflakeError as exc:  # one bad query must not stop the others
            log.warning("query trigger check failed", subscription_id=trigger.subscription_id, error=str(exc))
    return posted


def _check(runtime: Runtime, trigger: TriggerRecord) -> int:
    if trigger.integration_id is None:
        return 0
    try:
        integration = runtime.store.get_integration(trigger.integration_id, account_id=trigger.account_id)
    except NotFoundError:
        return 0
    if integration.paused_at is not None:  # paused means nothing runs, its query neither
        return 0
    query = str(trigger.input_fields.get("query") or "")
    check_read_only(query, "query")
    check_tables_readable(runtime, integration, query)
    warehouse = runtime.open_warehouse(integration.snowflake_connection_id)
    try:
        names, rows = warehouse.query(f"SELECT * FROM ({query}) AS TRIGGER_SOURCE LIMIT {MAX_ROWS_READ}")
    finally:
        warehouse.close()
    seen = list(trigger.state.get("seen") or [])
    known = set(seen)
    keyed = [(_row_key(row), row) for row in rows]
    if not trigger.state.get("baseline"):
        state = {"baseline": True, "seen": _capped(seen + [k for k, _ in keyed if k not in known])}
        runtime.store.save_trigger_state(trigger.id, trigger.version, state)
        return 0
    new: list[tuple[str, tuple[Any, ...]]] = []
    for key, row in keyed:
        if key not in known:
            known.add(key)
            new.append((key, row))
    new = new[:MAX_POSTS_PER_CHECK]
    if not new:
        return 0
    state = {"baseline": True, "seen": _capped(seen + [k for k, _ in new])}
    if not runtime.store.save_trigger_state(trigger.id, trigger.version, state):
        return 0  # another scheduler checked it meanwhile and posts these rows
    return sum(post(runtime, trigger, _row_fields(trigger, names, row)) for _, row in new)


def check_tables_readable(runtime: Runtime, integration: Integration, query: str) -> None:
    """On the server's shared warehouse credentials (the embedded warehouse, or the operator's
    Snowflake role that every account's default integrations load with), a query may read only the
    account's own integration tables: another account's tables are in reach of that role, not theirs.
    An integration on the account's own Snowflake connection reads whatever its role may."""
    store = runtime.store
    config = store.get_connection(integration.snowflake_connection_id).config
    if config.get("owner") == OWNED_BY_ACCOUNT and config.get("mode") == "snowflake":
        return
    own: set[tuple[str, str, str]] = set()
    for other in store.list_integrations(account_id=integration.account_id):
        if other.reverse is None and other.target_table:
            for name in (other.target_table, other.target_table + SUBITEMS_TABLE_SUFFIX):
                own.add((other.target_database.upper(), other.target_schema.upper(), name.upper()))
    database = str(config.get("database") or integration.target_database)
    schema = str(config.get("schema_name") or integration.target_schema)
    for db, sch, name in tables_read(query):
        wanted = ((db or database).upper(), (sch or schema).upper(), name.upper())
        if wanted not in own:
            raise PermissionDeniedError(
                f"query: {'.'.join(wanted)} is not a table of this account's integrations; on the "
                "server's shared warehouse a query trigger reads only those (connect the account's own "
                "Snowflake connection to read others)",
                field="query",
            )


def _row_key(row: tuple[Any, ...]) -> str:
    return hashlib.sha256(json.dumps(list(row), default=str, sort_keys=True).encode()).hexdigest()[:32]


def _capped(keys: list[str]) -> list[str]:
    return keys[-MAX_KEYS_KEPT:]


def _row_fields(trigger: TriggerRecord, names: list[str], row: tuple[Any, ...]) -> dict[str, Any]:
    values = {name: _plain(value) for name, value in zip(names, row, strict=False)}
    return {"subscriptionId": trigger.subscription_id, "row": values, "rowJson": json.dumps(values)}


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)
