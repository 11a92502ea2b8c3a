"""Task handlers and the transport-free step of running one: context in, outcome out.

This is the seam between work and transport. A handler sees only a `TaskContext` (what to do, for
which account, which attempt) and returns a JSON-able result or raises. `execute` runs it and
classifies what happened into an `Outcome`; the transport decides what that means. The pull
`Worker` turns an outcome into `complete` / `fail` on the SQL queue; a Cloud Tasks push endpoint
would answer 2xx, or 5xx with Retry-After so Cloud Tasks retries, or 2xx-and-record for a final
failure. Neither handlers nor `execute` import anything of the queue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from monday_snowflake.errors import (
    AlreadyRunningError,
    AuthenticationError,
    ConfigurationError,
    PermanentError,
    RateLimitedError,
    TransientError,
)

PAUSE_ON_DEFAULT: tuple[type[BaseException], ...] = (AuthenticationError,)
"""Errors after which the account's whole queue is paused: its other tasks would fail the same way
until a person fixes the credential. A missing permission or privilege concerns one board or table,
so it fails its own integration's work only (and raises its alert)."""


@dataclass(frozen=True)
class TaskContext:
    """What a handler is told about the task it runs."""

    task_id: str
    account_id: str
    kind: str
    payload: dict[str, Any]
    attempt: int
    """1 on the first run; a retry or a take-over after a dead worker counts up."""
    max_attempts: int
    dedup_key: str | None = None

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


Handler = Callable[[TaskContext], Awaitable[Any]]
"""Runs one task. Returns a JSON-serialisable result (or None); raises to fail. Must be idempotent:
a task runs at least once, and a dead worker's task runs again elsewhere."""


@dataclass(frozen=True)
class Outcome:
    """What came of running a task once."""

    succeeded: bool
    result: Any = None
    error: BaseException | None = None
    retry: bool = False
    """Worth another attempt (if the task has attempts left)."""
    retry_after: float | None = None
    """Seconds the other side asked us to wait before the next attempt."""
    pause_queue: bool = False
    """The account's queue should stop until a person acts."""
    waiting: bool = False
    """Not a failure but a wait (another run holds the integration's lock): the attempt is not
    counted, so a task behind a long run, or behind a dead worker's lock, never runs out of them."""


def classify(
    error: BaseException, *, pause_on: tuple[type[BaseException], ...] = PAUSE_ON_DEFAULT
) -> Outcome:
    """The outcome of a handler that raised `error`, read from the error tree.

    Transient errors and lock conflicts (another run of the integration holds its lock) retry;
    permanent and configuration errors fail at once; anything unknown retries, up to the task's
    attempt limit, since a bug and a blip look alike from here.
    """
    retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
    if isinstance(error, TransientError | AlreadyRunningError):
        retry = True
    elif isinstance(error, PermanentError | ConfigurationError):
        retry = False
    else:
        retry = True
    return Outcome(
        succeeded=False,
        error=error,
        retry=retry,
        retry_after=retry_after,
        pause_queue=isinstance(error, pause_on),
        waiting=isinstance(error, AlreadyRunningError),
    )


async def execute(
    handlers: Mapping[str, Handler],
    context: TaskContext,
    *,
    pause_on: tuple[type[BaseException], ...] = PAUSE_ON_DEFAULT,
) -> Outcome:
    """Run the handler for `context.kind` once. Never raises, except cancellation."""
    handler = handlers.get(context.kind)
    if handler is None:
        error = ConfigurationError(f"no handler for task kind '{context.kind}'", kind=context.kind)
        return Outcome(succeeded=False, error=error, retry=False)
    try:
        result = await handler(context)
    except Exception as error:
        return classify(error, pause_on=pause_on)
    return Outcome(succeeded=True, result=result)
