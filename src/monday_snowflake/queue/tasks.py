"""The durable task queue in the state database: a queue per account, at-least-once, with leases.

A task is QUEUED until a worker claims it (RUNNING, under a lease with a fencing token), then ends as
SUCCEEDED, FAILED or CANCELLED; a retryable failure puts it back to QUEUED with a backoff delay. A
worker that dies leaves its task RUNNING under a lease that runs out, and the next claim takes it
over with a higher token, so the dead (or merely slow) holder can no longer complete or fail it.

De-duplication keys are unique per account over all tasks, finished ones included: a key names one
piece of work (e.g. `scheduled:<integration id>:<due time>`), so however many schedulers enqueue it,
and whenever, it runs once. Keys are freed only when `delete_finished` purges the task.

One code path serves SQLite and PostgreSQL; only the claim statement differs (see `queue.claim`).
"""

from __future__ import annotations

import functools
import json
import random as _random
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Executable, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from monday_snowflake.errors import ConfigurationError, NotFoundError
from monday_snowflake.queue.claim import claim_tasks, is_live
from monday_snowflake.queue.records import (
    FINISHED_STATUSES,
    MAX_PAYLOAD_BYTES,
    ClaimedTask,
    LeaseLostError,
    QueueStats,
    TaskRecord,
)
from monday_snowflake.retry import RetryPolicy
from monday_snowflake.settings import QueueSettings
from monday_snowflake.store.db import write_engine
from monday_snowflake.store.tables import TASK_STATUSES, TaskQueueRow, TaskRow, UtcDateTime, new_id, utcnow

Clock = Callable[[], datetime]
MAX_ERROR_CHARS = 10_000
"""Longer error messages are cut: the start says what happened, and rows stay small."""


class TaskQueue:
    """Tasks per account in the state database. Safe to share between threads; every call is one
    short transaction. Where a method takes an `account_id`, another account's tasks are not found."""

    def __init__(
        self,
        engine: Engine,
        settings: QueueSettings | None = None,
        *,
        clock: Clock = utcnow,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.engine = engine
        self.settings = settings or QueueSettings()
        self._clock = clock
        self._random = random
        self._reads = sessionmaker(engine, expire_on_commit=False)
        self._writer = write_engine(engine)
        self._writes = sessionmaker(self._writer, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"TaskQueue({self.engine.url!r})"

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._reads() as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._writes() as session, session.begin():
            yield session

    # -- producing -----------------------------------------------------------------------------

    def enqueue(
        self,
        account_id: str,
        kind: str,
        payload: Mapping[str, Any],
        *,
        priority: int = 0,
        run_after: datetime | None = None,
        dedup_key: str | None = None,
        max_attempts: int | None = None,
    ) -> TaskRecord:
        """Add a task to the account's queue; it runs at `run_after` (default: now) or later.

        If the account already has a task with `dedup_key` (whatever its status), that task is
        returned and nothing is added; concurrent callers with the same key get the same task.
        Raises ConfigurationError for a payload over 1 MB or not JSON-serialisable, NotFoundError
        for an unknown account.
        """
        _check_kind(kind)
        body = _serialised(payload)
        if len(body) > MAX_PAYLOAD_BYTES:
            raise ConfigurationError(
                f"task payload is {len(body):,} bytes; at most 1 MB ({MAX_PAYLOAD_BYTES:,} bytes) is "
                "allowed: put large data in the blob store and pass its name",
                kind=kind,
                payload_bytes=len(body),
            )
        if dedup_key is not None and not 0 < len(dedup_key) <= 255:
            raise ConfigurationError("a de-duplication key is 1 to 255 characters")
        if max_attempts is not None and max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be at least 1, got {max_attempts}")
        if run_after is not None and run_after.tzinfo is None:
            raise ConfigurationError("run_after must be timezone-aware")
        now = self._clock()
        values: dict[str, Any] = {
            "id": new_id(),
            "account_id": account_id,
            "kind": kind,
            "payload": json.loads(body),
            "priority": int(priority),
            "status": "QUEUED",
            "run_after": run_after or now,
            "attempts": 0,
            "max_attempts": max_attempts or self.settings.max_attempts,
            "dedup_key": dedup_key,
            "lease_token": 0,
            "created_at": now,
        }
        statements = _statements(self.engine.dialect.name)
        try:
            with self._writer.begin() as conn:
                conn.execute(statements.ensure_queue, {"account_id": account_id, "now": now})
                inserted = conn.execute(statements.insert_task, values).scalar_one_or_none()
                if inserted is None:  # the key is taken: hand back the task that holds it
                    existing = conn.execute(
                        statements.find_by_key, {"account_id": account_id, "dedup_key": dedup_key}
                    ).one()
                    return TaskRecord(**existing._mapping)
        except IntegrityError:
            raise NotFoundError(f"account '{account_id}' not found", account_id=account_id) from None
        return TaskRecord(
            **values,
            lease_owner=None,
            lease_expires_at=None,
            last_error=None,
            error_class=None,
            result=None,
            started_at=None,
            finished_at=None,
        )

    # -- consuming -----------------------------------------------------------------------------

    def claim(
        self,
        worker_id: str,
        *,
        limit: int = 1,
        lease_seconds: float | None = None,
        kinds: Sequence[str] | None = None,
    ) -> list[ClaimedTask]:
        """Take up to `limit` due tasks (of `kinds`, if given) for `worker_id`, for `lease_seconds`.

        Highest priority first, then the longest due. Paused queues are skipped, and no account ever
        has more live leases than its running limit, whichever workers and processes ask.
        """
        lease = self.settings.lease_seconds if lease_seconds is None else lease_seconds
        _check_lease(lease)
        with self._writer.begin() as conn:
            return claim_tasks(
                conn,
                worker_id,
                now=self._clock(),
                limit=limit,
                lease_seconds=lease,
                default_max_running=self.settings.max_running_per_account,
                kinds=kinds,
            )

    def heartbeat(self, task_id: str, lease_token: int, lease_seconds: float | None = None) -> bool:
        """Extend the lease to now + `lease_seconds`. False if `lease_token` no longer holds the task
        (taken over, cancelled, finished): the caller should stop working on it."""
        lease = self.settings.lease_seconds if lease_seconds is None else lease_seconds
        _check_lease(lease)
        expires = self._clock() + timedelta(seconds=lease)
        params = {"task_id": task_id, "token": lease_token, "expires": expires}
        with self._writer.begin() as conn:
            return conn.execute(_statements(self.engine.dialect.name).heartbeat, params).rowcount == 1

    def complete(self, task_id: str, lease_token: int, result: Any = None) -> None:
        """Mark a held task SUCCEEDED with `result` (JSON-serialisable).

        Raises LeaseLostError if `lease_token` is not current (fencing: a holder whose lease was taken
        over cannot finish the task over the newer holder), ConfigurationError for a result that is
        not JSON.
        """
        value = None if result is None else json.loads(_serialised(result, what="task result"))
        params = {"task_id": task_id, "token": lease_token, "result": value, "now": self._clock()}
        with self._writer.begin() as conn:
            if conn.execute(_statements(self.engine.dialect.name).complete, params).rowcount != 1:
                raise LeaseLostError(task_id, lease_token)

    def fail(
        self,
        task_id: str,
        lease_token: int,
        error: BaseException | str,
        *,
        retry: bool,
        retry_after: float | None = None,
        counted: bool = True,
    ) -> TaskRecord:
        """Record a failed attempt of a held task and return the task as it now is.

        With `retry` and attempts left, the task goes back to QUEUED, due after an exponential
        backoff with full jitter (or after `retry_after` seconds if the other side asked for that).
        Otherwise it ends FAILED. Either way the error is kept. Raises LeaseLostError like `complete`.
        Not `counted` (the task waited for a lock): the attempt is given back and the task is due
        again after a backoff that grows with how long it has waited, at most the backoff ceiling.
        """
        message, error_class = _describe(error)
        with self._write() as session:
            row = session.scalars(
                select(TaskRow)
                .where(TaskRow.id == task_id, TaskRow.lease_token == lease_token, TaskRow.status == "RUNNING")
                .with_for_update()
            ).one_or_none()
            if row is None:
                raise LeaseLostError(task_id, lease_token)
            now = self._clock()
            row.last_error, row.error_class = message, error_class
            row.lease_expires_at = None
            if not counted:
                row.attempts = max(row.attempts - 1, 0)
            if retry and (row.attempts < row.max_attempts or not counted):
                policy = RetryPolicy(
                    max_attempts=row.max_attempts,
                    base=self.settings.backoff_base_seconds,
                    max=self.settings.backoff_max_seconds,
                )
                if counted:
                    delay = policy.delay(row.attempts, retry_after, random=self._random)
                else:
                    waited = (now - (row.created_at or now)).total_seconds()
                    delay = min(max(waited, policy.base), policy.max) * (0.5 + self._random() / 2)
                row.status, row.run_after = "QUEUED", now + timedelta(seconds=delay)
            else:
                row.status, row.finished_at = "FAILED", now
            return _record(row)

    def release(self, task_id: str, lease_token: int) -> bool:
        """Give a held task back unrun (a worker shutting down): QUEUED again, due now, and the
        attempt it was claimed for is not counted. False if the lease was already lost."""
        params = {"task_id": task_id, "token": lease_token, "now": self._clock()}
        with self._writer.begin() as conn:
            return conn.execute(_statements(self.engine.dialect.name).release, params).rowcount == 1

    # -- managing ------------------------------------------------------------------------------

    def get(self, task_id: str, account_id: str | None = None) -> TaskRecord:
        with self._read() as session:
            return _record(_one(session, task_id, account_id))

    def list_tasks(
        self, account_id: str, status: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[TaskRecord]:
        """An account's tasks, newest first, optionally of one status."""
        stmt = select(TaskRow).where(TaskRow.account_id == account_id)
        if status is not None:
            if status not in TASK_STATUSES:
                raise ConfigurationError(f"task status must be one of {', '.join(TASK_STATUSES)}")
            stmt = stmt.where(TaskRow.status == status)
        stmt = stmt.order_by(TaskRow.created_at.desc(), TaskRow.id.desc()).limit(max(limit, 0))
        with self._read() as session:
            return [_record(r) for r in session.scalars(stmt.offset(max(offset, 0)))]

    def find_unfinished(self, account_id: str, kind: str, **payload: str) -> TaskRecord | None:
        """A QUEUED or RUNNING task of `kind` whose payload has these string values, if any."""
        stmt = select(TaskRow).where(
            TaskRow.account_id == account_id,
            TaskRow.status.in_(("QUEUED", "RUNNING")),
            TaskRow.kind == kind,
        )
        for name, value in payload.items():
            stmt = stmt.where(TaskRow.payload[name].as_string() == value)
        with self._read() as session:
            row = session.scalars(stmt.limit(1)).first()
            return _record(row) if row is not None else None

    def cancel(self, task_id: str, account_id: str) -> TaskRecord:
        """Stop a task from running (again). A RUNNING task's lease is revoked, so its worker finds
        out at its next heartbeat and its outcome is refused. A finished task is returned unchanged."""
        with self._write() as session:
            row = _one(session, task_id, account_id, for_update=True)
            if row.status not in FINISHED_STATUSES:
                row.status, row.finished_at = "CANCELLED", self._clock()
                row.lease_token += 1
                row.lease_expires_at = None
            return _record(row)

    def delete_finished(self, before: datetime, account_id: str | None = None) -> int:
        """Purge tasks that finished before `before` (freeing their de-duplication keys); returns how many."""
        stmt = delete(TaskRow).where(
            TaskRow.status.in_(sorted(FINISHED_STATUSES)), TaskRow.finished_at < before
        )
        if account_id is not None:
            stmt = stmt.where(TaskRow.account_id == account_id)
        with self._writer.begin() as conn:
            return int(conn.execute(stmt).rowcount)

    # -- queues --------------------------------------------------------------------------------

    def pause(self, account_id: str) -> QueueStats:
        """Stop starting the account's tasks. They stay queued; tasks already running finish."""
        self._set_queue(account_id, paused=True)
        return self.stats(account_id)

    def resume(self, account_id: str) -> QueueStats:
        self._set_queue(account_id, paused=False)
        return self.stats(account_id)

    def set_max_running(self, account_id: str, max_running: int | None) -> QueueStats:
        """Override the account's running limit; None goes back to the settings' default."""
        if max_running is not None and max_running < 1:
            raise ConfigurationError(f"max_running must be at least 1, got {max_running}")
        self._set_queue(account_id, max_running=max_running)
        return self.stats(account_id)

    def stats(self, account_id: str) -> QueueStats:
        now = self._clock()
        with self._read() as session:
            queue = session.get(TaskQueueRow, account_id)
            counts = dict(
                session.execute(
                    select(TaskRow.status, func.count())
                    .where(TaskRow.account_id == account_id, TaskRow.status.in_(("QUEUED", "FAILED")))
                    .group_by(TaskRow.status)
                ).all()
            )
            running = session.execute(
                select(func.count()).where(TaskRow.account_id == account_id, is_live(now))
            ).scalar_one()
            stalled = session.execute(
                select(func.count()).where(
                    TaskRow.account_id == account_id,
                    TaskRow.status == "RUNNING",
                    TaskRow.lease_expires_at <= now,
                    TaskRow.attempts < TaskRow.max_attempts,
                )
            ).scalar_one()
        limit = queue.max_running if queue is not None and queue.max_running is not None else None
        return QueueStats(
            account_id=account_id,
            depth=int(counts.get("QUEUED", 0)) + int(stalled),
            running=int(running),
            failed=int(counts.get("FAILED", 0)),
            paused=bool(queue is not None and queue.paused),
            max_running=self.settings.max_running_per_account if limit is None else limit,
        )

    def _set_queue(self, account_id: str, **values: Any) -> None:
        now = self._clock()
        try:
            with self._writer.begin() as conn:
                conn.execute(
                    _statements(conn.dialect.name).ensure_queue, {"account_id": account_id, "now": now}
                )
                conn.execute(
                    update(TaskQueueRow)
                    .where(TaskQueueRow.account_id == account_id)
                    .values(updated_at=now, **values)
                )
        except IntegrityError:
            raise NotFoundError(f"account '{account_id}' not found", account_id=account_id) from None


@dataclass(frozen=True)
class _Statements:
    ensure_queue: Executable
    insert_task: Executable
    find_by_key: Executable
    heartbeat: Executable
    complete: Executable
    release: Executable


@functools.cache
def _statements(dialect: str) -> _Statements:
    """The hot statements, built once per dialect (building costs more than running them)."""
    if dialect == "postgresql":
        insert: Callable[[Any], Any] = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:
        raise NotImplementedError(f"the task queue is not implemented for {dialect}")
    now = bindparam("now", type_=UtcDateTime())
    held = (
        TaskRow.id == bindparam("task_id"),
        TaskRow.lease_token == bindparam("token"),
        TaskRow.status == "RUNNING",
    )
    return _Statements(
        ensure_queue=insert(TaskQueueRow)
        .values(account_id=bindparam("account_id"), paused=False, max_running=None, updated_at=now)
        .on_conflict_do_nothing(index_elements=[TaskQueueRow.account_id]),
        insert_task=insert(TaskRow)
        .on_conflict_do_nothing(index_elements=[TaskRow.account_id, TaskRow.dedup_key])
        .returning(TaskRow.id),
        find_by_key=select(TaskRow.__table__).where(
            TaskRow.account_id == bindparam("account_id"), TaskRow.dedup_key == bindparam("dedup_key")
        ),
        heartbeat=update(TaskRow).where(*held).values(lease_expires_at=bindparam("expires")),
        complete=update(TaskRow)
        .where(*held)
        .values(status="SUCCEEDED", result=bindparam("result"), finished_at=now, lease_expires_at=None),
        release=update(TaskRow)
        .where(*held)
        .values(status="QUEUED", run_after=now, attempts=TaskRow.attempts - 1, lease_expires_at=None),
    )


def _one(session: Session, task_id: str, account_id: str | None, *, for_update: bool = False) -> TaskRow:
    stmt = select(TaskRow).where(TaskRow.id == task_id)
    if account_id is not None:
        stmt = stmt.where(TaskRow.account_id == account_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).one_or_none()
    if row is None:
        raise NotFoundError(f"task '{task_id}' not found", task_id=task_id)
    return row


def _serialised(value: Any, *, what: str = "task payload") -> bytes:
    if what == "task payload" and not isinstance(value, Mapping):
        raise ConfigurationError(f"a task payload is a JSON object, not {type(value).__name__}")
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{what} is not JSON-serialisable: {exc}") from None


def _describe(error: BaseException | str) -> tuple[str, str | None]:
    if isinstance(error, str):
        message, error_class = error, None
    else:
        message = str(error) or type(error).__name__
        error_class = type(error).__name__
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 1] + "…"
    return message, error_class


def _check_kind(kind: str) -> None:
    if not kind or len(kind) > 64:
        raise ConfigurationError("a task kind is 1 to 64 characters")


def _check_lease(lease_seconds: float) -> None:
    if lease_seconds <= 0:
        raise ValueError(f"a lease must be positive, got {lease_seconds}")


def _record(row: TaskRow) -> TaskRecord:
    return TaskRecord(
        id=row.id,
        account_id=row.account_id,
        kind=row.kind,
        payload=row.payload,
        priority=row.priority,
        status=row.status,
        run_after=row.run_after,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        dedup_key=row.dedup_key,
        lease_owner=row.lease_owner,
        lease_token=row.lease_token,
        lease_expires_at=row.lease_expires_at,
        last_error=row.last_error,
        error_class=row.error_class,
        result=row.result,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )
