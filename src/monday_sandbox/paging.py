"""Cursors for `items_page` / `next_items_page`: opaque, server-side, 60 minutes from first issue.

A cursor holds a snapshot of the ordered, filtered item ids taken by the first page, so every item
is visited exactly once across pages even while items are being created, whatever the page size.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from monday_sandbox.clock import Clock
from monday_sandbox.errors import SandboxError, invalid_argument

CURSOR_TTL = timedelta(minutes=60)
MAX_PAGE = 500


@dataclass
class CursorState:
    board_id: int
    item_ids: list[int]
    position: int
    issued_at: datetime  # of the first page: the lifetime does not restart on use


class CursorStore:
    """Cursor string -> `CursorState`; expired entries are swept as new ones are issued."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, CursorState] = {}
        self._serial = 0

    def issue(self, board_id: int, item_ids: list[int], position: int, issued_at: datetime) -> str | None:
        if position >= len(item_ids):
            return None
        with self._lock:
            self._serial += 1
            raw = f"1,{board_id},{secrets.token_urlsafe(12)},{self._serial},{position}|{len(item_ids)}"
            cursor = base64.b64encode(raw.encode()).decode().rstrip("=")
            self._states[cursor] = CursorState(board_id, item_ids, position, issued_at)
            if self._serial % 256 == 0:
                self._sweep()
        return cursor

    def take(self, cursor: str) -> CursorState:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            decoded = base64.b64decode(padded.encode(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise invalid_argument("Invalid cursor", cursor=cursor) from None
        if "|" not in decoded:
            raise invalid_argument("Invalid cursor", cursor=cursor)
        with self._lock:
            state = self._states.get(cursor)
        if state is None or self.clock.now() - state.issued_at > CURSOR_TTL:
            raise SandboxError(
                "The cursor has expired or is no longer valid, please start a new items_page query",
                "CursorExpiredError",
            )
        return state

    def _sweep(self) -> None:
        now = self.clock.now()
        for key in [k for k, s in self._states.items() if now - s.issued_at > CURSOR_TTL]:
            del self._states[key]

    def clear(self) -> None:
        with self._lock:
            self._states.clear()


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise invalid_argument(
            f"The limit argument must be between 1 and {MAX_PAGE}, got {limit}", limit=limit
        )
