"""An injectable clock: cursors, budgets, idempotency keys and webhook retries all read it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time plus an offset; frozen at `start` when one is given.

    `advance(seconds)` moves it forward (tests expire cursors and budgets instantly this way) and
    `set(when)` jumps to an absolute instant.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._frozen = start.astimezone(UTC) if start is not None else None
        self._offset = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return datetime.now(UTC) + self._offset

    def timestamp(self) -> float:
        return self.now().timestamp()

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            if self._frozen is not None:
                self._frozen += timedelta(seconds=seconds)
            else:
                self._offset += timedelta(seconds=seconds)
        return self.now()

    def set(self, when: datetime) -> None:
        with self._lock:
            when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
            if self._frozen is not None:
                self._frozen = when
            else:
                self._offset = when - datetime.now(UTC)

    @property
    def is_frozen(self) -> bool:
        return self._frozen is not None
