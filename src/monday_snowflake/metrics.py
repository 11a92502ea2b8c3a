"""Counters kept by each process: calls to monday and Snowflake and how many failed, and task
outcomes. Prometheus turns them into rates (`rate(monday_snowflake_monday_errors_total[5m])`).

They live in this process only, as Prometheus counters do: `serve` shows them at `/metrics` next to
the queue gauges read from the database, and `worker --metrics-port N` serves its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily

disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` series double the output and say nothing an operator needs

MONDAY_REQUESTS = Counter(
    "monday_snowflake_monday_requests", "Requests sent to the monday API", registry=None
)
MONDAY_ERRORS = Counter(
    "monday_snowflake_monday_errors",
    "monday API requests that failed, by error class",
    ["error"],
    registry=None,
)
SNOWFLAKE_STATEMENTS = Counter(
    "monday_snowflake_snowflake_statements",
    "Statements and connects sent to Snowflake, by kind (dml, query, ddl, load, transaction, connect)",
    ["kind"],
    registry=None,
)
SNOWFLAKE_ERRORS = Counter(
    "monday_snowflake_snowflake_errors",
    "Snowflake statements and connects that failed, by error class",
    ["error"],
    registry=None,
)
TASKS = Counter(
    "monday_snowflake_tasks",
    "Task attempts by kind and outcome (completed, retried, failed: failed for good)",
    ["kind", "outcome"],
    registry=None,
)

ALERTS = Counter(
    "monday_snowflake_alerts",
    "Alerts opened by this process, by cause (a repeat of an open alert is not counted)",
    ["cause"],
    registry=None,
)
EMAILS = Counter(
    "monday_snowflake_emails",
    "Alert email attempts by outcome (sent, logged, retried, failed)",
    ["outcome"],
    registry=None,
)

PROCESS_COLLECTORS = (
    MONDAY_REQUESTS,
    MONDAY_ERRORS,
    SNOWFLAKE_STATEMENTS,
    SNOWFLAKE_ERRORS,
    TASKS,
    ALERTS,
    EMAILS,
)


class OpenAlertsCollector:
    """`monday_snowflake_alerts_open{cause}`: open alerts by cause, read from the state database at
    each scrape, so every process shows the same numbers."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Any]:
        family = GaugeMetricFamily("monday_snowflake_alerts_open", "Open alerts by cause", labels=["cause"])
        for cause, count in sorted(self._counts().items()):
            family.add_metric([cause], count)
        yield family


def process_registry() -> CollectorRegistry:
    """A registry holding this process's counters; add the queue collector to it to serve both."""
    registry = CollectorRegistry()
    for collector in PROCESS_COLLECTORS:
        registry.register(collector)
    return registry


_STATEMENT_KINDS = {
    "INSERT": "dml", "UPDATE": "dml", "DELETE": "dml", "MERGE": "dml", "COPY": "dml",
    "SELECT": "query", "SHOW": "query", "DESCRIBE": "query", "WITH": "query",
    "PUT": "load", "REMOVE": "load",
    "BEGIN": "transaction", "COMMIT": "transaction", "ROLLBACK": "transaction",
}  # fmt: skip


def statement_kind(statement: str) -> str:
    """What a statement does, by its first word: `dml` writes rows (INSERT, UPDATE, DELETE, MERGE,
    COPY), `query` reads, `load` moves files, `transaction` brackets, `ddl` is everything else."""
    first = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    return _STATEMENT_KINDS.get(first, "ddl")


def count_error(counter: Counter, error: BaseException) -> None:
    counter.labels(type(error).__name__).inc()
