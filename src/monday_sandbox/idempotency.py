"""`Idempotency-Key` on mutations: replay the first answer for 30 minutes, 409 while one is running."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

from monday_sandbox.clock import Clock

REPLAY_FOR = timedelta(minutes=30)


@dataclass
class StoredResponse:
    status: int
    body: bytes
    headers: dict[str, str]


class IdempotencyCache:
    """Keys are scoped by token, so two callers never see each other's answers."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._done: dict[tuple[str, str], tuple[float, StoredResponse]] = {}
        self._running: set[tuple[str, str]] = set()

    def begin(self, token: str, key: str) -> StoredResponse | bool:
        """A stored response to replay, True if the caller may run it, False if one is in flight."""
        now = self.clock.timestamp()
        with self._lock:
            found = self._done.get((token, key))
            if found is not None:
                if found[0] > now:
                    return found[1]
                del self._done[(token, key)]
            if (token, key) in self._running:
                return False
            self._running.add((token, key))
            return True

    def finish(self, token: str, key: str, response: StoredResponse | None) -> None:
        """Store the answer (None: forget the key, e.g. the request failed before running)."""
        with self._lock:
            self._running.discard((token, key))
            if response is not None:
                expires = self.clock.timestamp() + REPLAY_FOR.total_seconds()
                self._done[(token, key)] = (expires, response)
            if len(self._done) > 10_000:
                now = self.clock.timestamp()
                for k in [k for k, (exp, _) in self._done.items() if exp <= now]:
                    del self._done[k]

    def clear(self) -> None:
        with self._lock:
            self._done.clear()
            self._running.clear()
