"""The management API's routes. Every route but health, readiness and metrics needs an API key, and
reads and writes only the key's account: another account's things answer 404."""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from monday_snowflake.api.connections import check_integration_target, check_target_privileges
from monday_snowflake.api.deps import AccountDep, ServiceDep
from monday_snowflake.api.settings import refuse_if_paused
from monday_snowflake.app.oauth import monday_credentials
from monday_snowflake.errors import (
    AuthenticationError,
    ConfigurationError,
    MondaySnowflakeError,
    NotFoundError,
)
from monday_snowflake.integrations import check_display_errors_column, create_integration, read_board
from monday_snowflake.logs import get_logger
from monday_snowflake.model import ColumnMapping, Integration, IntegrationOptions, ReverseSpec
from monday_snowflake.realtime import hooks as realtime_hooks
from monday_snowflake.schedule import describe, parse_schedule
from monday_snowflake.store.records import RunRecord
from monday_snowflake.sync.layout import check_mapping

router = APIRouter()
log = get_logger(__name__)


# -- bodies ------------------------------------------------------------------------------------------


class OptionsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_subitems: bool = False
    keep_dropdown_ids: bool = False
    keep_labels: bool = False
    on_delete: Literal["delete", "soft_delete"] = "delete"
    on_rename: Literal["keep", "rename"] = "keep"
    reconcile_every_hours: float = Field(default=24.0, ge=0)
    display_errors_column: str | None = Field(default=None, min_length=1, max_length=255)
    """A long-text column where real-time sync shows why an item could not be synced."""
    exclude_columns: list[str] = Field(default_factory=list)
    """Column ids never copied (also settable as the integration's top-level `exclude_columns`)."""


class ReverseBody(BaseModel):
    """Reverse sync: Snowflake rows -> items of the board."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=100_000)
    """A table name or one SELECT."""
    filter: str | None = Field(default=None, min_length=1, max_length=10_000)
    key_column: str = Field(min_length=1, max_length=255)
    key_target: str = Field(min_length=1, max_length=255)
    """A monday column id, `name` or `item_id`."""
    mapping: dict[str, str] = Field(default_factory=dict)
    """Snowflake column -> monday column id (or `name`)."""
    group_id: str | None = Field(default=None, min_length=1, max_length=255)
    create_missing: bool = True
    update_existing: bool = True
    archive_missing: bool = False
    create_columns: bool = False

    def spec(self) -> ReverseSpec:
        return ReverseSpec(**self.model_dump())


class ColumnBody(BaseModel):
    """One copied column, with the warehouse column name it goes to (checked when saved)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=255)
    target: str | None = None


class IntegrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    board_id: str = Field(min_length=1, max_length=64, pattern=r"^\d+$")
    name: str | None = Field(default=None, min_length=1, max_length=255)
    monday_token: SecretStr | None = None
    """Write-only; stored encrypted, never returned. Default: the server's configured token."""
    monday_api_url: str | None = None
    monday_connection_id: str | None = None
    """A stored monday connection of the account. Default: the account's monday app install, else
    the server's token (`monday_token` wins over both)."""
    snowflake_connection_id: str | None = None
    """A stored Snowflake connection of the account (POST /connections/snowflake); its database and
    schema are the defaults. Default: the server's warehouse."""
    database: str | None = None
    schema_name: str | None = None
    table: str | None = None
    columns: list[str | ColumnBody] | None = None
    """The columns copied (default: all), as ids or `{"id", "target"}` to choose the warehouse name."""
    exclude_columns: list[str] | None = None
    """Column ids never copied; with no `columns`, every other column is."""
    primary_key: str = "item_id"
    options: OptionsBody = Field(default_factory=OptionsBody)
    schedule: dict[str, Any] | None = None
    sync_mode: Literal["incremental", "full"] = "incremental"
    reverse: ReverseBody | None = None
    """Set to make this a reverse sync: the source's rows are written to the board's items."""


class IntegrationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    table: str | None = None
    options: OptionsBody | None = None
    schedule: dict[str, Any] | None = None
    sync_mode: Literal["incremental", "full"] | None = None
    columns: list[str | ColumnBody] | None = None
    """Replaces the copied columns (`null` or `[]`: all); checked against the board as on create."""
    exclude_columns: list[str] | None = None
    """Replaces the excluded column ids."""


class RealtimeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool
    signed: bool = False
    """Whether the integration's monday token is an app's token, whose webhooks carry a signed JWT."""


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full: bool = False


class BatchRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    integration_ids: list[str] = Field(min_length=1, max_length=1000)
    full: bool = False


# -- integrations ---------------------------------------------------------------------------------


@router.post("/integrations", status_code=201, tags=["integrations"])
def create(body: IntegrationCreate, service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    """Check the board on monday, store the credentials encrypted, save the recipe."""
    schedule = _checked_schedule(service, body.schedule)
    if body.reverse is None:  # the target schema, checked as POST /connections/{id}/test does
        connection = body.snowflake_connection_id
        stored = service.store.get_connection(connection, account_id=account).config if connection else {}
        snowflake = service.settings.snowflake
        database = body.database or stored.get("database") or snowflake.database
        schema = body.schema_name or stored.get("schema_name") or snowflake.schema_name
        check_target_privileges(service.runtime, connection, account, database, schema)
    integration = create_integration(
        service.runtime,
        board_id=body.board_id,
        name=body.name,
        monday_token=body.monday_token.get_secret_value() if body.monday_token else None,
        monday_url=body.monday_api_url,
        table=body.table,
        database=body.database,
        schema=body.schema_name,
        column_ids=_column_mapping(body.columns),
        exclude_columns=body.exclude_columns or (),
        primary_key=body.primary_key,
        options=IntegrationOptions(**body.options.model_dump()),
        sync_mode=body.sync_mode,
        schedule=schedule,
        account_id=account,
        reverse=body.reverse.spec() if body.reverse is not None else None,
        monday_connection_id=body.monday_connection_id,
        snowflake_connection_id=body.snowflake_connection_id,
    )
    return _integration_out(integration)


@router.get("/integrations", tags=["integrations"])
def list_integrations(service: ServiceDep, account: AccountDep) -> list[dict[str, Any]]:
    return [_integration_out(i) for i in service.store.list_integrations(account_id=account)]


@router.get("/integrations/{integration_id}", tags=["integrations"])
def get_integration(integration_id: str, service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    return _integration_out(service.store.get_integration(integration_id, account_id=account))


@router.patch("/integrations/{integration_id}", tags=["integrations"])
def patch_integration(
    integration_id: str, body: IntegrationPatch, service: ServiceDep, account: AccountDep
) -> dict[str, Any]:
    """Change what is given (options: only the options given); `"schedule": null` stops scheduled runs."""
    given = body.model_fields_set
    changes: dict[str, Any] = {}
    if "name" in given and body.name:
        changes["name"] = body.name
    if "table" in given:
        changes["target_table"] = body.table
    found = service.store.get_integration(integration_id, account_id=account)
    if "table" in given and body.table != found.target_table and found.reverse is None:
        check_integration_target(service.runtime, found)
    if "options" in given and body.options is not None:  # only the options given change
        merged = {**dataclasses.asdict(found.options), **body.options.model_dump(exclude_unset=True)}
        changes["options"] = IntegrationOptions(**merged)
        if changes["options"].display_errors_column not in (None, found.options.display_errors_column):
            _check_display_errors_column(service, found, changes["options"])
    if "schedule" in given:
        changes["schedule"] = _checked_schedule(service, body.schedule)
    if "sync_mode" in given and body.sync_mode:
        changes["sync_mode"] = body.sync_mode
    options = changes.get("options", found.options)
    if given & {"columns", "exclude_columns"} or options.exclude_columns != found.options.exclude_columns:
        # the new mapping, checked against the board as it is now
        columns = tuple(_column_mapping(body.columns)) if "columns" in given else found.columns
        if "exclude_columns" in given:
            excluded = tuple(dict.fromkeys(body.exclude_columns or ()))
            options = changes["options"] = dataclasses.replace(options, exclude_columns=excluded)
        _check_mapping(service, found, columns, options)
        if "columns" in given:
            changes["columns"] = columns
    return _integration_out(service.store.update_integration(found.id, account_id=account, **changes))


@router.delete("/integrations/{integration_id}", status_code=204, tags=["integrations"])
def delete_integration(integration_id: str, service: ServiceDep, account: AccountDep) -> Response:
    """Remove the recipe, its history, its webhooks on monday and the credentials only it used; the
    tables stay."""
    integration = service.store.get_integration(integration_id, account_id=account)
    if service.store.realtime(integration.id).webhooks:
        try:
            realtime_hooks.disable(service.runtime, integration)
        except MondaySnowflakeError as exc:  # the integration goes anyway; its deliveries will 404
            log.warning("webhooks not removed from monday", integration_id=integration.id, error=str(exc))
    service.store.delete_integration(integration.id, account_id=account)
    service.forget_realtime(integration.id)
    return Response(status_code=204)


# -- real time ------------------------------------------------------------------------------------


@router.put("/integrations/{integration_id}/realtime", tags=["realtime"])
def set_realtime(
    integration_id: str, body: RealtimeRequest, service: ServiceDep, account: AccountDep
) -> dict[str, Any]:
    """Switch real-time sync on (registers the board's webhooks; again re-registers them) or off
    (removes them). The first load runs first when the table was never loaded."""
    integration = service.store.get_integration(integration_id, account_id=account)
    if body.enabled and integration.reverse is not None:
        raise ConfigurationError(
            "real-time sync follows a board into a table; this integration writes a table to its board",
            field="enabled",
        )
    if body.enabled:
        realtime_hooks.enable(service.runtime, integration, signed=body.signed)
        if service.store.last_success(integration.id) is None:
            service.enqueue_realtime_sync(integration, "realtime-first-load")
    else:
        realtime_hooks.disable(service.runtime, integration)
    service.forget_realtime(integration.id)
    return _realtime_out(service, integration.id, account)


@router.get("/integrations/{integration_id}/realtime", tags=["realtime"])
def get_realtime(integration_id: str, service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    """Whether real-time is on, its webhooks on monday, and how many events wait to be applied."""
    integration = service.store.get_integration(integration_id, account_id=account)
    return _realtime_out(service, integration.id, account)


# -- runs -----------------------------------------------------------------------------------------


@router.post("/integrations/{integration_id}/runs", status_code=202, tags=["runs"])
def run_now(
    integration_id: str, service: ServiceDep, account: AccountDep, body: RunRequest | None = None
) -> dict[str, Any]:
    """Queue a run now: 202 with the id the run will be recorded under; 409 if one is running or queued."""
    integration = service.store.get_integration(integration_id, account_id=account)
    refuse_if_paused(integration)
    queued = service.enqueue_run(integration, full=bool(body and body.full))
    return {"run_id": queued.run_id, "task_id": queued.task.id, "status": "QUEUED"}


@router.get("/integrations/{integration_id}/runs", tags=["runs"])
def list_runs(
    integration_id: str,
    service: ServiceDep,
    account: AccountDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    runs = service.store.list_runs(integration_id, limit=limit, offset=offset, account_id=account)
    return {"runs": [_run_out(r, subtasks=False) for r in runs], "limit": limit, "offset": offset}


@router.get("/runs/{run_id}", tags=["runs"])
def get_run(run_id: str, service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    return _run_out(service.store.get_run(run_id, account_id=account), subtasks=True)


@router.post("/batch/runs", tags=["runs"])
def batch_runs(body: BatchRunRequest, service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    """Queue runs of many integrations; one result per integration, in the order given."""
    results: list[dict[str, Any]] = []
    for integration_id in body.integration_ids:
        try:
            integration = service.store.get_integration(integration_id, account_id=account)
            refuse_if_paused(integration)
            queued = service.enqueue_run(integration, full=body.full, reason="batch")
            results.append({"integration_id": integration_id, "status": 202, "run_id": queued.run_id})
        except MondaySnowflakeError as exc:
            status = 404 if isinstance(exc, NotFoundError) else 409 if "running" in str(exc) else 422
            results.append({"integration_id": integration_id, "status": status, "error": str(exc)})
    return {"results": results}


@router.post("/triggers/scheduled/{integration_id}", status_code=202, tags=["runs"])
def scheduled_trigger(
    integration_id: str, service: ServiceDep, authorization: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    """For an external scheduler (Cloud Scheduler): a bearer secret from the settings instead of an
    API key. A trigger for a run that is already queued or running is answered 409."""
    secret = service.settings.scheduler_secret
    given = authorization[7:].strip() if authorization and authorization.lower().startswith("bearer ") else ""
    if secret is None or not hmac.compare_digest(given.encode(), secret.get_secret_value().encode()):
        raise AuthenticationError("the scheduled-trigger secret is missing or wrong")
    integration = service.store.get_integration(integration_id)
    refuse_if_paused(integration)
    queued = service.enqueue_run(integration, reason="trigger")
    return {"run_id": queued.run_id, "task_id": queued.task.id, "status": "QUEUED"}


# -- queues ---------------------------------------------------------------------------------------


@router.get("/queues/{account_id}", tags=["queues"])
def queue_stats(account_id: str, service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    _same_account(account_id, account)
    return dataclasses.asdict(service.queue.stats(account))


@router.post("/queues/{account_id}/pause", tags=["queues"])
def pause_queue(account_id: str, service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    """Stop running this account's tasks; they stay queued."""
    _same_account(account_id, account)
    return dataclasses.asdict(service.queue.pause(account))


@router.post("/queues/{account_id}/resume", tags=["queues"])
def resume_queue(account_id: str, service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    _same_account(account_id, account)
    return dataclasses.asdict(service.queue.resume(account))


# -- helpers --------------------------------------------------------------------------------------


def _same_account(asked: str, caller: str) -> None:
    if asked != caller:  # another account's queue does not exist, as far as this caller knows
        raise NotFoundError(f"queue '{asked}' not found")


def _checked_schedule(service: ServiceDep, raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    schedule = parse_schedule(raw, min_interval_hours=service.settings.min_schedule_interval_hours)
    return schedule.model_dump(mode="json")


def _integration_out(integration: Integration) -> dict[str, Any]:
    out = dataclasses.asdict(integration)
    out.pop("monday_connection_id", None)
    out.pop("snowflake_connection_id", None)
    if integration.schedule:
        out["next_run"] = describe(
            parse_schedule(integration.schedule, min_interval_hours=0), datetime.now(UTC)
        )
    return out


def _column_mapping(columns: list[str | ColumnBody] | None) -> list[ColumnMapping]:
    return [ColumnMapping(c) if isinstance(c, str) else ColumnMapping(c.id, c.target) for c in columns or ()]


def _check_mapping(
    service: ServiceDep, found: Integration, columns: tuple[ColumnMapping, ...], options: IntegrationOptions
) -> None:
    token, api_url = monday_credentials(service.settings, service.store, found.monday_connection_id)
    board = asyncio.run(read_board(service.runtime, token, api_url, found.board_id))
    check_mapping(board, columns, options.exclude_columns, primary_key=found.primary_key)
    check_display_errors_column(board, options, [c.column_id for c in columns])


def _check_display_errors_column(
    service: ServiceDep, found: Integration, options: IntegrationOptions
) -> None:
    token, api_url = monday_credentials(service.settings, service.store, found.monday_connection_id)
    board = asyncio.run(read_board(service.runtime, token, api_url, found.board_id))
    check_display_errors_column(board, options, [c.column_id for c in found.columns])


def _realtime_out(service: ServiceDep, integration_id: str, account: str) -> dict[str, Any]:
    realtime = service.store.realtime(integration_id, account_id=account)
    return {
        "enabled": realtime.enabled,
        "signed": realtime.signed,
        "webhooks": list(realtime.webhooks),
        "pending_events": service.store.pending_event_count(integration_id),
    }


def _run_out(run: RunRecord, *, subtasks: bool) -> dict[str, Any]:
    out = dataclasses.asdict(run)
    if not subtasks:
        out.pop("subtasks", None)
    return out
