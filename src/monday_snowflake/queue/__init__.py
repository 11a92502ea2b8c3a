"""The durable task queue: tasks per account in the state database, and the workers that run them.

`TaskQueue` stores and hands out tasks (SQLite or PostgreSQL), `Worker` pulls and runs them, and
handlers see only a `TaskContext`, so another transport (Cloud Tasks push) can drive the same
handlers through `execute`.
"""

from monday_snowflake.queue.handlers import Handler, Outcome, TaskContext, classify, execute
from monday_snowflake.queue.records import (
    MAX_PAYLOAD_BYTES,
    ClaimedTask,
    LeaseLostError,
    QueueStats,
    TaskRecord,
    TaskStatus,
)
from monday_snowflake.queue.tasks import TaskQueue
from monday_snowflake.queue.worker import Worker, default_worker_id

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "ClaimedTask",
    "Handler",
    "LeaseLostError",
    "Outcome",
    "QueueStats",
    "TaskContext",
    "TaskQueue",
    "TaskRecord",
    "TaskStatus",
    "Worker",
    "classify",
    "default_worker_id",
    "execute",
]
