"""What the benchmarks share: a seeded sandbox, a runtime on a fresh data directory, recorded pages."""

from __future__ import annotations

import asyncio
import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from monday_sandbox.data import SandboxSettings
from monday_sandbox.generator import seed_account
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox
from monday_snowflake.monday.client import MondayClient
from monday_snowflake.runtime import Runtime
from monday_snowflake.settings import MondaySettings, Settings

TOKEN = "bench-token"
COLUMNS = [  # 20 columns of mixed types
    "status", "people", "date", "numbers", "text", "long_text", "dropdown", "timeline", "checkbox",
    "email", "phone", "link", "location", "tags", "country", "rating", "board_relation", "creation_log",
    "last_updated", "formula",
]  # fmt: skip
SEEDED_AGO_SECONDS = 7 * 86_400
UNLIMITED_BUDGET = 10**15


def header() -> None:
    print(
        f"# {time.strftime('%Y-%m-%d')} {platform.machine()} {os.cpu_count()} cores, "
        f"python {platform.python_version()}"
    )


def build_board(
    items: int, *, subitems: int = 0, seed: int = 7, budget: int | None = None
) -> tuple[Sandbox, str]:
    """A generated board whose items were last updated a week ago, as on a board in daily use.

    `budget`: complexity points per minute (monday's 10M a minute for a personal token by default);
    a bench that records pages to replay them raises it, or the replay would wait out monday's
    budget again instead of measuring our pipeline."""
    started = time.perf_counter()
    sandbox = Sandbox(settings=SandboxSettings(complexity_budget=budget)) if budget else Sandbox()
    sandbox.clock.advance(-SEEDED_AGO_SECONDS)
    board = seed_account(sandbox, boards=1, items=items, subitems=subitems, seed=seed)[0]
    sandbox.clock.advance(SEEDED_AGO_SECONDS)
    sandbox.add_token(TOKEN)
    print(f"seeded {items:,} items ({subitems} subitems each) in {time.perf_counter() - started:.1f} s")
    return sandbox, str(board.id)


@contextmanager
def served_runtime(sandbox: Sandbox, data_dir: Path) -> Iterator[tuple[Runtime, str]]:
    """The sandbox on 127.0.0.1 and a product runtime pointed at it; yields (runtime, api url)."""
    with SandboxServer(sandbox) as server:
        api_url = f"{server.url}/v2"
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=data_dir,
            secret_key=Fernet.generate_key().decode(),
            monday=MondaySettings(api_url=api_url),
        )
        runtime = Runtime(settings)
        try:
            yield runtime, api_url
        finally:
            runtime.close()


def run_once(runtime: Runtime, integration_id: str, *, full: bool) -> tuple[float, Any]:
    started = time.perf_counter()
    result = asyncio.run(runtime.replicator().replicate(integration_id, full=full))
    return time.perf_counter() - started, result


class Recorder(httpx.AsyncBaseTransport):
    """Passes requests through to the sandbox and keeps each answer, keyed by the request body."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.pages: dict[bytes, bytes] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.content
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        self.pages[body] = content
        return httpx.Response(response.status_code, headers=response.headers, content=content)


def replay(pages: dict[bytes, bytes]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=pages[request.content], headers={"content-type": "application/json"}
        )

    return httpx.MockTransport(answer)


def use_transport(runtime: Runtime, transport: httpx.AsyncBaseTransport | None) -> None:
    """Route the runtime's monday client through `transport` (None: the network again)."""
    settings = runtime.settings.monday
    runtime.monday_client = lambda token, url=None: MondayClient(  # type: ignore[method-assign]
        settings, token, transport=transport
    )
