"""Full replication throughput and memory: a generated board -> the embedded warehouse.

Usage:
  python bench/replicate_board.py --items 100000            # replayed pages + over HTTP
  python bench/replicate_board.py --items 20000 --memory    # peak memory of one replayed run

The board is the sandbox's generated board, replicated with 20 mapped columns of mixed types.
"Replayed": the monday side answers from pages recorded in memory beforehand (an httpx
MockTransport), so only our pipeline is measured: JSON parsing, decoding, CSV, PUT, COPY, MERGE.
"HTTP": the same run against the sandbox served on 127.0.0.1. Peak memory is tracemalloc's peak of
the replication alone (the recorded pages are allocated before the measurement starts).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from monday_sandbox.generator import seed_account
from monday_sandbox.server import SandboxServer
from monday_sandbox.state import Sandbox
from monday_snowflake.integrations import create_integration
from monday_snowflake.monday.client import MondayClient
from monday_snowflake.runtime import Runtime
from monday_snowflake.settings import MondaySettings, Settings

TOKEN = "bench-token"
COLUMNS = [  # 20 columns of mixed types
    "status", "people", "date", "numbers", "text", "long_text", "dropdown", "timeline", "checkbox",
    "email", "phone", "link", "location", "tags", "country", "rating", "board_relation", "creation_log",
    "last_updated", "formula",
]  # fmt: skip


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


def build_board(items: int) -> tuple[Sandbox, str]:
    sandbox = Sandbox()
    board = seed_account(sandbox, boards=1, items=items, subitems=0, seed=7)[0]
    sandbox.add_token(TOKEN)
    return sandbox, str(board.id)


def run_once(runtime: Runtime, integration_id: str) -> tuple[float, Any]:
    started = time.perf_counter()
    result = asyncio.run(runtime.replicator().replicate(integration_id))
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--memory", action="store_true", help="only the replayed run, reporting peak memory")
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()

    print(
        f"# {time.strftime('%Y-%m-%d')} {platform.machine()} {os.cpu_count()} cores, "
        f"python {platform.python_version()}"
    )
    t0 = time.perf_counter()
    sandbox, board_id = build_board(args.items)
    print(f"seeded {args.items:,} items in {time.perf_counter() - t0:.1f} s")

    with tempfile.TemporaryDirectory() as tmp, SandboxServer(sandbox) as server:
        api_url = f"{server.url}/v2"
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=Path(tmp),
            secret_key=Fernet.generate_key().decode(),
            monday=MondaySettings(api_url=api_url),
        )
        runtime = Runtime(settings)
        integration = create_integration(
            runtime,
            board_id=board_id,
            name="bench",
            monday_token=TOKEN,
            monday_url=api_url,
            column_ids=COLUMNS,
        )

        recorder = Recorder()
        runtime.monday_client = lambda token, url=None: MondayClient(  # type: ignore[method-assign]
            settings.monday, token, transport=recorder
        )
        http_seconds, http_result = run_once(runtime, integration.id)
        pages = recorder.pages
        print(f"recorded {len(pages)} responses, {sum(map(len, pages.values())) / 1e6:.0f} MB")

        runtime.monday_client = lambda token, url=None: MondayClient(  # type: ignore[method-assign]
            settings.monday, token, transport=replay(pages)
        )
        gc.collect()
        if args.memory:
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
        seconds, result = run_once(runtime, integration.id)
        if args.memory:
            peak = tracemalloc.get_traced_memory()[1] - base
            tracemalloc.stop()
            print(f"peak memory during the replayed run: {peak / 1e6:.1f} MB for {args.items:,} items")
        runs = runtime.store.list_runs(integration.id, limit=1)
        metrics = runtime.store.get_run(runs[0].id).metrics or {}
        print(json.dumps({"phases": metrics.get("phases")}, default=str))
        print(
            f"replayed: {result.items:,} items in {seconds:.2f} s = {result.items / seconds:,.0f} items/s "
            f"({result.items / seconds / 1000:.1f}x the brief's 1,000 items/s)"
        )
        if not args.memory and not args.skip_http:
            print(
                f"over HTTP (first run, inserts): {http_result.items:,} items in {http_seconds:.2f} s = "
                f"{http_result.items / http_seconds:,.0f} items/s"
            )
            seconds, result = run_once(runtime, integration.id)
            runtime.monday_client = lambda token, url=None: MondayClient(  # type: ignore[method-assign]
                settings.monday, token
            )
            seconds, result = run_once(runtime, integration.id)
            print(
                f"over HTTP (updates): {result.items:,} items in {seconds:.2f} s = "
                f"{result.items / seconds:,.0f} items/s"
            )
        runtime.close()


if __name__ == "__main__":
    main()
