"""Benchmark the durable task queue: enqueue, then claim + complete by 1 and by 4 worker processes.

python -m bench.queue_throughput [--tasks 2000] [--accounts 4] [--postgres URL]

Each run uses a fresh database (a SQLite file; a fresh schema on PostgreSQL, from --postgres or
MONDAY_SNOWFLAKE_TEST_DATABASE_URL, skipped if neither is set). One producer enqueues every task
(one transaction each, as the API does), then worker processes running the real `Worker` (default
settings: 4 tasks at a time, no-op handlers) drain the queue. The clock runs from the moment all
workers are ready until the last task is SUCCEEDED.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path

from sqlalchemy import Engine, create_engine, make_url, select, text
from sqlalchemy.pool import NullPool

from monday_snowflake.queue import TaskContext, TaskQueue, Worker
from monday_snowflake.settings import QueueSettings
from monday_snowflake.store.db import make_engine, upgrade
from monday_snowflake.store.tables import AccountRow, TaskRow, utcnow


@dataclass(frozen=True)
class Result:
    backend: str
    workers: int
    tasks: int
    enqueue_seconds: float
    run_seconds: float

    def line(self) -> str:
        enqueue = self.tasks / self.enqueue_seconds
        run = self.tasks / self.run_seconds
        both = self.tasks / (self.enqueue_seconds + self.run_seconds)
        return (
            f"| {self.backend:<10} | {self.workers:>7} | {self.tasks:>5} | {enqueue:>10,.0f} | "
            f"{run:>16,.0f} | {both:>10,.0f} |"
        )


async def _noop(context: TaskContext) -> None:
    return None


def _worker_process(url: str, number: int, ready: ProcessEvent, go: ProcessEvent, done: ProcessEvent) -> None:
    engine = make_engine(url)
    queue = TaskQueue(engine, QueueSettings())
    worker = Worker.from_settings(queue, {"noop": _noop}, QueueSettings(), worker_id=f"bench-{number}")
    worker.poll_interval = 0.01  # drain as fast as the database allows

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=lambda: (done.wait(), loop.call_soon_threadsafe(stop.set)), daemon=True
        ).start()
        await worker.run(stop)

    ready.set()
    go.wait()
    try:
        asyncio.run(run())
    finally:
        engine.dispose()


def _unfinished(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM tasks WHERE status <> 'SUCCEEDED'")).scalar_one())


def measure(backend: str, url: str, *, workers: int, tasks: int, accounts: int) -> Result:
    engine = make_engine(url)
    upgrade(engine)
    try:
        with engine.begin() as conn:
            ids = [str(uuid.uuid4()) for _ in range(accounts)]
            for account_id in ids:
                conn.execute(
                    AccountRow.__table__.insert().values(id=account_id, name="bench", created_at=utcnow())
                )
        queue = TaskQueue(engine, QueueSettings())
        started = time.perf_counter()
        for n in range(tasks):
            queue.enqueue(ids[n % accounts], "noop", {"n": n, "integration_id": "bench"})
        enqueue_seconds = time.perf_counter() - started

        context = multiprocessing.get_context("spawn")
        ready = [context.Event() for _ in range(workers)]
        go, done = context.Event(), context.Event()
        processes = [
            context.Process(target=_worker_process, args=(url, n, ready[n], go, done)) for n in range(workers)
        ]
        for process in processes:
            process.start()
        for event in ready:
            event.wait(timeout=120)
        started = time.perf_counter()
        go.set()
        while _unfinished(engine):
            time.sleep(0.02)
        run_seconds = time.perf_counter() - started
        done.set()
        for process in processes:
            process.join(timeout=60)
        with engine.connect() as conn:
            attempts = conn.execute(select(TaskRow.attempts).where(TaskRow.attempts != 1)).all()
        if attempts:
            raise AssertionError(f"{len(attempts)} tasks ran more than once")
        return Result(backend, workers, tasks, enqueue_seconds, run_seconds)
    finally:
        engine.dispose()


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="queue-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'state.db'}"


@contextmanager
def postgres_url(admin_url: str) -> Iterator[str]:
    admin = create_engine(admin_url, poolclass=NullPool)
    schema = f"bench_{uuid.uuid4().hex[:16]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    from bench.common import header

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--accounts", type=int, default=4)
    parser.add_argument("--postgres", default=os.environ.get("MONDAY_SNOWFLAKE_TEST_DATABASE_URL"))
    args = parser.parse_args()

    header()
    print("| database   | workers | tasks | enqueue/s  | claim+complete/s | overall/s  |")
    print("|------------|---------|-------|------------|------------------|------------|")
    backends: list[tuple[str, str | None]] = [("SQLite", None), ("PostgreSQL", args.postgres)]
    for backend, admin_url in backends:
        if backend == "PostgreSQL" and not admin_url:
            print("| PostgreSQL | skipped: set --postgres or MONDAY_SNOWFLAKE_TEST_DATABASE_URL |")
            continue
        for workers in (1, 4):
            with sqlite_url() if admin_url is None else postgres_url(admin_url) as url:
                result = measure(backend, url, workers=workers, tasks=args.tasks, accounts=args.accounts)
            print(result.line(), flush=True)


if __name__ == "__main__":
    main()
