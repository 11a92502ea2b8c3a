"""The claim statement, the one place where SQLite and PostgreSQL differ.

Both pick due tasks (QUEUED with `run_after <= now`, or RUNNING under a lease that ran out: a dead
worker's task) of unpaused queues, highest priority first then oldest, and never let an account's
live leases exceed its running limit.

- SQLite serialises writers (`BEGIN IMMEDIATE`), so one `UPDATE ... WHERE id IN (ranked candidates)
  RETURNING ...` is atomic: a window function ranks each account's candidates and keeps as many as
  the account has free slots.
- PostgreSQL lets claimers run side by side: candidates are locked `FOR UPDATE SKIP LOCKED` (so
  claimers never wait for or take each other's rows), then the candidates' queue rows are locked
  `FOR UPDATE` in account order before their running tasks are counted. The count therefore sees
  every claim committed before it, and no two claimers can both fill an account's last slot.

Statements are built once, with bind parameters: building SQLAlchemy statements costs more Python
time than the database spends running them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Executable,
    Integer,
    Select,
    Update,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from monday_snowflake.queue.records import ClaimedTask
from monday_snowflake.store.tables import TaskQueueRow, TaskRow, UtcDateTime

LEASE_EXPIRED_ERROR = "LeaseExpired"
"""`error_class` of a task that ended because the worker of its last attempt stopped answering."""

_NOW = bindparam("now", type_=UtcDateTime())
_ORDER = (TaskRow.priority.desc(), TaskRow.run_after, TaskRow.created_at, TaskRow.id)
_CLAIMED_COLUMNS = (
    TaskRow.id,
    TaskRow.account_id,
    TaskRow.kind,
    TaskRow.payload,
    TaskRow.priority,
    TaskRow.attempts,
    TaskRow.max_attempts,
    TaskRow.dedup_key,
    TaskRow.lease_owner,
    TaskRow.lease_token,
    TaskRow.lease_expires_at,
    TaskRow.run_after,
    TaskRow.created_at,
)


def claim_tasks(
    conn: Connection,
    worker_id: str,
    *,
    now: datetime,
    limit: int,
    lease_seconds: float,
    default_max_running: int,
    kinds: Sequence[str] | None,
) -> list[ClaimedTask]:
    """Claim up to `limit` tasks for `worker_id` inside the connection's (write) transaction."""
    if limit <= 0 or (kinds is not None and not kinds):
        return []
    dialect = conn.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"the task queue is not implemented for {dialect}")
    statements = _statements(dialect, kinds is not None)
    params: dict[str, Any] = {
        "now": now,
        "expires": now + timedelta(seconds=lease_seconds),
        "worker_id": worker_id,
        "limit": limit,
        "scan": _scan_size(limit),
        "default_max": default_max_running,
    }
    if kinds is not None:
        params["kinds"] = list(kinds)
    conn.execute(statements.fail_exhausted, params)
    if dialect == "postgresql":
        rows = _claim_postgresql(conn, statements, params)
    else:
        rows = list(conn.execute(statements.claim, params).all())
    rows.sort(key=lambda r: (-r.priority, r.run_after, r.created_at, r.id))
    return [
        ClaimedTask(
            id=r.id,
            account_id=r.account_id,
            kind=r.kind,
            payload=r.payload,
            priority=r.priority,
            attempt=r.attempts,
            max_attempts=r.max_attempts,
            dedup_key=r.dedup_key,
            lease_owner=r.lease_owner,
            lease_token=r.lease_token,
            lease_expires_at=r.lease_expires_at,
        )
        for r in rows
    ]


def is_due(now: ColumnElement[Any] | datetime) -> ColumnElement[bool]:
    """Tasks a claim may take: waiting and due, or running under a lease that ran out with attempts left."""
    return or_(
        and_(TaskRow.status == "QUEUED", TaskRow.run_after <= now),
        and_(
            TaskRow.status == "RUNNING",
            TaskRow.lease_expires_at <= now,
            TaskRow.attempts < TaskRow.max_attempts,
        ),
    )


def is_live(now: ColumnElement[Any] | datetime) -> ColumnElement[bool]:
    """Tasks that count against their account's running limit: RUNNING under a live lease."""
    return and_(TaskRow.status == "RUNNING", TaskRow.lease_expires_at > now)


@dataclass(frozen=True)
class _Statements:
    fail_exhausted: Executable
    claim: Executable  # SQLite: the whole claim; PostgreSQL: the final UPDATE of the chosen ids
    candidates: Executable | None = None
    lock_queues: Executable | None = None
    count_running: Executable | None = None


@functools.cache
def _statements(dialect: str, with_kinds: bool) -> _Statements:
    take = update(TaskRow).values(
        status="RUNNING",
        attempts=TaskRow.attempts + 1,
        lease_token=TaskRow.lease_token + 1,
        lease_owner=bindparam("worker_id"),
        lease_expires_at=bindparam("expires"),
        started_at=_NOW,
    )
    if dialect == "sqlite":
        return _Statements(_fail_exhausted(), _claim_sqlite(take, with_kinds))
    accounts: BindParameter[Any] = bindparam("accounts", expanding=True)
    return _Statements(
        fail_exhausted=_fail_exhausted(),
        claim=take.where(TaskRow.id.in_(bindparam("ids", expanding=True))).returning(*_CLAIMED_COLUMNS),
        candidates=_eligible((TaskRow.id, TaskRow.account_id), with_kinds)
        .order_by(*_ORDER)
        .limit(bindparam("scan"))
        .with_for_update(of=TaskRow, skip_locked=True),
        lock_queues=select(TaskQueueRow.account_id, TaskQueueRow.paused, TaskQueueRow.max_running)
        .where(TaskQueueRow.account_id.in_(accounts))
        .order_by(TaskQueueRow.account_id)
        .with_for_update(),
        count_running=select(TaskRow.account_id, func.count())
        .where(TaskRow.account_id.in_(accounts), is_live(_NOW))
        .group_by(TaskRow.account_id),
    )


def _fail_exhausted() -> Update:
    """End tasks whose last attempt's lease ran out: a task that kills its worker every time must not
    be taken over forever. Rows another claimer holds are skipped (PostgreSQL); a later claim ends them."""
    exhausted = (
        select(TaskRow.id)
        .where(
            TaskRow.status == "RUNNING",
            TaskRow.lease_expires_at <= _NOW,
            TaskRow.attempts >= TaskRow.max_attempts,
        )
        .with_for_update(skip_locked=True)
    )
    return (
        update(TaskRow)
        .where(TaskRow.id.in_(exhausted))
        .values(
            status="FAILED",
            finished_at=_NOW,
            lease_expires_at=None,
            error_class=LEASE_EXPIRED_ERROR,
            last_error="the worker running the last attempt stopped answering (its lease ran out)",
        )
    )


def _eligible(columns: Sequence[Any], with_kinds: bool) -> Select[Any]:
    """Due tasks of unpaused queues whose account has a free slot, as this statement's snapshot sees it."""
    live = aliased(TaskRow)
    running = (
        select(live.account_id, func.count().label("n"))
        .where(live.status == "RUNNING", live.lease_expires_at > _NOW)
        .group_by(live.account_id)
        .subquery("running")
    )
    default_max = bindparam("default_max", type_=Integer())
    free = func.coalesce(TaskQueueRow.max_running, default_max) - func.coalesce(running.c.n, 0)
    stmt = (
        select(*columns, free.label("free"))
        .select_from(TaskRow)
        .join(TaskQueueRow, TaskQueueRow.account_id == TaskRow.account_id)
        .outerjoin(running, running.c.account_id == TaskRow.account_id)
        .where(TaskQueueRow.paused.is_(False), is_due(_NOW), free > 0)
    )
    if with_kinds:
        stmt = stmt.where(TaskRow.kind.in_(bindparam("kinds", expanding=True)))
    return stmt


def _claim_sqlite(take: Update, with_kinds: bool) -> Update:
    # Rank only the first few candidates: enough to fill `limit` even when some accounts have
    # fewer free slots than candidates, without sorting the whole backlog on every claim.
    head = (
        _eligible(
            (TaskRow.id, TaskRow.account_id, TaskRow.priority, TaskRow.run_after, TaskRow.created_at),
            with_kinds,
        )
        .order_by(*_ORDER)
        .limit(bindparam("scan"))
        .subquery("head")
    )
    order = (head.c.priority.desc(), head.c.run_after, head.c.created_at, head.c.id)
    ranked = select(
        head.c.id,
        head.c.free,
        func.row_number().over(partition_by=head.c.account_id, order_by=order).label("rank"),
        head.c.priority,
        head.c.run_after,
        head.c.created_at,
    ).subquery("ranked")
    chosen = (
        select(ranked.c.id)
        .where(ranked.c.rank <= ranked.c.free)
        .order_by(ranked.c.priority.desc(), ranked.c.run_after, ranked.c.created_at, ranked.c.id)
        .limit(bindparam("limit"))
    )
    return take.where(TaskRow.id.in_(chosen)).returning(*_CLAIMED_COLUMNS)


def _claim_postgresql(conn: Connection, statements: _Statements, params: dict[str, Any]) -> list[Any]:
    assert statements.candidates is not None
    assert statements.lock_queues is not None and statements.count_running is not None
    candidates = conn.execute(statements.candidates, params).all()
    if not candidates:
        return []
    accounts = sorted({c.account_id for c in candidates})
    queues = conn.execute(statements.lock_queues, {"accounts": accounts}).all()
    counts = conn.execute(statements.count_running, {"accounts": accounts, "now": params["now"]}).all()
    running: dict[str, int] = {account_id: count for account_id, count in counts}
    default_max = params["default_max"]
    free = {
        q.account_id: 0
        if q.paused
        else (default_max if q.max_running is None else q.max_running) - running.get(q.account_id, 0)
        for q in queues
    }
    chosen: list[str] = []
    for candidate in candidates:  # already in claim order
        if len(chosen) == params["limit"]:
            break
        if free.get(candidate.account_id, 0) > 0:
            free[candidate.account_id] -= 1
            chosen.append(candidate.id)
    if not chosen:
        return []
    return list(conn.execute(statements.claim, {**params, "ids": chosen}).all())


def _scan_size(limit: int) -> int:
    """How many candidates to look at to claim `limit`: some may belong to accounts with fewer free slots."""
    return limit * 2 + 8
