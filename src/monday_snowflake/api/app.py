"""The FastAPI app of `monday-snowflake serve`, with the workers and the scheduler in-process unless
told otherwise (`serve --no-worker`: the API alone; `worker`: workers and scheduler alone)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import text
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from monday_snowflake.api.alerts import router as alerts_router
from monday_snowflake.api.connections import router as connections_router
from monday_snowflake.api.deps import get_service, install_error_handlers
from monday_snowflake.api.monday_app import router as monday_app_router
from monday_snowflake.api.oauth import router as oauth_router
from monday_snowflake.api.routes import router
from monday_snowflake.api.settings import router as settings_router
from monday_snowflake.api.webhooks import router as webhooks_router
from monday_snowflake.logs import get_logger
from monday_snowflake.metrics import OpenAlertsCollector, process_registry
from monday_snowflake.service import Service

log = get_logger(__name__)

MAX_BODY_BYTES = 1_048_576


def create_app(service: Service, *, run_worker: bool = True, run_scheduler: bool = True) -> FastAPI:
    """The API over `service`; with `run_worker` / `run_scheduler` the app also runs tasks and ticks
    the scheduler for as long as it serves."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        background = []
        if run_worker:
            background.append(asyncio.create_task(service.worker().run(stop)))
            background.append(asyncio.create_task(service.run_realtime(stop)))
        if run_scheduler:
            background.append(asyncio.create_task(service.run_scheduler(stop)))
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*background, return_exceptions=True)

    app = FastAPI(
        title="monday-snowflake",
        summary="Keeps monday.com boards and Snowflake tables in sync.",
        lifespan=lifespan,
    )
    app.state.service = service
    install_error_handlers(app)
    app.add_middleware(_LimitBody)
    app.include_router(router)
    app.include_router(webhooks_router)
    app.include_router(oauth_router)
    app.include_router(monday_app_router)
    app.include_router(connections_router)
    app.include_router(settings_router)
    app.include_router(alerts_router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz(request: Request) -> JSONResponse:
        """Ready when the state database answers."""
        try:
            with get_service(request).store.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means not ready; say why without a trace
            return JSONResponse({"status": "unavailable", "error": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ready"})

    registry = metrics_registry(service)

    @app.get("/metrics", tags=["health"])
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def metrics_registry(service: Service) -> CollectorRegistry:
    """This process's counters and the queue and run gauges read from the state database."""
    registry = process_registry()
    registry.register(_QueueCollector(service))
    registry.register(OpenAlertsCollector(service.store.open_alert_counts))
    return registry


class _LimitBody:
    """413 for a body over 1 MB, before anything reads it; a body without a length (chunked) is
    refused with 411, since its size is only known once it has all been read. Plain ASGI, so every
    request (a webhook burst is thousands a second) pays nothing beyond a header lookup."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = _body_refusal(Headers(scope=scope))
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _body_refusal(headers: Headers) -> JSONResponse | None:
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        return JSONResponse(
            {"error": f"request body is {int(length):,} bytes; at most 1 MB is accepted", "code": "TooLarge"},
            status_code=413,
        )
    if length is None and "chunked" in headers.get("transfer-encoding", "").lower():
        return JSONResponse(
            {
                "error": "send the body with a Content-Length (chunked bodies are refused)",
                "code": "LengthRequired",
            },
            status_code=411,
        )
    return None


class _QueueCollector:
    """Queue depth, running and failed tasks per account, and runs by status, read at each scrape."""

    def __init__(self, service: Service) -> None:
        self._service = service

    def collect(self) -> Any:
        depth = GaugeMetricFamily("monday_snowflake_queue_depth", "Tasks waiting", labels=["account"])
        running = GaugeMetricFamily("monday_snowflake_queue_running", "Tasks running", labels=["account"])
        failed = GaugeMetricFamily(
            "monday_snowflake_queue_failed", "Tasks failed for good", labels=["account"]
        )
        paused = GaugeMetricFamily("monday_snowflake_queue_paused", "1 if paused", labels=["account"])
        for account_id in self._service.store.account_ids():
            stats = self._service.queue.stats(account_id)
            depth.add_metric([account_id], stats.depth)
            running.add_metric([account_id], stats.running)
            failed.add_metric([account_id], stats.failed)
            paused.add_metric([account_id], 1 if stats.paused else 0)
        runs = GaugeMetricFamily(
            "monday_snowflake_runs", "Runs in the last hour by status", labels=["status"]
        )
        rows = GaugeMetricFamily(
            "monday_snowflake_rows_per_second", "Mean throughput of runs in the last hour"
        )
        duration = GaugeMetricFamily("monday_snowflake_run_seconds", "Mean duration of runs in the last hour")
        summary = self._service.store.recent_run_summary()
        for status, count in summary["by_status"].items():
            runs.add_metric([status], count)
        rows.add_metric([], summary["mean_throughput"])
        duration.add_metric([], summary["mean_seconds"])
        yield from (depth, running, failed, paused, runs, rows, duration)
