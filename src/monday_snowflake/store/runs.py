"""Run history: runs of an integration and their subtasks, with outcome, duration and throughput."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from monday_snowflake.errors import NotFoundError
from monday_snowflake.store.base import StoreBase, find_integration, one_row
from monday_snowflake.store.records import FinishedStatus, RunRecord, SubtaskRecord
from monday_snowflake.store.tables import RunRow, SubtaskRow


class RunHistory(StoreBase):
    """The run-recording half of `Store`."""

    def start_run(
        self,
        integration_id: str,
        kind: str,
        correlation_id: str | None = None,
        *,
        account_id: str | None = None,
        run_id: str | None = None,
    ) -> str:
        """Record a run as RUNNING; returns its id (`run_id` when given: an id promised earlier)."""
        with self._write() as session:
            integration = find_integration(session, integration_id, account_id)
            row = RunRow(
                **({"id": run_id} if run_id else {}),
                integration_id=integration.id,
                account_id=integration.account_id,
                kind=kind,
                status="RUNNING",
                started_at=self._clock(),
                correlation_id=correlation_id,
                rows_processed=0,
                rows_failed=0,
                metrics={},
            )
            session.add(row)
        return row.id

    def start_subtask(self, run_id: str, name: str, *, account_id: str | None = None) -> str:
        with self._write() as session:
            run = one_row(session, RunRow, run_id, account_id, "run")
            row = SubtaskRow(
                run_id=run.id,
                name=name,
                status="RUNNING",
                started_at=self._clock(),
                rows_processed=0,
                rows_failed=0,
            )
            session.add(row)
        return row.id

    def finish_subtask(
        self,
        subtask_id: str,
        status: FinishedStatus,
        *,
        rows_processed: int = 0,
        rows_failed: int = 0,
        error: str | None = None,
    ) -> None:
        _check_finished(status)
        with self._write() as session:
            row = session.get(SubtaskRow, subtask_id)
            if row is None:
                raise NotFoundError(f"subtask '{subtask_id}' not found")
            row.completed_at = self._clock()
            row.status, row.rows_processed, row.rows_failed, row.error = (
                status,
                rows_processed,
                rows_failed,
                error,
            )
            row.duration_seconds = (row.completed_at - row.started_at).total_seconds()

    def finish_run(
        self,
        run_id: str,
        status: FinishedStatus,
        *,
        rows_processed: int,
        rows_failed: int,
        error: str | None = None,
        error_class: str | None = None,
        metrics: dict[str, Any] | None = None,
        kind: str | None = None,
        account_id: str | None = None,
    ) -> RunRecord:
        """Record a run's outcome, its duration and throughput. Subtasks still RUNNING end with it.
        `kind` replaces the kind given at the start (a run may decide it once it has looked around)."""
        _check_finished(status)
        with self._write() as session:
            row = one_row(session, RunRow, run_id, account_id, "run", load_subtasks=True)
            if row.status != "RUNNING":
                raise ValueError(f"run {run_id} already finished as {row.status}")
            now = self._clock()
            duration = max((now - row.started_at).total_seconds(), 0.0)
            row.status, row.completed_at, row.duration_seconds = status, now, duration
            row.rows_processed, row.rows_failed = rows_processed, rows_failed
            row.throughput = rows_processed / duration if duration > 0 else None
            row.error, row.error_class, row.metrics = error, error_class, dict(metrics or {})
            row.kind = kind or row.kind
            for subtask in row.subtasks:
                if subtask.status == "RUNNING":
                    subtask.status, subtask.completed_at = status, now
                    subtask.duration_seconds = (now - subtask.started_at).total_seconds()
                    if status == "FAILED":
                        subtask.error = "the run ended before this step finished"
            return _run(row)

    def recent_run_summary(self, hours: float = 1.0) -> dict[str, Any]:
        """Runs started in the last `hours`: counts by status, mean rows/s and mean seconds (metrics)."""
        since = self._clock() - timedelta(hours=hours)
        with self._read() as session:
            rows = session.execute(
                select(
                    RunRow.status,
                    func.count(),
                    func.avg(RunRow.throughput),
                    func.avg(RunRow.duration_seconds),
                )
                .where(RunRow.started_at >= since)
                .group_by(RunRow.status)
            ).all()
        finished = [row for row in rows if row[0] == "COMPLETED"]
        return {
            "by_status": {str(row[0]): int(row[1]) for row in rows},
            "mean_throughput": float(finished[0][2] or 0.0) if finished else 0.0,
            "mean_seconds": float(finished[0][3] or 0.0) if finished else 0.0,
        }

    def get_run(self, run_id: str, account_id: str | None = None) -> RunRecord:
        with self._read() as session:
            return _run(one_row(session, RunRow, run_id, account_id, "run", load_subtasks=True))

    def list_runs(
        self, integration_id: str, limit: int = 20, offset: int = 0, *, account_id: str | None = None
    ) -> list[RunRecord]:
        """An integration's runs, newest first."""
        with self._read() as session:
            integration = find_integration(session, integration_id, account_id)
            stmt = (
                select(RunRow)
                .where(RunRow.integration_id == integration.id, RunRow.account_id == integration.account_id)
                .options(selectinload(RunRow.subtasks))
                .order_by(RunRow.started_at.desc(), RunRow.id.desc())
                .limit(max(limit, 0))
                .offset(max(offset, 0))
            )
            return [_run(r) for r in session.scalars(stmt)]


def _check_finished(status: str) -> None:
    if status not in ("COMPLETED", "FAILED"):
        raise ValueError(f"a run or subtask finishes as COMPLETED or FAILED, not {status!r}")


def _subtask(row: SubtaskRow) -> SubtaskRecord:
    return SubtaskRecord(
        row.id,
        row.run_id,
        row.name,
        row.status,
        row.started_at,
        row.completed_at,
        row.rows_processed,
        row.rows_failed,
        row.error,
        row.duration_seconds,
    )


def _run(row: RunRow) -> RunRecord:
    return RunRecord(
        id=row.id,
        integration_id=row.integration_id,
        account_id=row.account_id,
        kind=row.kind,
        status=row.status,
        started_at=row.started_at,
        completed_at=row.completed_at,
        error=row.error,
        error_class=row.error_class,
        correlation_id=row.correlation_id,
        rows_processed=row.rows_processed,
        rows_failed=row.rows_failed,
        duration_seconds=row.duration_seconds,
        throughput=row.throughput,
        metrics=dict(row.metrics or {}),
        subtasks=tuple(_subtask(s) for s in row.subtasks),
    )
