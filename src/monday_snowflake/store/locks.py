"""Per-integration run locks with a TTL and fencing tokens, correct across threads and processes.

Each lock is one row. Taking it is a single atomic statement (an UPDATE of an expired or released
row, or an INSERT that yields on conflict), so of any number of racers exactly one wins. Every
successful acquire increments `token`; a holder presents its token to renew, check and release, so a
holder whose lock expired and was taken over can no longer act as if it still ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from monday_snowflake.errors import AlreadyRunningError, MondaySnowflakeError, NotFoundError
from monday_snowflake.store.db import write_engine
from monday_snowflake.store.tables import IntegrationLockRow, utcnow

DEFAULT_LOCK_TTL_SECONDS = 30 * 60


class LockLostError(AlreadyRunningError):
    """The caller's lock token is no longer current: the lock expired, was released or was taken over."""

    def __init__(self, integration_id: str, token: int) -> None:
        MondaySnowflakeError.__init__(
            self,
            f"the run lock of integration {integration_id} was lost (token {token} is no longer current); "
            "another run may have started",
            integration_id=integration_id,
            token=token,
        )
        self.integration_id = integration_id
        self.token = token


@dataclass(frozen=True)
class LockInfo:
    """The state of one integration's lock."""

    integration_id: str
    owner: str | None
    token: int
    acquired_at: datetime
    expires_at: datetime | None

    def is_held(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at > now


def acquire_lock(
    engine: Engine, integration_id: str, owner: str, ttl_seconds: float, *, now: datetime | None = None
) -> int:
    """Take the lock of `integration_id` for `ttl_seconds`; return its fencing token.

    Raises AlreadyRunningError if another holder's lock is still live, NotFoundError if there is no
    such integration.
    """
    _check_ttl(ttl_seconds)
    now = now or utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    take_over = (
        update(IntegrationLockRow)
        .where(
            IntegrationLockRow.integration_id == integration_id,
            or_(IntegrationLockRow.expires_at.is_(None), IntegrationLockRow.expires_at <= now),
        )
        .values(owner=owner, token=IntegrationLockRow.token + 1, acquired_at=now, expires_at=expires)
        .returning(IntegrationLockRow.token)
    )
    engine = write_engine(engine)
    with engine.begin() as conn:
        token = conn.execute(take_over).scalar_one_or_none()
        if token is not None:
            return int(token)
        insert = (
            _insert(conn)
            .values(integration_id=integration_id, owner=owner, token=1, acquired_at=now, expires_at=expires)
            .on_conflict_do_nothing(index_elements=[IntegrationLockRow.integration_id])
            .returning(IntegrationLockRow.token)
        )
        try:
            token = conn.execute(insert).scalar_one_or_none()
        except IntegrityError:  # the foreign key: no such integration
            raise NotFoundError(
                f"integration '{integration_id}' not found", integration_id=integration_id
            ) from None
        if token is not None:
            return int(token)
    # Someone else inserted the row between our two statements; it may even have expired since.
    with engine.begin() as conn:
        token = conn.execute(take_over).scalar_one_or_none()
        if token is not None:
            return int(token)
        holder = _read(conn, integration_id)
    raise AlreadyRunningError(
        integration_id,
        owner=holder.owner if holder else None,
        expires_at=holder.expires_at.isoformat() if holder and holder.expires_at else None,
    )


def renew_lock(
    engine: Engine, integration_id: str, token: int, ttl_seconds: float, *, now: datetime | None = None
) -> None:
    """Extend a live lock to `now + ttl_seconds`. Raises LockLostError if `token` is not the live one."""
    _check_ttl(ttl_seconds)
    now = now or utcnow()
    statement = (
        update(IntegrationLockRow)
        .where(*_live(integration_id, token, now))
        .values(expires_at=now + timedelta(seconds=ttl_seconds))
    )
    with write_engine(engine).begin() as conn:
        if conn.execute(statement).rowcount != 1:
            raise LockLostError(integration_id, token)


def release_lock(engine: Engine, integration_id: str, token: int) -> bool:
    """Give the lock up. A stale token changes nothing (returns False): it must not free a newer run's lock.

    The row is kept, so the next holder's token is still higher than every earlier one.
    """
    statement = (
        update(IntegrationLockRow)
        .where(
            IntegrationLockRow.integration_id == integration_id,
            IntegrationLockRow.token == token,
            IntegrationLockRow.expires_at.is_not(None),
        )
        .values(owner=None, expires_at=None)
    )
    with write_engine(engine).begin() as conn:
        return bool(conn.execute(statement).rowcount == 1)


def check_lock(engine: Engine, integration_id: str, token: int, *, now: datetime | None = None) -> None:
    """Raise LockLostError unless `token` holds the live lock; call before committing a run's outcome."""
    now = now or utcnow()
    with engine.connect() as conn:
        found = conn.execute(
            select(IntegrationLockRow.token).where(*_live(integration_id, token, now))
        ).first()
    if found is None:
        raise LockLostError(integration_id, token)


def get_lock(engine: Engine, integration_id: str) -> LockInfo | None:
    """The lock row of an integration, live or not; None if it was never locked."""
    with engine.connect() as conn:
        return _read(conn, integration_id)


def _live(integration_id: str, token: int, now: datetime) -> tuple[Any, ...]:
    return (
        IntegrationLockRow.integration_id == integration_id,
        IntegrationLockRow.token == token,
        IntegrationLockRow.expires_at.is_not(None),
        IntegrationLockRow.expires_at > now,
    )


def _read(conn: Connection, integration_id: str) -> LockInfo | None:
    row = conn.execute(
        select(
            IntegrationLockRow.integration_id,
            IntegrationLockRow.owner,
            IntegrationLockRow.token,
            IntegrationLockRow.acquired_at,
            IntegrationLockRow.expires_at,
        ).where(IntegrationLockRow.integration_id == integration_id)
    ).first()
    return None if row is None else LockInfo(*row)


def _insert(conn: Connection) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING (both SQLite and PostgreSQL have it)."""
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(IntegrationLockRow)
    if name == "sqlite":
        return sqlite.insert(IntegrationLockRow)
    raise NotImplementedError(f"run locks are not implemented for {name}")


def _check_ttl(ttl_seconds: float) -> None:
    if ttl_seconds <= 0:
        raise ValueError(f"lock TTL must be positive, got {ttl_seconds}")


__all__ = [
    "DEFAULT_LOCK_TTL_SECONDS",
    "LockInfo",
    "LockLostError",
    "acquire_lock",
    "check_lock",
    "get_lock",
    "release_lock",
    "renew_lock",
]
