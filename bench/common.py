"""What the benchmarks share: a seeded sandbox, a runtime on a fresh data directory, recorded pages."""

from __future__ import annotations

import asyncio
import hashlib
import os
import platform
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr

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


def bench_settings(data_dir: Path, api_url: str, secret_key: str | None = None) -> Settings:
    """A runtime's settings on `data_dir` (a fresh Fernet key unless one is given)."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        secret_key=SecretStr(secret_key or Fernet.generate_key().decode()),
        monday=MondaySettings(api_url=api_url),
    )


@contextmanager
def served_runtime(
    sandbox: Sandbox, data_dir: Path, *, secret_key: str | None = None
) -> Iterator[tuple[Runtime, str]]:
    """The sandbox on 127.0.0.1 and a product runtime pointed at it; yields (runtime, api url)."""
    with SandboxServer(sandbox) as server:
        api_url = f"{server.url}/v2"
        runtime = Runtime(bench_settings(data_dir, api_url, secret_key))
        try:
            yield runtime, api_url
        finally:
            runtime.close()


def run_once(runtime: Runtime, integration_id: str, *, full: bool) -> tuple[float, Any]:
    started = time.perf_counter()
    result = asyncio.run(runtime.replicator().replicate(integration_id, full=full))
    return time.perf_counter() - started, result


class Recorder(httpx.AsyncBaseTransport):
    """Passes requests through to the sandbox and keeps each answer, keyed by the request body: in
    `pages`, or with `directory`, in one file per answer there (nothing kept in memory)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.pages: dict[bytes, bytes] = {}
        self.directory = directory
        self.recorded_bytes = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.content
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        self.recorded_bytes += len(content)
        if self.directory is None:
            self.pages[body] = content
        else:
            page_path(self.directory, body).write_bytes(content)
        return httpx.Response(response.status_code, headers=response.headers, content=content)


def page_path(directory: Path, request_body: bytes) -> Path:
    return directory / f"{hashlib.sha256(request_body).hexdigest()}.json"


def replay(pages: dict[bytes, bytes]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=pages[request.content], headers={"content-type": "application/json"}
        )

    return httpx.MockTransport(answer)


def replay_from(directory: Path) -> httpx.MockTransport:
    """Answers from a `Recorder(directory)`'s files, each read when asked for and streamed once, as
    from the network: nothing keeps a body once it has been read."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = _StreamedOnce(page_path(directory, request.content).read_bytes())
        return httpx.Response(200, stream=body, headers={"content-type": "application/json"})

    return httpx.MockTransport(answer)


class _StreamedOnce(httpx.AsyncByteStream):
    """A response body that lets go of its bytes as it hands them over (`content=` would keep them
    on the response, and a response lives until the cycle collector frees it)."""

    def __init__(self, content: bytes) -> None:
        self._content: bytes | None = content

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content, self._content = self._content, None
        if content:
            yield content


def use_transport(runtime: Runtime, transport: httpx.AsyncBaseTransport | None) -> None:
    """Route the runtime's monday client through `transport` (None: the network again)."""
    settings = runtime.settings.monday
    runtime.monday_client = lambda token, api_url=None, renew_token=None: MondayClient(  # type: ignore[method-assign]
        settings, token, transport=transport, renew_token=renew_token
    )
