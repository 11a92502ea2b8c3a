"""The sandbox's ASGI app: `POST /v2` (monday's GraphQL API), OAuth, and the `/sandbox/` admin API."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
from fastapi import FastAPI
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from monday_sandbox import persistence
from monday_sandbox.errors import RequestRejectedError
from monday_sandbox.faults import FaultBook
from monday_sandbox.idempotency import IdempotencyCache, StoredResponse
from monday_sandbox.oauth import OAuthStore, oauth_router
from monday_sandbox.service import Answer, GraphQLService, error_body, resolve_version, token_from_header
from monday_sandbox.state import Sandbox
from monday_sandbox.webhooks import WebhookService

log = logging.getLogger(__name__)

INTERNAL_ERROR = {"error_message": "Internal server error", "status_code": 500}
FAULT_BODIES = {
    "500": (500, INTERNAL_ERROR),
    "502": (502, {"error_message": "Bad Gateway", "status_code": 502}),
    "429": (429, error_body("Rate Limit Exceeded", "RATE_LIMIT_EXCEEDED", 429, retry_in_seconds=1)),
}


@dataclass
class Runtime:
    """Everything one running sandbox app owns besides the data."""

    sandbox: Sandbox
    service: GraphQLService
    webhooks: WebhookService
    faults: FaultBook
    idempotency: IdempotencyCache
    oauth: OAuthStore
    state_file: Path | None = None

    def save(self) -> None:
        if self.state_file is not None:
            with self.sandbox.lock:
                persistence.save(self.sandbox, self.state_file)

    def close(self) -> None:
        self.save()
        self.webhooks.stop()


class GraphQLEndpoint:
    """`POST /v2` as a raw ASGI app, so a fault can drop the connection without an answer."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body = await _read_body(receive)
        token_value = token_from_header(headers.get("authorization"))
        failure = self.runtime.faults.take_failure(token_value)
        if failure == "drop":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"data":', "more_body": True})
            return  # the server closes the connection: the response is incomplete
        version = "2026-10"
        try:
            if failure is not None:
                status, payload = FAULT_BODIES[failure]
                extra = {"Retry-After": "1"} if failure == "429" else {}
                answer = Answer(status, payload, extra)
            else:
                answer, version = await self._handle(headers, body, token_value)
        except Exception:
            log.exception("sandbox /v2 failed")
            answer = Answer(500, dict(INTERNAL_ERROR))
        await _send(send, answer, version)

    async def _handle(
        self, headers: dict[str, str], body: bytes, token_value: str | None
    ) -> tuple[Answer, str]:
        service = self.runtime.service
        version = "2026-10"
        key = headers.get("idempotency-key")
        claimed = False
        token = None
        try:
            token = service.authenticate(token_value)
            version = resolve_version(headers.get("api-version"))
            try:
                payload = json.loads(body) if body.strip() else None
            except ValueError:
                raise RequestRejectedError(
                    400, error_body("Syntax error in JSON input", "JsonParseException", 400)
                ) from None
            compiled, operation, variables = service.compile(payload)
            if key and operation.operation.value == "mutation":
                began = self.runtime.idempotency.begin(token.value, key)
                if isinstance(began, StoredResponse):
                    replay = Answer(
                        began.status,
                        json.loads(began.body),
                        {**began.headers, "Idempotency-Replayed": "true"},
                    )
                    return replay, version
                if began is False:
                    return Answer(
                        409,
                        error_body(
                            "A request with this Idempotency-Key is already in progress",
                            "IDEMPOTENCY_CONFLICT",
                            409,
                        ),
                        {"Retry-After": "1"},
                    ), version
                claimed = True
            latency = self.runtime.faults.latency_ms(token.value)
            if latency:
                await asyncio.sleep(latency / 1000)
            answer = await anyio.to_thread.run_sync(
                service.run, token, version, compiled, operation, variables
            )
            if operation.operation.value == "mutation" and self.runtime.state_file is not None:
                await anyio.to_thread.run_sync(self.runtime.save)
        except RequestRejectedError as rejected:
            answer = Answer(rejected.http_status, rejected.body, rejected.headers)
        except BaseException:
            if claimed and token is not None and key:
                self.runtime.idempotency.finish(token.value, key, None)
            raise
        if claimed and token is not None and key:
            stored = StoredResponse(answer.status, answer.encode(), dict(answer.headers))
            # a throttled (429) or failed (5xx) request ran nothing: its retry must be able to run
            kept = stored if answer.status < 500 and answer.status != 429 else None
            self.runtime.idempotency.finish(token.value, key, kept)
        return answer, version


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _send(send: Send, answer: Answer, version: str) -> None:
    payload = answer.encode()
    headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(payload)).encode()),
        (b"api-version", version.encode()),
    ]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def create_app(
    sandbox: Sandbox,
    *,
    state_file: str | Path | None = None,
    webhook_client: httpx.Client | None = None,
    deliver_in_background: bool = True,
) -> FastAPI:
    """Build the app around `sandbox`. `app.state.runtime` exposes the parts (webhooks, faults...)."""
    from monday_sandbox.admin import admin_router

    path = Path(state_file) if state_file else None
    webhooks = WebhookService(sandbox, client=webhook_client, background=deliver_in_background)
    faults = FaultBook()
    runtime = Runtime(
        sandbox=sandbox,
        service=GraphQLService(sandbox, webhooks, faults),
        webhooks=webhooks,
        faults=faults,
        idempotency=IdempotencyCache(sandbox.clock),
        oauth=OAuthStore(sandbox),
        state_file=path,
    )
    app = FastAPI(title="monday sandbox", docs_url="/sandbox/docs", openapi_url="/sandbox/openapi.json")
    app.state.runtime = runtime
    app.router.routes.append(Route("/v2", endpoint=GraphQLEndpoint(runtime), methods=["POST"]))
    app.include_router(oauth_router(runtime.oauth))
    app.include_router(admin_router(runtime))
    return app


def runtime_of(app: Any) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime
