"""Retry policy as a value: how many attempts, how long to wait between them, and when to give up.

Every adapter retries through `run_with_retry`, so there is one retry loop in the product.
"""

from __future__ import annotations

import logging
import random as _random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from monday_snowflake.errors import RateLimitedError, TransientError

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring a server-given `retry_after`.

    `max` caps one computed delay; a server asking for a wait longer than `max` is not waited for in
    process (e.g. a daily limit): the error is raised with its `retry_after` so a scheduler can act.
    """

    max_attempts: int = 6
    base: float = 0.5
    max: float = 60.0

    def delay(
        self, attempt: int, retry_after: float | None = None, *, random: Callable[[], float] = _random.random
    ) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based) before the next one."""
        if retry_after is not None:
            return retry_after if retry_after > 0 else 0.0
        ceiling = self.base * 2.0 ** min(attempt - 1, 62)
        if ceiling > self.max:
            ceiling = self.max
        return random() * ceiling

    def gives_up(self, attempt: int, retry_after: float | None = None) -> bool:
        """True when failed attempt `attempt` should be the last one."""
        if attempt >= self.max_attempts:
            return True
        return retry_after is not None and retry_after > self.max


def _retry_after(error: BaseException) -> float | None:
    """How long the other side asked us to wait, if it said (rate limits, and some transient errors)."""
    if isinstance(error, RateLimitedError):
        return error.retry_after
    details = getattr(error, "details", None)
    value = details.get("retry_after") if isinstance(details, dict) else None
    return float(value) if isinstance(value, int | float) else None


def is_retryable(error: BaseException) -> bool:
    """Default predicate: transient errors are worth another attempt."""
    return isinstance(error, TransientError)


async def run_with_retry(
    policy: RetryPolicy,
    operation: Callable[[], Awaitable[T]],
    *,
    sleep: Callable[[float], Awaitable[None]],
    random: Callable[[], float] = _random.random,
    should_retry: Callable[[BaseException], bool] = is_retryable,
    describe: str = "operation",
) -> T:
    """Run `operation` until it succeeds, a non-retryable error occurs, or the policy gives up.

    The last error is re-raised unchanged (with `attempts` added to its details when it has them).
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await operation()
        except Exception as error:
            if not should_retry(error):
                raise
            retry_after = _retry_after(error)
            if policy.gives_up(attempt, retry_after):
                details = getattr(error, "details", None)
                if isinstance(details, dict):
                    details["attempts"] = attempt
                raise
            wait = policy.delay(attempt, retry_after, random=random)
            log.warning(
                "%s failed (attempt %d of %d, %s: %s); retrying in %.2fs",
                describe,
                attempt,
                policy.max_attempts,
                type(error).__name__,
                error,
                wait,
            )
            await sleep(wait)
