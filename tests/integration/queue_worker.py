"""A worker process for the queue tests: runs a real `Worker` against a database until SIGTERM.

python tests/integration/queue_worker.py --url URL --worker-id ID [--lease 30] [--concurrency 4]
    [--max-running 50]

It prints "ready" once it is about to claim. It handles one task kind, `probe`: sleep
`payload["seconds"]` (only on the first attempt if `payload["first_attempt_only"]`), and return
which worker ran it and the most tasks of its account it saw running at once (read from the queue
at start and at end, while it itself runs).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from monday_snowflake.queue import TaskContext, TaskQueue, Worker
from monday_snowflake.settings import QueueSettings
from monday_snowflake.store.db import make_engine


def probe_handler(queue: TaskQueue, worker_id: str) -> Any:
    async def probe(context: TaskContext) -> dict[str, Any]:
        seen = (await asyncio.to_thread(queue.stats, context.account_id)).running
        seconds = float(context.payload.get("seconds", 0))
        if context.payload.get("first_attempt_only") and context.attempt > 1:
            seconds = 0.0
        await asyncio.sleep(seconds)
        seen = max(seen, (await asyncio.to_thread(queue.stats, context.account_id)).running)
        return {"worker": worker_id, "attempt": context.attempt, "running_seen": seen}

    return probe


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-running", type=int, default=50)
    args = parser.parse_args()

    engine = make_engine(args.url)
    queue = TaskQueue(engine, QueueSettings(max_running_per_account=args.max_running))
    worker = Worker(
        queue,
        {"probe": probe_handler(queue, args.worker_id)},
        worker_id=args.worker_id,
        concurrency=args.concurrency,
        poll_interval=0.05,
        lease_seconds=args.lease,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    try:
        await worker.run(stop)
    finally:
        engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
