"""monday's app lifecycle webhooks (API-FACTS 9.3): install, uninstall and subscription events.

- `install` creates the account of the monday account (or updates it) and its installing user.
- `uninstall` keeps the GDPR promise: the webhooks the account's integrations registered on monday
  are removed first (while their tokens still exist), its warehouse tables are dropped if it chose
  so at install, then every row of the account in every table of the state store is deleted.
- subscription events are recorded and set the account's `monday_subscription` feature flag: on
  while the subscription (or trial) runs, off once it has ended; its value is the subscription.
"""

from __future__ import annotations

from typing import Any

from monday_snowflake.errors import ConfigurationError, MondaySnowflakeError
from monday_snowflake.logs import get_logger
from monday_snowflake.model import Integration, TableRef
from monday_snowflake.realtime import hooks as realtime_hooks
from monday_snowflake.runtime import Runtime
from monday_snowflake.snowflake.sql import table_ref
from monday_snowflake.store.app import InstallRecord
from monday_snowflake.sync.layout import SUBITEMS_TABLE_SUFFIX

log = get_logger(__name__)

SUBSCRIPTION_FLAG = "monday_subscription"
ACTIVE_AFTER = frozenset(
    {
        "app_subscription_created",
        "app_subscription_changed",
        "app_subscription_renewed",
        "app_subscription_cancelled_by_user",  # cancelled at the end of the period: still paid for now
        "app_subscription_cancellation_revoked_by_user",
        "app_subscription_renewal_attempt_failed",  # monday tries again: still running
        "app_trial_subscription_started",
        "app_subscription_pricing_version_change_scheduled",
    }
)
ENDED_AFTER = frozenset(
    {"app_subscription_cancelled", "app_subscription_renewal_failed", "app_trial_subscription_ended"}
)
EVENT_TYPES = frozenset({"install", "uninstall"}) | ACTIVE_AFTER | ENDED_AFTER


def handle_event(runtime: Runtime, body: Any) -> dict[str, Any]:
    """Apply one lifecycle event (its JWT already checked); what was done, for the answer."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise ConfigurationError("a lifecycle event is {type, data: {...}}")
    event_type, data = str(body.get("type") or ""), body["data"]
    if event_type not in EVENT_TYPES:
        raise ConfigurationError(f"unknown lifecycle event type {event_type!r}", field="type")
    if data.get("account_id") in (None, ""):
        raise ConfigurationError("the event names no account_id", field="data.account_id")
    monday_account = str(data["account_id"])
    store = runtime.store
    if event_type == "install":
        install = store.record_install(
            monday_account,
            account_name=str(data.get("account_name") or data.get("account_slug") or monday_account),
            user_email=data.get("user_email"),
            user_name=data.get("user_name"),
            monday_user_id=None if data.get("user_id") is None else str(data["user_id"]),
            subscription=data.get("subscription") if isinstance(data.get("subscription"), dict) else None,
        )
        store.record_app_event(install.account_id, event_type, _kept(data))
        return {"status": "installed", "account_id": install.account_id}
    install = store.install_of(monday_account)  # NotFoundError (404) for an account we never saw
    if event_type == "uninstall":
        return {"status": "uninstalled", **uninstall(runtime, install)}
    subscription = data.get("subscription") if isinstance(data.get("subscription"), dict) else None
    store.record_app_event(install.account_id, event_type, _kept(data))
    store.set_app_subscription(install.account_id, subscription)
    active = event_type in ACTIVE_AFTER
    store.set_flag(
        SUBSCRIPTION_FLAG,
        active,
        {"event": event_type, **(subscription or {})},
        account_id=install.account_id,
    )
    return {"status": "recorded", "account_id": install.account_id, "subscription_active": active}


def uninstall(runtime: Runtime, install: InstallRecord) -> dict[str, Any]:
    """Remove everything of the account: monday webhooks, warehouse tables if chosen, state rows."""
    store = runtime.store
    account_id = install.account_id
    integrations = store.list_integrations(account_id=account_id)
    webhooks_removed = sum(_remove_webhooks(runtime, i) for i in integrations)
    dropped = _drop_tables(runtime, integrations) if install.drop_tables_on_uninstall else []
    deleted = store.purge_account(account_id)
    log.info("monday app uninstalled", account_id=account_id, rows=sum(deleted.values()))
    return {"webhooks_removed": webhooks_removed, "tables_dropped": dropped, "rows_deleted": deleted}


def _remove_webhooks(runtime: Runtime, integration: Integration) -> int:
    webhooks = runtime.store.realtime(integration.id).webhooks
    if not webhooks:
        return 0
    try:
        realtime_hooks.disable(runtime, integration)
    except MondaySnowflakeError as exc:  # the data goes anyway; monday's deliveries will then 401
        log.warning("webhooks not removed from monday", integration_id=integration.id, error=str(exc))
        return 0
    return len(webhooks)


def _drop_tables(runtime: Runtime, integrations: list[Integration]) -> list[str]:
    """Drop the tables the account's board -> table integrations load (and their subitems tables).
    Tables a reverse sync reads belong to the customer and stay."""
    dropped: list[str] = []
    for integration in integrations:
        if integration.reverse is not None or not integration.target_table:
            continue
        main = TableRef(integration.target_database, integration.target_schema, integration.target_table)
        subitems = TableRef(main.database, main.schema, main.name + SUBITEMS_TABLE_SUFFIX)
        try:
            warehouse = runtime.open_warehouse(integration.snowflake_connection_id)
        except MondaySnowflakeError as exc:
            log.warning("warehouse tables not dropped", integration_id=integration.id, error=str(exc))
            continue
        try:
            for table in (main, subitems):
                warehouse.query(f"DROP TABLE IF EXISTS {table_ref(table)}")
                dropped.append(f"{table.database}.{table.schema}.{table.name}")
        except MondaySnowflakeError as exc:
            log.warning("warehouse tables not dropped", integration_id=integration.id, error=str(exc))
        finally:
            warehouse.close()
    return dropped


def _kept(data: dict[str, Any]) -> dict[str, Any]:
    """What an event's history keeps: no e-mail or name (they live on the user row, deleted with it)."""
    return {k: v for k, v in data.items() if k not in ("user_email", "user_name")}
