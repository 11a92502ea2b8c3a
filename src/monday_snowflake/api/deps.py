"""What every route shares: the service, the calling account, and errors turned into HTTP answers.

The management API authenticates with an account's API key (`Authorization: Bearer <key>` or
`X-API-Key: <key>`); keys are stored hashed. Every route scopes what it reads and writes to the
caller's account, so another account's integration, run or queue is simply not found (404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

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

_STATUS: tuple[tuple[type[MondaySnowflakeError], int], ...] = (
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (AlreadyRunningError, 409),
    (ConfigurationError, 422),
    (TransientError, 503),
)


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def current_account(
    service: ServiceDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> str:
    """The account whose API key came with the request."""
    key = x_api_key
    if key is None and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise AuthenticationError("an API key is needed: 'Authorization: Bearer <key>' or 'X-API-Key'")
    return service.store.authenticate_api_key(key)


AccountDep = Annotated[str, Depends(current_account)]


def install_error_handlers(app: FastAPI) -> None:
    """The product's errors as JSON `{"error", "code", ...details}` with a fitting status; no traces."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MondaySnowflakeError)
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
        if status == 401:
            log.info("request refused", path=request.url.path, reason="authentication")
        details = {k: v for k, v in exc.details.items() if isinstance(v, str | int | float | bool | list)}
        return JSONResponse({"error": str(exc), "code": type(exc).__name__, **details}, status_code=status)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        """FastAPI's 422 without the `input` it would echo back: a body may hold a token."""
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "field": ".".join(str(part) for part in e.get("loc", ()) if part != "body"),
                "message": e.get("msg"),
            }
            for e in exc.errors()
        ]
        message = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
        return JSONResponse(
            {"error": f"invalid request: {message}", "code": "RequestValidationError", "errors": errors},
            status_code=422,
        )

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        """The state database failed (down, locked, restarting): 503, so callers such as monday's
        webhook retries try again; nothing was acknowledged."""
        log.warning("state database unavailable", path=request.url.path, error=type(exc).__name__)
        return JSONResponse(
            {"error": "the state database is unavailable; try again", "code": "StateStoreUnavailable"},
            status_code=503,
        )

    app.add_exception_handler(MondaySnowflakeError, handle)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(OperationalError, unavailable)
