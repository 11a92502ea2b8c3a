"""Integration settings beyond PATCH: duplicate a recipe, pause and resume an integration.

Paused, an integration runs nothing: the scheduler skips it, "run now" and the scheduled trigger
answer 409, and its webhook events are still stored (monday's deliveries are acknowledged and never
lost) but not applied. Resuming applies them, and the schedule counts again from the moment of resuming.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from monday_snowflake.api.connections import check_integration_target
from monday_snowflake.api.deps import AccountDep, ServiceDep
from monday_snowflake.errors import AlreadyRunningError, ConfigurationError, MondaySnowflakeError
from monday_snowflake.logs import get_logger
from monday_snowflake.model import Integration

router = APIRouter()
log = get_logger(__name__)


class IntegrationPausedError(AlreadyRunningError):
    """A run was asked of a paused integration (409, like a run that is already going)."""

    def __init__(self, integration: Integration) -> None:
        MondaySnowflakeError.__init__(
            self,
            f"integration '{integration.name}' is paused, so not running until resumed "
            f"(POST /integrations/{integration.id}/resume)",
            integration_id=integration.id,
            paused=True,
        )
        self.integration_id = integration.id


def refuse_if_paused(integration: Integration) -> None:
    if integration.paused_at is not None:
        raise IntegrationPausedError(integration)


class DuplicateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    """Default: `<name>-copy` (numbered when taken)."""
    table: str | None = Field(default=None, min_length=1, max_length=255)
    """Default: `<table>_COPY` (numbered when taken in the same schema)."""


@router.post("/integrations/{integration_id}/duplicate", status_code=201, tags=["integrations"])
def duplicate_integration(
    integration_id: str, service: ServiceDep, account: AccountDep, body: DuplicateRequest | None = None
) -> dict[str, Any]:
    """A copy of the recipe under a new name and target table; not its runs, state, webhooks or pause.
    The copy's target is checked like a new integration's."""
    from monday_snowflake.api.routes import _integration_out  # routes imports this module

    body = body or DuplicateRequest()
    store = service.store
    source = store.get_integration(integration_id, account_id=account)
    others = store.list_integrations(account_id=account)
    names = {i.name for i in others}
    if body.name is not None and body.name in names:
        raise ConfigurationError(f"name: an integration named '{body.name}' already exists", field="name")
    name = body.name or _free(f"{source.name}-copy", names, "-")
    table: str | None = None
    if source.reverse is None:
        taken = {
            (i.target_table or "").upper()
            for i in others
            if (i.target_database, i.target_schema) == (source.target_database, source.target_schema)
        }
        if body.table is not None and body.table.upper() in taken:
            raise ConfigurationError(
                f"table: another integration already loads '{body.table}'", field="table"
            )
        table = body.table or _free(f"{source.target_table or 'BOARD_' + source.board_id}_COPY", taken, "_")
        check_integration_target(service.runtime, source)
    elif body.table is not None:
        raise ConfigurationError("table: a reverse sync writes to its board, not to a table", field="table")
    copy_id = store.copy_integration(source.id, account, name=name, target_table=table)
    log.info("integration duplicated", integration_id=source.id, copy_id=copy_id)
    return _integration_out(store.get_integration(copy_id, account_id=account))


@router.post("/integrations/{integration_id}/pause", tags=["integrations"])
def pause_integration(integration_id: str, service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    """Stop scheduled and requested runs and the applying of webhooks (which are still stored)."""
    from monday_snowflake.api.routes import _integration_out  # routes imports this module

    found = service.store.get_integration(integration_id, account_id=account)
    service.store.set_paused(found.id, True, account_id=account)
    log.info("integration paused", integration_id=found.id)
    return _integration_out(service.store.get_integration(found.id, account_id=account))


@router.post("/integrations/{integration_id}/resume", tags=["integrations"])
def resume_integration(integration_id: str, service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    """Run again: webhooks stored while paused are applied, the schedule counts from now."""
    from monday_snowflake.api.routes import _integration_out  # routes imports this module

    found = service.store.get_integration(integration_id, account_id=account)
    service.store.set_paused(found.id, False, account_id=account)
    log.info("integration resumed", integration_id=found.id)
    out = _integration_out(service.store.get_integration(found.id, account_id=account))
    out["pending_events"] = service.store.pending_event_count(found.id)
    return out


def _free(wanted: str, taken: set[str], separator: str) -> str:
    """`wanted`, or `wanted<sep>2`, `<sep>3`... whichever is not in `taken` (compared as given and
    upper-cased, since table names are)."""
    upper = {t.upper() for t in taken}
    candidate, number = wanted, 2
    while candidate in taken or candidate.upper() in upper:
        candidate, number = f"{wanted}{separator}{number}", number + 1
    return candidate
