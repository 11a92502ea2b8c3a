"""What monday calls on the app: lifecycle events, automation actions and trigger subscriptions.

No API key here. Lifecycle events prove themselves with a JWT signed with the client secret; actions
and subscriptions with one signed with the signing secret whose `aud` is the endpoint's URL and whose
`accountId` names the monday account, which must have installed the app. Everything is done for that
account only: another account's board or integration is "not found", and nothing is touched.

Action and trigger errors are answered the way monday shows them to users (API-FACTS 9.4): a 4xx/5xx
with `severityCode` 4000 (this run failed; the automation stays) or 6000 (it will keep failing: monday
disables the automation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import JSONResponse

from monday_snowflake.api.deps import ServiceDep
from monday_snowflake.app import actions, lifecycle, triggers
from monday_snowflake.app.tokens import AutomationClaims, verify_automation, verify_lifecycle
from monday_snowflake.errors import (
    AlreadyRunningError,
    AuthenticationError,
    ConfigurationError,
    MondaySnowflakeError,
    NotFoundError,
    PermissionDeniedError,
    TransientError,
)
from monday_snowflake.logs import get_logger
from monday_snowflake.service import Service

log = get_logger(__name__)
router = APIRouter(tags=["monday app"])

MEDIUM = 4000
"""This run failed; the automation can run again."""
HIGH = 6000
"""The automation will keep failing; monday disables it."""
TRIGGER_KINDS = {
    "reverse-run-finished": triggers.REVERSE_RUN_FINISHED,
    "query-new-rows": triggers.QUERY_NEW_ROWS,
}
ACTIONS: dict[str, Callable[[Service, actions.ActionRequest], dict[str, Any]]] = {
    "sync-item": actions.sync_item,
    "run-integration": actions.run_integration,
    "write-item": actions.write_item,
}
AuthorizationHeader = Annotated[str | None, Header()]
AnyBody = Annotated[Any, Body()]


@router.post("/events/monday")
def lifecycle_event(
    service: ServiceDep, authorization: AuthorizationHeader = None, body: AnyBody = None
) -> Any:
    """install / uninstall / app_subscription_*: 401 without a valid JWT, 404 for an account that
    never installed the app."""
    verify_lifecycle(service.settings.monday_app, authorization, body)
    return lifecycle.handle_event(service.runtime, body)


@router.post("/monday/actions/{action}")
def run_action(
    action: Literal["sync-item", "run-integration", "write-item"],
    request: Request,
    service: ServiceDep,
    authorization: AuthorizationHeader = None,
    body: AnyBody = None,
) -> JSONResponse:
    """A custom action's Run URL."""
    try:
        account_id, claims = _caller(service, request, authorization)
        done = ACTIONS[action](service, actions.read_request(account_id, claims, body))
    except MondaySnowflakeError as exc:
        return _monday_error(action, exc)
    return JSONResponse(done)


@router.post("/monday/triggers/{kind}/{operation}")
def trigger_subscription(
    kind: Literal["reverse-run-finished", "query-new-rows"],
    operation: Literal["subscribe", "unsubscribe"],
    request: Request,
    service: ServiceDep,
    authorization: AuthorizationHeader = None,
    body: AnyBody = None,
) -> JSONResponse:
    """A custom trigger's Subscribe / Unsubscribe URL."""
    try:
        account_id, _ = _caller(service, request, authorization)
        if operation == "subscribe":
            done = triggers.subscribe(service.runtime, account_id, TRIGGER_KINDS[kind], body)
        else:
            done = triggers.unsubscribe(service.runtime, account_id, body)
    except MondaySnowflakeError as exc:
        return _monday_error(f"{kind} {operation}", exc)
    return JSONResponse(done)


def _caller(service: Service, request: Request, authorization: str | None) -> tuple[str, AutomationClaims]:
    """The account (that installed the app) whose automation sent the request, and the JWT's claims.
    `aud` must be this endpoint's URL: under the public URL when set, else as requested."""
    base = service.settings.public_url or str(request.base_url)
    claims = verify_automation(
        service.settings.monday_app, authorization, base.rstrip("/") + request.url.path
    )
    return service.store.install_of(claims.monday_account_id).account_id, claims


def _monday_error(what: str, exc: MondaySnowflakeError) -> JSONResponse:
    status, severity = 400, HIGH
    if isinstance(exc, AuthenticationError):
        status, severity = 401, MEDIUM
    elif isinstance(exc, PermissionDeniedError):
        status, severity = 403, HIGH
    elif isinstance(exc, NotFoundError):
        status, severity = 404, HIGH if "item_id" not in exc.details else MEDIUM
    elif isinstance(exc, AlreadyRunningError):
        status, severity = 409, MEDIUM
    elif isinstance(exc, TransientError):
        status, severity = 503, MEDIUM
    elif isinstance(exc, ConfigurationError):
        status, severity = 400, HIGH
    else:
        status, severity = 422, MEDIUM
    log.info("automation request refused", what=what, status=status, error=type(exc).__name__)
    message = str(exc)
    return JSONResponse(
        {
            "severityCode": severity,
            "notificationErrorTitle": f"monday-snowflake could not {what.replace('-', ' ')}",
            "notificationErrorDescription": message,
            "runtimeErrorDescription": message,
        },
        status_code=status,
    )
