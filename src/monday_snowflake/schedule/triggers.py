"""The scheduler's periodic check of "query returns new rows" automation triggers (`app/triggers.py`):
at most once every `monday_app.trigger_check_seconds`, never raising into the scheduler loop."""

from __future__ import annotations

import time

from monday_snowflake.app.triggers import check_query_triggers
from monday_snowflake.logs import get_logger
from monday_snowflake.runtime import Runtime

log = get_logger(__name__)


class QueryTriggerCheck:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._last: float | None = None

    def tick(self) -> int:
        """Run the check if it is due; how many rows were posted."""
        every = self.runtime.settings.monday_app.trigger_check_seconds
        if self._last is not None and time.monotonic() - self._last < every:
            return 0
        self._last = time.monotonic()
        try:
            return check_query_triggers(self.runtime)
        except Exception as exc:  # the scheduler must outlive a bad check; the next one tries again
            log.warning("query trigger check failed", error=str(exc))
            return 0
