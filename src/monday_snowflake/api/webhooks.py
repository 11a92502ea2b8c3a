"""`POST /webhooks/monday/{integration_id}`: where monday delivers board events.

No API key here: a delivery proves itself with the integration's URL secret (`?token=`, compared in
constant time) and, for webhooks registered with an app's token, with the JWT monday signs with the
app's signing secret. The event is stored (once per `triggerUuid`, in a group commit with the
deliveries arriving alongside: `realtime/inbox.py`) before the answer goes out, so a 200 means it is
kept; it is applied later, in batches (`realtime/apply.py`).
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated, Any

import jwt
import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from monday_snowflake.api.deps import get_service
from monday_snowflake.errors import AuthenticationError, ConfigurationError
from monday_snowflake.logs import get_logger
from monday_snowflake.model.events import InvalidEventError, parse_event
from monday_snowflake.service import Service
from monday_snowflake.store.realtime import Realtime

log = get_logger(__name__)

router = APIRouter()


@router.post("/webhooks/monday/{integration_id}", tags=["webhooks"])
async def monday_webhook(
    integration_id: str,
    request: Request,
    token: Annotated[str | None, Query(description="The integration's webhook secret.")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Answer monday's challenge, or store one board event; 401 for a wrong secret or signature, 422
    for a body that is not a monday event of this integration's board."""
    service: Service = get_service(request)
    realtime = service.cached_realtime(integration_id)
    if realtime is None:
        realtime = await asyncio.to_thread(service.realtime_of, integration_id)
    _check_secret(realtime, token)
    try:
        body: Any = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise ConfigurationError("the body is not valid JSON") from None
    if isinstance(body, dict) and "challenge" in body:  # an echo: it stores and reveals nothing
        return JSONResponse({"challenge": body["challenge"]})
    if realtime.signed:
        _check_signature(service, realtime, authorization)
    try:
        event = parse_event(body)
    except InvalidEventError as exc:
        raise ConfigurationError(f"not a monday event: {exc}") from None
    if not event.on_board(realtime.board_id):
        raise ConfigurationError(
            f"the event is for board {event.board_id}, not this integration's board {realtime.board_id}"
        )
    if not realtime.enabled or not event.relevant:
        return JSONResponse({"status": "ignored"})
    stored = await service.inbox.add(realtime.integration_id, event)
    return JSONResponse({"status": "stored" if stored else "duplicate"})


def _check_secret(realtime: Realtime, given: str | None) -> None:
    expected = realtime.secret
    if expected is None or given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise AuthenticationError("the webhook URL's token is missing or wrong")


def _check_signature(service: Service, realtime: Realtime, authorization: str | None) -> None:
    secret = service.settings.monday.signing_secret
    if secret is None:
        log.error(
            "signed webhooks arrive but no signing secret is set", integration_id=realtime.integration_id
        )
        raise AuthenticationError("the webhook signature cannot be checked")
    raw = (authorization or "").strip()
    if raw.lower().startswith("bearer "):
        raw = raw[7:].strip()
    try:
        jwt.decode(
            raw,
            secret.get_secret_value(),
            algorithms=["HS256"],
            options={"require": ["exp"], "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise AuthenticationError(f"the webhook signature is not valid: {type(exc).__name__}") from None
