"""API latency of "run now" (`POST /integrations/{id}/runs`) under 100 concurrent clients.

Usage:
  python -m bench.api_latency --clients 100 --rounds 5 [--database-url postgresql+psycopg://...]

The API is served by uvicorn on 127.0.0.1 without workers (queued runs stay queued, so each
request does the whole job of accepting a run: authenticate the key, find the integration, check
the lock and the queue, enqueue). Each client asks for a run of its own integration once per round.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from bench.common import header
from cryptography.fernet import Fernet

from monday_snowflake.api.app import create_app
from monday_snowflake.runtime import Runtime
from monday_snowflake.service import Service
from monday_snowflake.settings import Settings


async def round_trip(client: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    response = await client.post(path)
    if response.status_code != 202:
        raise RuntimeError(f"{path}: {response.status_code} {response.text}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="state store (default: SQLite in a temp dir)")
    args = parser.parse_args()
    header()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=Path(tmp),
            database_url=args.database_url,
            secret_key=Fernet.generate_key().decode(),
        )
        runtime = Runtime(settings)
        store = runtime.store
        account = store.create_account(f"bench-{time.time_ns()}")
        key, _ = store.create_api_key(account.id, "bench")
        monday = store.create_connection(account.id, "monday", "m", {"api_url": "x"}, {"token": "m"})
        snow = store.create_connection(account.id, "snowflake", "s", {"account": "a"}, {"token": "s"})
        count = args.clients * args.rounds
        ids = [
            store.create_integration(
                account_id=account.id, name=f"i{n}", board_id=str(1000 + n), monday_connection_id=monday.id,
                snowflake_connection_id=snow.id, target_database="DB", target_schema="S",
            ).id
            for n in range(count)
        ]  # fmt: skip
        app = create_app(Service(runtime), run_worker=False, run_scheduler=False)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)

        async def run() -> list[float]:
            limits = httpx.Limits(max_connections=args.clients)
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=headers, limits=limits, timeout=60
            ) as client:
                times: list[float] = []
                for r in range(args.rounds):
                    batch = ids[r * args.clients : (r + 1) * args.clients]
                    times += await asyncio.gather(
                        *(round_trip(client, f"/integrations/{i}/runs") for i in batch)
                    )
                return times

        started = time.perf_counter()
        times = asyncio.run(run())
        elapsed = time.perf_counter() - started
        server.should_exit = True
        thread.join(10)
        runtime.close()
    quantiles = statistics.quantiles(times, n=100)
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"{database}: {len(times)} run requests, {args.clients} concurrent: "
        f"p50 {quantiles[49] * 1000:.0f} ms, p95 {quantiles[94] * 1000:.0f} ms, "
        f"{len(times) / elapsed:.0f} requests/s"
    )


if __name__ == "__main__":
    main()
