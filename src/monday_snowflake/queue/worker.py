"""The pull worker: claims tasks from the SQL queue, runs their handlers, and settles the outcome.

One `Worker` runs up to `concurrency` tasks at once as asyncio tasks, renews their leases every
`heartbeat_every` seconds, and on stop finishes what it holds before returning. Database calls run
in threads so a slow claim never blocks running handlers. Any number of workers, in any number of
processes and machines, may share one queue: the claim keeps them apart and holds the limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from monday_snowflake.errors import ConfigurationError
from monday_snowflake.logs import bind_correlation_id
from monday_snowflake.metrics import TASKS
from monday_snowflake.queue.handlers import PAUSE_ON_DEFAULT, Handler, Outcome, TaskContext, execute
from monday_snowflake.queue.records import ClaimedTask, LeaseLostError
from monday_snowflake.queue.tasks import TaskQueue
from monday_snowflake.settings import QueueSettings

log = logging.getLogger(__name__)

FailureHook = Callable[[ClaimedTask, Outcome, str], Awaitable[None]]
"""Told about a task that failed for good: the task, its outcome and its correlation id. Raising
changes nothing (the failure is already recorded); it is logged."""


def task_correlation_id(task: ClaimedTask) -> str:
    """The correlation id of a task: the one its payload names, else one read from its id, so every
    attempt of a task, its run and its alert share it."""
    given = task.payload.get("correlation_id")
    return str(given) if given else task.id.replace("-", "")[:16]


def default_worker_id() -> str:
    """host:pid:random, so a lease names the process that holds it."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class _Held:
    task: ClaimedTask
    runner: asyncio.Task[None] | None = None
    lease_lost: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Worker:
    """Runs queued tasks with `handlers` (task kind -> handler); claims only kinds it can handle."""

    def __init__(
        self,
        queue: TaskQueue,
        handlers: Mapping[str, Handler],
        *,
        worker_id: str | None = None,
        concurrency: int = 4,
        poll_interval: float = 0.5,
        lease_seconds: float = 1800.0,
        heartbeat_every: float | None = None,
        pause_on: tuple[type[BaseException], ...] = PAUSE_ON_DEFAULT,
        on_failure: FailureHook | None = None,
    ) -> None:
        if concurrency < 1:
            raise ConfigurationError(f"worker concurrency must be at least 1, got {concurrency}")
        if lease_seconds <= 0 or poll_interval <= 0:
            raise ConfigurationError("lease_seconds and poll_interval must be positive")
        self.queue = queue
        self.handlers = dict(handlers)
        self.worker_id = worker_id or default_worker_id()
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.lease_seconds = lease_seconds
        self.heartbeat_every = heartbeat_every if heartbeat_every is not None else lease_seconds / 3
        self.pause_on = pause_on
        self.on_failure = on_failure
        self._held: dict[str, _Held] = {}
        self._slot_freed = asyncio.Event()
        self._releasing = False

    @classmethod
    def from_settings(
        cls,
        queue: TaskQueue,
        handlers: Mapping[str, Handler],
        settings: QueueSettings,
        *,
        worker_id: str | None = None,
        on_failure: FailureHook | None = None,
    ) -> Worker:
        return cls(
            queue,
            handlers,
            worker_id=worker_id,
            on_failure=on_failure,
            concurrency=settings.worker_concurrency,
            poll_interval=settings.poll_interval_seconds,
            lease_seconds=settings.lease_seconds,
        )

    def __repr__(self) -> str:
        return f"Worker({self.worker_id!r}, kinds={sorted(self.handlers)})"

    @property
    def running(self) -> int:
        """Tasks this worker holds right now."""
        return len(self._held)

    async def run(self, stop: asyncio.Event, *, grace_seconds: float | None = None) -> None:
        """Claim and run tasks until `stop` is set, then finish the tasks in hand and return.

        With `grace_seconds`, tasks still running that long after `stop` are cancelled and given
        back to the queue unrun (`release`), so another worker starts them at once instead of after
        their lease. Without it, stopping waits for every task in hand.
        """
        self._releasing = False
        heartbeats = asyncio.create_task(self._heartbeat_loop(), name=f"{self.worker_id} heartbeats")
        try:
            while not stop.is_set():
                free = self.concurrency - len(self._held)
                if free > 0:
                    if len(await self._claim(free)) < free:  # drained for now: look again later
                        await _first_of(stop, None, self.poll_interval)
                    continue
                # Every slot busy and more may be due: claim again as soon as one frees.
                self._slot_freed.clear()
                if len(self._held) >= self.concurrency:
                    await _first_of(stop, self._slot_freed, None)
            await self._finish_held(grace_seconds)
        finally:
            heartbeats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeats

    async def run_once(self) -> int:
        """Claim what is due now (up to `concurrency`), run it to the end, and return how many ran."""
        heartbeats = asyncio.create_task(self._heartbeat_loop())
        try:
            claimed = await self._claim(self.concurrency - len(self._held))
            await self._wait_for_held()
            return len(claimed)
        finally:
            heartbeats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeats

    async def _claim(self, limit: int) -> list[ClaimedTask]:
        try:
            claimed = await asyncio.to_thread(
                self.queue.claim,
                self.worker_id,
                limit=limit,
                lease_seconds=self.lease_seconds,
                kinds=sorted(self.handlers),
            )
        except Exception:
            log.exception("claiming tasks failed; trying again in %.1fs", self.poll_interval)
            return []
        for task in claimed:
            held = _Held(task)
            self._held[task.id] = held
            held.runner = asyncio.create_task(self._run_task(held), name=f"task {task.id}")
        return claimed

    async def _finish_held(self, grace_seconds: float | None) -> None:
        if grace_seconds is None:
            await self._wait_for_held()
            return
        try:
            await asyncio.wait_for(self._wait_for_held(), grace_seconds)
        except TimeoutError:
            self._releasing = True
            for held in list(self._held.values()):
                if held.runner is not None:
                    held.runner.cancel()
            await self._wait_for_held()

    async def _wait_for_held(self) -> None:
        while self._held:
            await asyncio.gather(*(h.done.wait() for h in list(self._held.values())))

    async def _run_task(self, held: _Held) -> None:
        task = held.task
        context = TaskContext(
            task_id=task.id,
            account_id=task.account_id,
            kind=task.kind,
            payload=task.payload,
            attempt=task.attempt,
            max_attempts=task.max_attempts,
            dedup_key=task.dedup_key,
        )
        try:
            with bind_correlation_id(task_correlation_id(task), task_id=task.id, account_id=task.account_id):
                outcome = await execute(self.handlers, context, pause_on=self.pause_on)
                await self._settle(task, outcome)
        except asyncio.CancelledError:
            if held.lease_lost:
                log.warning("task %s (%s) stopped: its lease was lost", task.id, task.kind)
            elif self._releasing:
                log.warning("task %s (%s) stopped by shutdown; giving it back", task.id, task.kind)
                await self._release(task)
            else:
                raise  # the worker itself is torn down: the lease runs out and the task reruns
        finally:
            self._held.pop(task.id, None)
            held.done.set()
            self._slot_freed.set()

    async def _settle(self, task: ClaimedTask, outcome: Outcome) -> None:
        try:
            if outcome.succeeded:
                try:
                    await asyncio.to_thread(self.queue.complete, task.id, task.lease_token, outcome.result)
                    TASKS.labels(task.kind, "completed").inc()
                    return
                except ConfigurationError as error:  # the result is not JSON
                    outcome = Outcome(succeeded=False, error=error, retry=False)
            assert outcome.error is not None
            if outcome.retry:
                log.warning(
                    "task %s (%s) attempt %d of %d failed: %s: %s",
                    task.id,
                    task.kind,
                    task.attempt,
                    task.max_attempts,
                    type(outcome.error).__name__,
                    outcome.error,
                )
            else:
                log.error(
                    "task %s (%s) failed for good: %s: %s",
                    task.id,
                    task.kind,
                    type(outcome.error).__name__,
                    outcome.error,
                )
            if outcome.pause_queue:  # before the task is settled: no one sees it failed and the queue running
                log.error("pausing the queue of account %s until a person acts", task.account_id)
                await asyncio.to_thread(self.queue.pause, task.account_id)
            after = await asyncio.to_thread(
                self.queue.fail,
                task.id,
                task.lease_token,
                outcome.error,
                retry=outcome.retry,
                retry_after=outcome.retry_after,
                counted=not outcome.waiting,
            )
            TASKS.labels(task.kind, "failed" if after.status == "FAILED" else "retried").inc()
            if after.status == "FAILED" and self.on_failure is not None:
                try:
                    await self.on_failure(task, outcome, task_correlation_id(task))
                except Exception:  # an alert or email problem never changes the task's outcome
                    log.exception("reporting the failure of task %s failed", task.id)
        except LeaseLostError as error:
            log.warning("%s; its outcome is dropped", error)
        except Exception:
            # The lease runs out and the task runs again elsewhere: at-least-once.
            log.exception("could not record the outcome of task %s", task.id)

    async def _release(self, task: ClaimedTask) -> None:
        try:
            await asyncio.to_thread(self.queue.release, task.id, task.lease_token)
        except Exception:
            log.exception("could not give task %s back; it reruns when its lease runs out", task.id)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_every)
            for held in list(self._held.values()):
                try:
                    kept = await asyncio.to_thread(
                        self.queue.heartbeat, held.task.id, held.task.lease_token, self.lease_seconds
                    )
                except Exception:
                    log.exception("heartbeat for task %s failed", held.task.id)
                    continue
                if not kept and not held.done.is_set():
                    held.lease_lost = True
                    if held.runner is not None:
                        held.runner.cancel()


async def _first_of(stop: asyncio.Event, other: asyncio.Event | None, timeout: float | None) -> None:
    """Wait until `stop` or `other` is set, or `timeout` seconds pass (no timeout when waiting on `other`)."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if other is not None:
        waiters.append(asyncio.ensure_future(other.wait()))
        timeout = None
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
