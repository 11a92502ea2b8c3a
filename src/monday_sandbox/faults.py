"""Fault knobs, global or per token: fail the next N requests, add latency, lock boards (423),
hide boards (the token's user behaves as if it had no access to them). In-process tests can also
schedule an action for the N-th request from now (`after_requests`), to make a fault strike mid-run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FAILURE_KINDS = ("500", "502", "429", "drop")


@dataclass
class FaultRule:
    fail_next: int = 0
    fail_with: str = "500"  # 500 | 502 | 429 | drop (close the connection without an answer)
    latency_ms: int = 0
    locked_boards: set[int] = field(default_factory=set)
    hidden_boards: set[int] = field(default_factory=set)

    def public(self) -> dict[str, Any]:
        return {
            "fail_next": self.fail_next,
            "fail_with": self.fail_with,
            "latency_ms": self.latency_ms,
            "locked_boards": sorted(self.locked_boards),
            "hidden_boards": sorted(self.hidden_boards),
        }


class FaultBook:
    """The knobs. `None` is the global rule; a token's own rule is consulted first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: dict[str | None, FaultRule] = {}
        self._triggers: list[list[Any]] = []  # [requests still to come, action]

    def configure(self, token: str | None = None, **knobs: Any) -> FaultRule:
        with self._lock:
            rule = self.rules.setdefault(token, FaultRule())
            if "fail_next" in knobs:
                rule.fail_next = max(0, int(knobs["fail_next"]))
            if "fail_with" in knobs:
                kind = str(knobs["fail_with"])
                if kind not in FAILURE_KINDS:
                    raise ValueError(f"fail_with must be one of {', '.join(FAILURE_KINDS)}")
                rule.fail_with = kind
            if "latency_ms" in knobs:
                rule.latency_ms = max(0, int(knobs["latency_ms"]))
            if "locked_boards" in knobs:
                rule.locked_boards = _board_ids(knobs["locked_boards"], "locked_boards")
            if "hidden_boards" in knobs:
                rule.hidden_boards = _board_ids(knobs["hidden_boards"], "hidden_boards")
            return rule

    def after_requests(self, count: int, action: Callable[[], None]) -> None:
        """Run `action` when the `count`-th request from now (any token) arrives, before it is answered:
        it may configure a fault for that very request, or change the sandbox (advance its clock)."""
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._triggers.append([count, action])

    def take_failure(self, token: str | None) -> str | None:
        """The failure to answer this request with, consuming one from the counter, or None."""
        self._fire_triggers()
        with self._lock:
            for key in (token, None):
                rule = self.rules.get(key)
                if rule is not None and rule.fail_next > 0:
                    rule.fail_next -= 1
                    return rule.fail_with
        return None

    def _fire_triggers(self) -> None:
        with self._lock:
            due = []
            for trigger in self._triggers:
                trigger[0] -= 1
                if trigger[0] == 0:
                    due.append(trigger[1])
            self._triggers = [t for t in self._triggers if t[0] > 0]
        for action in due:
            action()

    def latency_ms(self, token: str | None) -> int:
        with self._lock:
            return sum(r.latency_ms for k, r in self.rules.items() if k in (token, None))

    def locked(self, token: str | None, board_id: int) -> bool:
        with self._lock:
            return any(board_id in r.locked_boards for k, r in self.rules.items() if k in (token, None))

    def hidden_boards(self, token: str | None) -> frozenset[int]:
        """Boards this token's user can't see: its own rule's and the global rule's."""
        with self._lock:
            hidden: set[int] = set()
            for key, rule in self.rules.items():
                if key in (token, None):
                    hidden |= rule.hidden_boards
            return frozenset(hidden)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self._triggers.clear()

    def public(self) -> dict[str, Any]:
        with self._lock:
            return {("*" if k is None else k): r.public() for k, r in self.rules.items()}


def _board_ids(raw: Any, knob: str) -> set[int]:
    """A knob's list of board ids (numbers or numeric strings); null or [] clears it."""
    if raw is None:
        return set()
    if isinstance(raw, str | bytes | dict) or not hasattr(raw, "__iter__"):
        raise ValueError(f"{knob} must be a list of board ids")
    return {int(b) for b in raw}
