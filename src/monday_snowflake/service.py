"""The service: what `serve` and `worker` run on top of a `Runtime`.

- `enqueue_run` puts a sync of one integration on its account's queue (the API's "run now", the
  scheduler, the scheduled-trigger endpoint and batch runs all come through here);
- `handlers` are the task handlers a `Worker` runs: `sync` replicates an integration;
- `schedule_due_runs` is one tick of the scheduler: every integration whose schedule came due gets
  exactly one queued run per due time, however many schedulers tick at once (the queue's
  de-duplication key is the integration and the due instant).

A run promised at enqueue time is recorded under the promised id by the first attempt that gets to
record a run. Handlers only see a `TaskContext`, never the queue, so another transport (Cloud Tasks push) can
call them later.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from monday_snowflake.app.triggers import reverse_run_finished
from monday_snowflake.errors import AlreadyRunningError, ConfigurationError, NotFoundError
from monday_snowflake.logs import get_logger
from monday_snowflake.model import Integration
from monday_snowflake.notify.alerts import Alerter
from monday_snowflake.queue.handlers import Handler, TaskContext
from monday_snowflake.queue.records import TaskRecord
from monday_snowflake.queue.tasks import TaskQueue
from monday_snowflake.queue.worker import Worker
from monday_snowflake.realtime.apply import RealtimeApplier
from monday_snowflake.realtime.inbox import EventInbox
from monday_snowflake.runtime import Runtime
from monday_snowflake.schedule import Schedule, next_run, parse_schedule
from monday_snowflake.schedule.triggers import QueryTriggerCheck
from monday_snowflake.store.realtime import Realtime

log = get_logger(__name__)

SYNC = "sync"
REALTIME_CACHE_SECONDS = 2.0


@dataclass(frozen=True)
class QueuedRun:
    """A run that was asked for: its task, and the id its first attempt records the run under."""

    task: TaskRecord
    run_id: str
    created: bool
    """False when an identical request was already queued (de-duplicated)."""


class Service:
    """The queue, the handlers and the scheduler of one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.store = runtime.store
        self.queue = TaskQueue(runtime.store.engine, runtime.settings.queue)
        self._realtime_cache: dict[str, tuple[float, Realtime]] = {}
        self.inbox = EventInbox(runtime.store)
        self.query_triggers = QueryTriggerCheck(runtime)
        self.alerter = Alerter(runtime.store, self.queue, runtime.settings)

    # -- asking for runs --------------------------------------------------------------------------------

    def enqueue_run(
        self,
        integration: Integration,
        *,
        full: bool = False,
        reason: str = "manual",
        dedup_key: str | None = None,
        run_after: datetime | None = None,
        refuse_if_busy: bool = True,
    ) -> QueuedRun:
        """Queue a sync of `integration`. With `refuse_if_busy`, a sync that is running (the lock is
        held) or already waiting in the queue raises AlreadyRunningError (HTTP 409)."""
        if refuse_if_busy:
            self._refuse_if_busy(integration)
        run_id = str(uuid.uuid4())
        payload = {"integration_id": integration.id, "full": full, "reason": reason, "run_id": run_id}
        task = self.queue.enqueue(
            integration.account_id, SYNC, payload, dedup_key=dedup_key, run_after=run_after
        )
        created = task.payload.get("run_id") == run_id
        log.info("run queued", integration_id=integration.id, task_id=task.id, reason=reason, created=created)
        return QueuedRun(task, str(task.payload.get("run_id") or run_id), created)

    def _refuse_if_busy(self, integration: Integration) -> None:
        lock = self.store.get_lock(integration.id)
        if lock is not None and lock.is_held(datetime.now(UTC)):
            raise AlreadyRunningError(integration.id, name=integration.name)
        # a claimed task may not hold the lock yet: RUNNING tasks count too
        if self.queue.find_unfinished(integration.account_id, SYNC, integration_id=integration.id):
            raise AlreadyRunningError(integration.id, name=integration.name, queued=True)

    # -- running them ----------------------------------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        return {SYNC: self._sync}

    async def _sync(self, task: TaskContext) -> dict[str, Any]:
        """Replicate the integration in the task, under the promised run id unless an earlier attempt
        already recorded a run under it."""
        payload = task.payload
        promised = str(payload.get("run_id") or "")
        if promised and (task.attempt > 1 and self._run_exists(promised, task.account_id)):
            promised = ""  # an earlier attempt recorded its run under it; this one is a new run
        integration_id = str(payload["integration_id"])
        integration = self.store.get_integration(integration_id, account_id=task.account_id)
        if integration.paused_at is not None:  # queued before the pause: paused means nothing runs
            log.info("run skipped: the integration is paused", integration_id=integration_id)
            return {"skipped": "paused"}
        if integration.reverse is not None:
            try:
                reverse = await self.runtime.reverse_syncer().run(
                    integration_id, account_id=task.account_id, run_id=promised or None
                )
            finally:  # monday automations waiting for this run to finish (app/triggers.py)
                await asyncio.to_thread(reverse_run_finished, self.runtime, integration_id, task.account_id)
            await self._resolved_by_success(integration)
            return {"run_id": reverse.run_id, "kind": "reverse", "items": reverse.changed}
        result = await self.runtime.replicator().replicate(
            integration_id,
            account_id=task.account_id,
            full=bool(payload.get("full")),
            run_id=promised or None,
        )
        await self._resolved_by_success(integration)
        return {"run_id": result.run_id, "kind": result.kind, "items": result.items}

    async def _resolved_by_success(self, integration: Integration) -> None:
        """A run that went through proves its integration's problems fixed (a privilege granted, a
        board shared again): their alerts close, without running the failed work again."""
        await asyncio.to_thread(
            self.store.resolve_alerts,
            account_id=integration.account_id,
            integration_id=integration.id,
            by="a run succeeded",
            requeue=False,
        )

    def _run_exists(self, run_id: str, account_id: str) -> bool:
        try:
            self.store.get_run(run_id, account_id=account_id)
        except NotFoundError:
            return False
        return True

    # -- real time -------------------------------------------------------------------------------------

    def realtime_of(self, integration_id: str) -> Realtime:
        """An integration's real-time switch and URL secret, cached for a moment: the webhook endpoint
        asks on every delivery."""
        found = self.cached_realtime(integration_id)
        if found is None:
            found = self.store.realtime(integration_id)
            self._realtime_cache[integration_id] = (time.monotonic(), found)
        return found

    def cached_realtime(self, integration_id: str) -> Realtime | None:
        """`realtime_of` when it is cached and fresh, without touching the database."""
        cached = self._realtime_cache.get(integration_id)
        if cached is not None and time.monotonic() - cached[0] < REALTIME_CACHE_SECONDS:
            return cached[1]
        return None

    def forget_realtime(self, integration_id: str) -> None:
        self._realtime_cache.pop(integration_id, None)

    def enqueue_realtime_sync(self, integration: Integration, reason: str) -> None:
        """Queue a sync run for the real-time applier, unless one is queued or running already."""
        if not self.queue.find_unfinished(integration.account_id, SYNC, integration_id=integration.id):
            self.enqueue_run(integration, reason=reason, refuse_if_busy=False)

    async def run_realtime(self, stop: asyncio.Event) -> None:
        """Apply pending webhook events until `stop` is set; applied events older than
        `keep_applied_hours` are purged now and then."""
        applier = RealtimeApplier(self.runtime, self.enqueue_realtime_sync, self.alerter.on_realtime_failure)
        settings = self.settings.realtime
        purged_at = 0.0
        while not stop.is_set():
            try:
                await applier.flush_due()
                if time.monotonic() - purged_at > 3600:
                    before = datetime.now(UTC) - timedelta(hours=settings.keep_applied_hours)
                    await asyncio.to_thread(self.store.purge_applied_events, before)
                    purged_at = time.monotonic()
            except Exception as exc:  # the loop must outlive a bad round; the events wait in the inbox
                log.warning("real-time round failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.poll_seconds)

    def worker(self, *, worker_id: str | None = None) -> Worker:
        return Worker.from_settings(
            self.queue,
            self.handlers(),
            self.settings.queue,
            worker_id=worker_id,
            on_failure=self.alerter.on_task_failure,
        )

    # -- the scheduler ----------------------------------------------------------------------------------

    def schedule_due_runs(self, now: datetime | None = None) -> list[QueuedRun]:
        """Queue one run for every integration whose schedule came due by `now` (the latest due time
        only, after downtime). Safe to call from several processes at once."""
        now = now or datetime.now(UTC)
        queued: list[QueuedRun] = []
        min_hours = self.settings.min_schedule_interval_hours
        for integration, raw, anchor in self.store.scheduled_integrations():
            try:
                schedule = parse_schedule(raw, min_interval_hours=min_hours)
            except ConfigurationError as exc:  # saved under older rules: skip it, say so, go on
                log.warning("schedule ignored", integration_id=integration.id, error=str(exc))
                continue
            due = _latest_due(schedule, anchor, now)
            if due is None:
                continue
            key = f"scheduled:{integration.id}:{due.isoformat()}"
            queued.append(
                self.enqueue_run(integration, reason="schedule", dedup_key=key, refuse_if_busy=False)
            )
            self.store.set_last_scheduled_for(integration.id, due)
        return queued

    async def run_scheduler(self, stop: asyncio.Event, *, every_seconds: float = 15.0) -> None:
        """Tick until `stop` is set. Each tick also sends due alert emails, and every
        `alerts.check_every_seconds` it looks for credentials about to expire."""
        checked_at: float | None = None
        while not stop.is_set():
            try:
                await asyncio.get_running_loop().run_in_executor(None, self.schedule_due_runs)
                await asyncio.to_thread(self.query_triggers.tick)
            except Exception as exc:  # the scheduler must outlive a bad tick; the next one tries again
                log.warning("scheduler tick failed", error=str(exc))
            every = self.settings.alerts.check_every_seconds
            check = checked_at is None or time.monotonic() - checked_at >= every
            if check:
                checked_at = time.monotonic()
            await asyncio.to_thread(self.alerter.periodic, check_expiry=check)  # never raises
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_seconds)


def _latest_due(schedule: Schedule, after: datetime, now: datetime) -> datetime | None:
    """The last due instant in (after, now], or None."""
    due: datetime | None = None
    candidate = next_run(schedule, after)
    while candidate <= now:
        due = candidate
        candidate = next_run(schedule, candidate)
    return due
