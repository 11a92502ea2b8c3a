"""What the task queue hands out: plain frozen dataclasses, and the error a stale lease holder gets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from monday_snowflake.errors import MondaySnowflakeError

TaskStatus = Literal["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
FINISHED_STATUSES: frozenset[str] = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
MAX_PAYLOAD_BYTES = 1_048_576
"""A task's payload, serialised as compact JSON, may be at most 1 MB (as on Cloud Tasks)."""


@dataclass(frozen=True)
class TaskRecord:
    """One task as stored. `attempts` counts claims; `lease_token` is the current holder's fencing token."""

    id: str
    account_id: str
    kind: str
    payload: dict[str, Any]
    priority: int
    status: str
    run_after: datetime
    attempts: int
    max_attempts: int
    dedup_key: str | None
    lease_owner: str | None
    lease_token: int
    lease_expires_at: datetime | None
    last_error: str | None
    error_class: str | None
    result: Any
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


@dataclass(frozen=True)
class ClaimedTask:
    """A task a worker now holds until `lease_expires_at`; it acts on it by presenting `lease_token`."""

    id: str
    account_id: str
    kind: str
    payload: dict[str, Any]
    priority: int
    attempt: int
    max_attempts: int
    dedup_key: str | None
    lease_owner: str
    lease_token: int
    lease_expires_at: datetime


@dataclass(frozen=True)
class QueueStats:
    """An account's queue at a glance.

    `depth` counts tasks waiting to run: QUEUED ones (due or not) and RUNNING ones whose lease ran out
    (their worker is gone; the next claim takes them). `running` counts live leases, which is what the
    running limit `max_running` applies to.
    """

    account_id: str
    depth: int
    running: int
    failed: int
    paused: bool
    max_running: int


class LeaseLostError(MondaySnowflakeError):
    """The caller's lease token is no longer current: the task was taken over, cancelled or finished.

    A worker that gets this must drop the task: a newer holder (or nobody, if it was cancelled) owns it.
    """

    def __init__(self, task_id: str, lease_token: int) -> None:
        super().__init__(
            f"the lease on task {task_id} was lost (token {lease_token} is no longer current); "
            "another worker may have taken it over",
            task_id=task_id,
            lease_token=lease_token,
        )
        self.task_id = task_id
        self.lease_token = lease_token
