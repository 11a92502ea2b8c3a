"""Real-time sync on the embedded stack: one API process (`serve --no-worker`), one `worker`, the
sandbox in a third process, and this script playing monday's webhook sender.

Usage:
  python -m bench.realtime [--items 10000] [--concurrency 64] [--rate 200] [--seconds 30]

The items are really edited on the sandbox board first (so every event is a real change), then the
matching `update_column_value` payloads are posted to `/webhooks/monday/{id}` as monday would:
1. a burst of two events per item, as fast as `--concurrency` connections allow (aiohttp: httpx
   cannot send fast enough from one process to load the API): acknowledged
   requests/s, and changed items/s applied (from the first request until nothing is pending);
2. a steady `--rate` events/s for `--seconds`: p50/p95 from the webhook received to its row being
   committed in the warehouse (per event, from the state store), and warehouse DML statements per
   1,000 events (the worker's own counters, scraped from its metrics port).
It ends by comparing the table with the board, item by item.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
from bench.common import header
from cryptography.fernet import Fernet
from sqlalchemy import select

from monday_snowflake.integrations import create_integration
from monday_snowflake.model import Integration
from monday_snowflake.runtime import Runtime
from monday_snowflake.service import Service
from monday_snowflake.settings import MondaySettings, Settings
from monday_snowflake.store.tables import WebhookEventRow
from monday_snowflake.sync.verify import compare_integration

TOKEN = "bench-realtime-token"
JSON = {"Content-Type": "application/json"}
CLI = [str(Path(sys.executable).parent / "monday-snowflake")]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_until(condition: Any, timeout: float, what: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(every)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


def payload(board_id: str, item_id: str, column_id: str, value: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "event": {
            "app": "monday", "type": "update_column_value", "triggerTime": now.isoformat(),
            "subscriptionId": 1, "isRetry": False, "userId": 1, "originalTriggerUuid": None,
            "boardId": int(board_id), "groupId": "topics", "pulseId": int(item_id), "pulseName": "item",
            "columnId": column_id, "columnType": "text", "columnTitle": column_id,
            "value": {"value": value}, "previousValue": None, "changedAt": now.timestamp(),
            "isTopGroup": True, "triggerUuid": uuid.uuid4().hex,
        }
    }  # fmt: skip


async def edit(api_url: str, board_id: str, item_ids: list[str], values: dict[str, str]) -> None:
    """Really change the items on the sandbox board (no webhooks are registered there)."""
    from monday_snowflake.monday.client import MondayClient

    settings = MondaySettings(api_url=api_url)
    async with MondayClient(settings, TOKEN) as client:
        await client.change_column_values(board_id, {i: values for i in item_ids}, per_request=50)


async def post_all(url: str, bodies: list[dict[str, Any]], concurrency: int) -> float:
    """Post every body with `concurrency` connections; returns the seconds it took."""
    encoded = [orjson.dumps(body) for body in reversed(bodies)]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=JSON) as session:

        async def sender() -> None:
            while encoded:
                await _post(session, url, encoded.pop())

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return time.perf_counter() - started


async def post_paced(url: str, bodies: list[dict[str, Any]], rate: float) -> float:
    """Post the bodies at `rate` per second (each on its own task, so a slow answer delays none)."""
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, headers=JSON) as session:
        started = time.perf_counter()
        tasks = []
        for n, body in enumerate(bodies):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_post(session, url, orjson.dumps(body))))
        await asyncio.gather(*tasks)
        return time.perf_counter() - started


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> None:
    async with session.post(url, data=body) as response:
        text = await response.text()
        if response.status != 200:
            raise RuntimeError(f"{response.status} {text}")


def dml_statements(metrics_url: str) -> float:
    for line in httpx.get(metrics_url, timeout=5).text.splitlines():
        if line.startswith('monday_snowflake_snowflake_statements_total{kind="dml"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def drained(runtime: Runtime, integration_id: str) -> bool:
    return runtime.store.pending_event_count(integration_id) == 0


def latencies(runtime: Runtime, integration_id: str, since_id: int) -> list[float]:
    statement = select(WebhookEventRow.received_at, WebhookEventRow.applied_at).where(
        WebhookEventRow.integration_id == integration_id, WebhookEventRow.id > since_id
    )
    with runtime.store.engine.connect() as conn:
        rows = conn.execute(statement).all()
    return sorted((_aware(applied) - _aware(received)).total_seconds() for received, applied in rows)


def last_event_id(runtime: Runtime, integration_id: str) -> int:
    with runtime.store.engine.connect() as conn:
        found = conn.execute(
            select(WebhookEventRow.id)
            .where(WebhookEventRow.integration_id == integration_id)
            .order_by(WebhookEventRow.id.desc())
            .limit(1)
        ).scalar()
    return int(found or 0)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def compare(runtime: Runtime, integration: Integration, api_url: str) -> bool:
    async def run() -> bool:
        async with runtime.monday_client(TOKEN, api_url) as client:
            warehouse = runtime.open_warehouse(integration.snowflake_connection_id)
            try:
                found = await compare_integration(runtime.store, integration, client, warehouse)
            finally:
                warehouse.close()
        for role, comparison in found.items():
            print(
                f"  {role}: {comparison.board_items} items, {comparison.table_rows} rows, ok={comparison.ok}"
            )
        return all(c.ok for c in found.values())

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    header()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        sandbox_port, api_port, metrics_port = free_port(), free_port(), free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        api_url = f"{sandbox_url}/v2"
        env = {
            **os.environ,
            "MONDAY_SNOWFLAKE_DATA_DIR": str(data_dir),
            "MONDAY_SNOWFLAKE_SECRET_KEY": Fernet.generate_key().decode(),
            "MONDAY_SNOWFLAKE_MONDAY__API_URL": api_url,
            "MONDAY_SNOWFLAKE_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
        }
        sandbox_args = [*CLI, "sandbox", "--port", str(sandbox_port), "--token", TOKEN,
                        "--items", str(args.items), "--subitems", "0", "--seed", "7"]  # fmt: skip
        with process(sandbox_args, env, data_dir / "sandbox.log"):
            wait_until(lambda: answers(f"{sandbox_url}/sandbox/health"), 600, "the sandbox")
            httpx.post(f"{sandbox_url}/sandbox/settings", json={"complexity_budget": 10**15})
            boards = httpx.get(f"{sandbox_url}/sandbox/boards").json()
            board_id = str(max(boards, key=lambda b: b.get("items_count") or 0)["id"])
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                data_dir=data_dir,
                secret_key=env["MONDAY_SNOWFLAKE_SECRET_KEY"],
                monday=MondaySettings(api_url=api_url),
            )
            runtime = Runtime(settings)
            integration = create_integration(runtime, board_id=board_id, monday_token=TOKEN, name="live")
            secret = secrets.token_urlsafe(24)
            # real-time on without registering webhooks on the sandbox: this script sends them
            runtime.store.set_realtime(integration.id, enabled=True, signed=False, webhooks=[], secret=secret)
            hook_url = f"http://127.0.0.1:{api_port}/webhooks/monday/{integration.id}?token={secret}"
            text_column = next(c.id for c in asyncio.run(_board(runtime, api_url, board_id)).columns
                               if c.type == "text")  # fmt: skip

            serve_args = [*CLI, "serve", "--no-worker", "--port", str(api_port)]
            worker_args = [*CLI, "worker", "--metrics-port", str(metrics_port)]
            with (
                process(serve_args, env, data_dir / "serve.log"),
                process(worker_args, env, data_dir / "worker.log"),
            ):
                wait_until(lambda: answers(f"http://127.0.0.1:{api_port}/healthz"), 60, "the API")
                wait_until(lambda: answers(f"http://127.0.0.1:{metrics_port}/metrics"), 60, "the worker")
                Service(runtime).enqueue_run(integration, reason="bench first load")
                wait_until(
                    lambda: runtime.store.last_success(integration.id) is not None, 600, "the first load"
                )
                print(f"first load of {args.items:,} items done")
                items = [str(i["id"]) for i in asyncio.run(_item_ids(runtime, api_url, board_id))]
                metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"

                # 1. a burst: two events per item
                asyncio.run(edit(api_url, board_id, items, {text_column: "burst"}))
                bodies = [payload(board_id, i, text_column, "burst") for i in items for _ in range(2)]
                dml_before = dml_statements(metrics_url)
                started = time.perf_counter()
                acked = asyncio.run(post_all(hook_url, bodies, args.concurrency))
                wait_until(lambda: drained(runtime, integration.id), 600, "the burst to be applied", 0.02)
                applied = time.perf_counter() - started
                burst_dml = dml_statements(metrics_url) - dml_before
                print(f"burst: {len(bodies):,} webhooks acknowledged in {acked:.2f} s = "
                      f"{len(bodies) / acked:,.0f} requests/s ({args.concurrency} connections)")  # fmt: skip
                print(f"burst: {len(items):,} changed items applied {applied:.2f} s after the first request "
                      f"= {len(items) / applied:,.0f} items/s; {burst_dml:.0f} DML statements "
                      f"= {burst_dml * 1000 / len(bodies):.1f} per 1,000 events")  # fmt: skip

                # 2. a steady rate
                count = int(args.rate * args.seconds)
                steady = [items[n % len(items)] for n in range(count)]
                asyncio.run(edit(api_url, board_id, list(dict.fromkeys(steady)), {text_column: "steady"}))
                since = last_event_id(runtime, integration.id)
                dml_before = dml_statements(metrics_url)
                bodies = [payload(board_id, i, text_column, "steady") for i in steady]
                took = asyncio.run(post_paced(hook_url, bodies, args.rate))
                wait_until(lambda: drained(runtime, integration.id), 600, "the steady events", 0.02)
                dml = dml_statements(metrics_url) - dml_before
                lat = latencies(runtime, integration.id, since)
                print(f"steady: {count:,} events at {count / took:,.0f}/s; received -> committed in the "
                      f"warehouse p50 {statistics.median(lat):.2f} s, p95 {quantile(lat, 0.95):.2f} s, "
                      f"max {lat[-1]:.2f} s; {dml:.0f} DML statements "
                      f"= {dml * 1000 / count:.1f} per 1,000 events")  # fmt: skip
                print("table equals board:" if compare(runtime, integration, api_url) else "MISMATCH:")
            runtime.close()


async def _board(runtime: Runtime, api_url: str, board_id: str) -> Any:
    async with runtime.monday_client(TOKEN, api_url) as client:
        return await client.get_board(board_id)


async def _item_ids(runtime: Runtime, api_url: str, board_id: str) -> list[dict[str, Any]]:
    from monday_snowflake.monday.queries import Shape

    found: list[dict[str, Any]] = []
    async with runtime.monday_client(TOKEN, api_url) as client:
        async for page in client.iter_item_pages(board_id, shape=Shape.IDS):
            found.extend(page)
    return found


if __name__ == "__main__":
    main()
